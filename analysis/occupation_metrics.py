"""Overall metrics of the occupation task, with paired bootstrap intervals.

In the occupation task the label is the profession (28 classes on Bias in Bios) and gender
(0 male, 1 female) is the protected attribute. The metrics, in report order
(:data:`OCCUPATION_METRICS`):

- ``accuracy``: the share of bios whose profession is predicted; Wilson score interval.
- ``macro_f1``: the unweighted mean over professions of the per-profession F1 (scikit-learn
  ``f1_score(average="macro")`` with ``labels`` = the professions present in the true labels).
- ``ece``: the top-label calibration error: equal-width bins of the predicted class's
  probability, the count-weighted mean over bins of |mean probability - accuracy|.
- ``gap_rms``: GAP^RMS (Romanov et al. 2019; Ravfogel et al. 2020; Belrose et al. 2023), the
  root mean square over professions of the TPR gap, TPR(women) - TPR(men), where the TPR of a
  gender in a profession is the share of its bios of that profession classified as that
  profession. Over the professions with test bios of both genders.

How: the intervals of macro-F1, ECE and GAP^RMS are percentile bootstrap intervals (GAP^RMS's
re-centred on the observed value: :data:`RECENTRED`). A resample
of the n bios is a count vector (how often each bio was drawn;
:func:`analysis._bootstrap.resample_counts`, the resamples every bootstrap of the analysis
uses), so every sum a metric needs (per class: true positives, support, predictions; per bin:
the calibration residual; per profession x gender: bios drawn and bios right) is one sparse
one-hot matrix times the block's count matrix. All predictors share the same resamples, so
differences between them are paired. A resample recomputes each metric over what it drew:
macro-F1 over the professions it drew, GAP^RMS over the professions it drew both a woman and a
man of.

Example::

    from analysis.occupation_metrics import occupation_overall
    table = occupation_overall(
        y_true=test.profession_id,
        predictions={"lora": (pred, prob_of_pred)},
        gender=test.gender_id,
        seed=params.seeds.bootstrap,
    )
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import accuracy_score, f1_score

from analysis._bootstrap import bin_index, percentile_interval, recentre, resample_counts
from analysis.fairness import _gender_ids, tpr_gap_by_profession
from analysis.metrics import bounded_interval, wilson_interval

# GAP^RMS squares noisy gaps, so a resample's GAP^RMS sits above the value on the bios it
# resamples (by the gaps' sampling variance): a percentile interval of it can miss its own point
# estimate altogether (a predictor with no gap at all gets a GAP^RMS well above 0 in every
# resample). Its resampled values are re-centred on the observed value first (the bootstrap's
# estimate of the bias, mean of the resamples minus the value, is taken off each): the interval
# then has the resamples' spread around the value actually observed.
RECENTRED = "recentred bootstrap"


def gap_rms(*, gap: Any) -> float:
    """GAP^RMS: ``sqrt(mean(gap^2))`` over the non-NaN gaps; NaN when there is none.

    Args:
        gap: per-profession TPR gaps (women - men), e.g. the ``gap`` column of
            :func:`analysis.fairness.tpr_gap_by_profession`; NaN where a gender has no bio.
    """
    values = np.asarray(gap, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean(values**2)))


class _Sums:
    """One predictor's weighted sums over a block of resamples: one column per resample."""

    def __init__(self, sums: np.ndarray, n: int, n_classes: int, bins: int):
        c = n_classes
        self.n = n
        self.correct = sums[0]
        self.support = sums[1 : 1 + c]  # (classes, rows): bios of each true class
        self.predicted = sums[1 + c : 1 + 2 * c]  # bios predicted as each class
        self.true_positives = sums[1 + 2 * c : 1 + 3 * c]
        self.residuals = sums[1 + 3 * c : 1 + 3 * c + bins]  # per bin: sum(confidence - correct)
        cells = 1 + 3 * c + bins
        # per class x gender (female, male): bios drawn and bios right
        self.drawn = sums[cells : cells + 2 * c].reshape(c, 2, -1)
        self.right = sums[cells + 2 * c : cells + 4 * c].reshape(c, 2, -1)


def _macro_f1_resampled(s: _Sums) -> np.ndarray:
    present = s.support > 0  # the classes drawn as a true label in the resample
    denominator = s.support + s.predicted  # 2 tp + fp + fn, > 0 where present
    f1 = np.where(present, 2 * s.true_positives / np.maximum(denominator, 1), 0.0)
    return f1.sum(axis=0) / present.sum(axis=0)


def _gap_rms_resampled(s: _Sums) -> np.ndarray:
    tpr = s.right / s.drawn  # NaN where a gender of a class was not drawn
    gap = tpr[:, 0] - tpr[:, 1]  # (classes, rows): women - men
    both = np.isfinite(gap)  # the classes drawn with both genders
    squares = np.where(both, gap, 0.0) ** 2
    return np.sqrt(squares.sum(axis=0) / both.sum(axis=0))


@dataclass(frozen=True)
class _Observed:
    """One predictor on the test bios, checked: what the point values read."""

    y_true: np.ndarray
    y_pred: np.ndarray
    confidence: np.ndarray  # the predicted class's probability
    gender: np.ndarray  # 0 male, 1 female
    bins: int

    @property
    def correct(self) -> np.ndarray:
        return self.y_pred == self.y_true


def _top_label_ece(obs: _Observed) -> float:
    """Count-weighted mean over equal-width confidence bins of |mean confidence - accuracy|."""
    ids = bin_index(obs.confidence, obs.bins)
    total = 0.0
    for b in np.unique(ids):
        members = ids == b
        gap = obs.confidence[members].mean() - obs.correct[members].mean()
        total += members.sum() * abs(gap)
    return float(total / len(ids))


def _gap_rms_point(obs: _Observed) -> float:
    gaps = tpr_gap_by_profession(
        y_true=obs.y_true, y_pred=obs.y_pred, profession=obs.y_true, gender=obs.gender
    )
    return gap_rms(gap=gaps["gap"])


@dataclass(frozen=True)
class OccupationMetric:
    """One overall metric of the occupation task: every fact about it, declared once."""

    name: str  # key in every output
    label: str  # for people
    higher_is_better: bool
    interval: str  # how its interval is made: "wilson" or "bootstrap"
    # The value on the test bios.
    point: Callable[[_Observed], float]
    # The same metric on each bootstrap resample of a block, from the predictor's weighted sums.
    resampled: Callable[[_Sums], np.ndarray]


# Every overall metric of the occupation task, in report order. Point values come from
# scikit-learn (accuracy, macro-F1), the bins (ECE) and tpr_gap_by_profession (GAP^RMS).
OCCUPATION_METRICS: tuple[OccupationMetric, ...] = (
    OccupationMetric(
        "accuracy",
        "accuracy",
        True,
        "wilson",
        point=lambda obs: float(accuracy_score(obs.y_true, obs.y_pred)),
        resampled=lambda s: s.correct / s.n,
    ),
    OccupationMetric(
        "macro_f1",
        "macro-F1",
        True,
        "bootstrap",
        # labels: the classes present in y_true, so a class only ever predicted adds no zero;
        # every such class has support, so zero_division never applies (it silences a warning)
        point=lambda obs: float(
            f1_score(
                obs.y_true,
                obs.y_pred,
                labels=np.unique(obs.y_true),
                average="macro",
                zero_division=0,
            )
        ),
        resampled=_macro_f1_resampled,
    ),
    OccupationMetric(
        "ece",
        "top-label calibration error",
        False,
        "bootstrap",
        point=_top_label_ece,
        resampled=lambda s: np.abs(s.residuals).sum(axis=0) / s.n,
    ),
    OccupationMetric(
        "gap_rms",
        "GAP^RMS (TPR gap, root mean square)",
        False,
        RECENTRED,
        point=_gap_rms_point,
        resampled=_gap_rms_resampled,
    ),
)


def _observed(
    y_true: Any, predictions: dict[str, tuple[Any, Any]], gender: Any, bins: int
) -> dict[str, _Observed]:
    """Every predictor's arrays, checked against the bios."""
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true has shape {y.shape}; expected one label per bio, at least one")
    if not predictions:
        raise ValueError("predictions is empty; expected {predictor: (y_pred, confidence)}")
    if bins < 1:
        raise ValueError(f"bins is {bins}; expected at least 1")
    ids = _gender_ids(gender, len(y))
    observed = {}
    for name, (pred, confidence) in predictions.items():
        pred = np.asarray(pred)
        prob = np.asarray(confidence, dtype=np.float64)
        for what, values in (("y_pred", pred), ("confidence", prob)):
            if values.shape != y.shape:
                raise ValueError(
                    f"{name}: {what} has shape {values.shape}; expected {y.shape}, one per bio"
                )
        outside = ~((prob >= 0) & (prob <= 1))  # NaN too
        if outside.any():
            raise ValueError(
                f"{name}: confidence holds {prob[outside][0]!r}; expected the predicted class's "
                "probability, in [0, 1]"
            )
        observed[name] = _Observed(y, pred, prob, ids, bins)
    return observed


def _features(obs: _Observed, classes: np.ndarray) -> sparse.csr_matrix:
    """The rows whose weighted sums :class:`_Sums` reads, as a sparse ``(rows, n)`` matrix."""
    n, c, bins = len(obs.y_true), len(classes), obs.bins
    bio = np.arange(n)
    correct = obs.correct.astype(np.float64)
    true_class = np.searchsorted(classes, obs.y_true)
    pred_class = np.searchsorted(classes, obs.y_pred)
    cell = 2 * true_class + (1 - obs.gender)  # per class: female first, then male
    cells = 1 + 3 * c + bins
    ones = np.ones(n)
    rows, data = zip(
        *(
            (np.zeros(n, dtype=np.int64), correct),
            (1 + true_class, ones),
            (1 + c + pred_class, ones),
            (1 + 2 * c + true_class, correct),
            (1 + 3 * c + bin_index(obs.confidence, bins), obs.confidence - correct),
            (cells + cell, ones),
            (cells + 2 * c + cell, correct),
        ),
        strict=True,
    )
    return sparse.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.tile(bio, len(rows)))),
        shape=(cells + 4 * c, n),
    )


def _bootstrap(
    observed: dict[str, _Observed], resamples: int, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    first = next(iter(observed.values()))
    n = len(first.y_true)
    classes = np.unique(np.concatenate([first.y_true, *(o.y_pred for o in observed.values())]))
    features = sparse.vstack([_features(o, classes) for o in observed.values()], format="csr")
    width = features.shape[0] // len(observed)
    parts: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    # One block of resamples at a time: memory is the (n, block) count matrix, not (n, B).
    for counts in resample_counts(n, resamples, seed):
        sums = features @ counts.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, name in enumerate(observed):
                block = _Sums(sums[k * width : (k + 1) * width], n, len(classes), first.bins)
                for spec in OCCUPATION_METRICS:
                    parts[name][spec.name].append(spec.resampled(block))
    return {
        name: {metric: np.concatenate(values) for metric, values in metrics.items()}
        for name, metrics in parts.items()
    }


def bootstrap_occupation_metrics(
    *,
    y_true: Any,
    predictions: dict[str, tuple[Any, Any]],
    gender: Any,
    resamples: int,
    seed: int,
    bins: int = 10,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap distributions of every metric of :data:`OCCUPATION_METRICS` of every predictor.

    All predictors share the same resamples (:func:`analysis._bootstrap.resample_counts` with
    ``seed``), so their differences are paired.

    Args:
        y_true: true profession ids, one per bio.
        predictions: ``{predictor: (y_pred, confidence)}``: predicted profession ids and the
            probability the predictor gave its predicted profession, aligned with ``y_true``.
        gender: gender ids (0 male, 1 female), aligned with ``y_true``.
        resamples: bootstrap resamples.
        seed: bootstrap seed (``seeds.bootstrap``).
        bins: equal-width confidence bins of the ECE.

    Returns:
        ``{predictor: {metric: array of shape (resamples,)}}``; GAP^RMS is NaN in a resample that
        draws no profession with both genders.
    """
    observed = _observed(y_true, predictions, gender, bins)
    return _bootstrap(observed, resamples, seed)


def occupation_overall(
    *,
    y_true: Any,
    predictions: dict[str, tuple[Any, Any]],
    gender: Any,
    seed: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    bins: int = 10,
) -> pd.DataFrame:
    """Accuracy, macro-F1, top-label ECE and GAP^RMS of several predictors, with intervals.

    Args:
        y_true: true profession ids, one per bio.
        predictions: ``{predictor: (y_pred, confidence)}``: predicted profession ids and the
            probability the predictor gave its predicted profession, aligned with ``y_true``.
        gender: gender ids (0 male, 1 female), aligned with ``y_true``.
        seed: bootstrap seed (``seeds.bootstrap``).
        resamples: bootstrap resamples, shared by all predictors (paired).
        confidence: interval level.
        bins: equal-width confidence bins of the ECE.

    Returns:
        A tidy frame indexed by (predictor, metric), metrics in :data:`OCCUPATION_METRICS`
        order, with value, ci_low, ci_high, ci_method ("wilson" or "bootstrap") and n (bios).
        Every interval lies in [0, 1] and holds its value.
    """
    observed = _observed(y_true, predictions, gender, bins)
    draws = _bootstrap(observed, resamples, seed)
    rows = []
    for name, obs in observed.items():
        n = len(obs.y_true)
        for spec in OCCUPATION_METRICS:
            value = spec.point(obs)
            if spec.interval == "wilson":
                low, high = wilson_interval(
                    successes=int(obs.correct.sum()), n=n, confidence=confidence
                )
            else:
                values = draws[name][spec.name]
                if spec.interval == RECENTRED:
                    values = recentre(values, value)
                low, high = bounded_interval(value, *percentile_interval(values, confidence))
            rows.append((name, spec.name, value, low, high, spec.interval, n))
    return pd.DataFrame(
        rows, columns=["predictor", "metric", "value", "ci_low", "ci_high", "ci_method", "n"]
    ).set_index(["predictor", "metric"])
