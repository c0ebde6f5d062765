"""Overall classification metrics with intervals, and calibration.

Point values come from scikit-learn; intervals are Wilson score intervals for proportions
(accuracy; statsmodels ``proportion_confint``) and percentile bootstrap intervals (seeded,
vectorised, see :mod:`analysis._bootstrap`) for balanced accuracy, F1, ROC AUC and the expected
calibration error. "Positive" is female (gender id 1) throughout.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from analysis._bootstrap import Resampled, bin_index, percentile_interval, resample_blocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricSpec:
    """One overall metric: its name, direction and interval, and how it is computed."""

    name: str  # column / key in every output
    label: str  # for people
    higher_is_better: bool
    interval: str  # how its interval is made: "wilson" or "bootstrap"
    # The value on the test bios: (y_true, y_pred, prob_female, calibration bins) -> float.
    point: Callable[[np.ndarray, np.ndarray, np.ndarray, int], float]
    # The same metric on each bootstrap resample of a block, from its additive sums.
    resampled: Callable[[Resampled], np.ndarray]


def _one_class(y: np.ndarray) -> bool:
    return len(np.unique(y)) < 2


def _f1_resampled(r: Resampled) -> np.ndarray:
    denominator = 2 * r.tp + r.fp + r.fn
    # scikit-learn's zero_division=0: F1 is 0 when there is nothing to score
    return np.where(denominator > 0, 2 * r.tp / np.maximum(denominator, 1), 0.0)


# Every overall metric, in report order: the one list that outputs, reports, the bootstrap and the
# dashboard use. Point values come from scikit-learn; bootstrap values from additive sums.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "accuracy",
        "accuracy",
        True,
        "wilson",
        point=lambda y, pred, prob, bins: float(accuracy_score(y, pred)),
        resampled=lambda r: r.correct / r.n,
    ),
    MetricSpec(
        "balanced_accuracy",
        "balanced accuracy",
        True,
        "bootstrap",
        point=lambda y, pred, prob, bins: (
            np.nan if _one_class(y) else float(balanced_accuracy_score(y, pred))
        ),
        resampled=lambda r: 0.5 * (r.tp / r.pos + r.tn / r.neg),
    ),
    MetricSpec(
        "f1",
        "F1 (female)",
        True,
        "bootstrap",
        point=lambda y, pred, prob, bins: float(f1_score(y, pred, zero_division=0)),
        resampled=_f1_resampled,
    ),
    MetricSpec(
        "roc_auc",
        "ROC AUC",
        True,
        "bootstrap",
        point=lambda y, pred, prob, bins: (
            np.nan if _one_class(y) else float(roc_auc_score(y, prob))
        ),
        resampled=lambda r: r.auc(),
    ),
    MetricSpec(
        "ece",
        "expected calibration error",
        False,
        "bootstrap",
        point=lambda y, pred, prob, bins: expected_calibration_error(
            y_true=y, prob=prob, bins=bins
        ),
        resampled=lambda r: np.abs(r.calibration_residuals).sum(axis=0) / r.n,
    ),
)


def bounded_interval(
    point: Any, low: Any, high: Any, *, lower: float = 0.0, upper: float = 1.0
) -> tuple[Any, Any]:
    """An interval clipped into ``[lower, upper]`` that holds its point estimate (vectorised).

    Interval formulas meet rounding at the edges: statsmodels' Wilson upper bound of 30 of 30 is
    ``1 - 1e-16``, below the rate of 1, and a percentile bootstrap interval need not hold the
    value on the observed bios (ECE is biased upward). A bound that crosses its point would draw
    an error bar of negative length and read as nonsense, so each bound is clipped into the
    metric's range and moved out to the point where it crosses it. NaN bounds stay NaN; a NaN
    point leaves the clipped bounds as they are.
    """
    point = np.asarray(point, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    # fmin / fmax ignore a NaN point; np.where keeps a NaN bound NaN
    low = np.where(np.isnan(low), np.nan, np.fmin(np.clip(low, lower, upper), point))
    high = np.where(np.isnan(high), np.nan, np.fmax(np.clip(high, lower, upper), point))
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def wilson_interval(*, successes: Any, n: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a proportion (vectorised over arrays); NaN where n is 0.

    Bounds lie in [0, 1] and hold the observed rate, also at 0 of n and n of n
    (:func:`bounded_interval`).
    """
    successes = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    safe_n = np.where(n > 0, n, 1.0)
    low, high = proportion_confint(successes, safe_n, alpha=1 - confidence, method="wilson")
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return bounded_interval(successes / safe_n, low, high)


def expected_calibration_error(*, y_true: Any, prob: Any, bins: int = 10) -> float:
    """ECE: the count-weighted mean |mean predicted P(female) - fraction female| over equal bins."""
    curve = reliability_curve(y_true=y_true, prob=prob, bins=bins)
    total = curve["count"].sum()
    if total == 0:
        return float("nan")
    gaps = (curve["mean_predicted"] - curve["fraction_female"]).abs()
    return float((gaps * curve["count"]).sum() / total)


def reliability_curve(*, y_true: Any, prob: Any, bins: int = 10) -> pd.DataFrame:
    """Reliability-curve points: one row per non-empty equal-width bin of P(female).

    Bins and edges are those of scikit-learn's ``calibration_curve(strategy="uniform")``; the
    frame adds each bin's count. Indexed by ``bin`` (0 .. bins-1).
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(prob, dtype=np.float64)
    ids = bin_index(p, bins)
    count = np.bincount(ids, minlength=bins)
    sum_prob = np.bincount(ids, weights=p, minlength=bins)
    sum_true = np.bincount(ids, weights=y, minlength=bins)
    filled = count > 0
    return pd.DataFrame(
        {
            "mean_predicted": sum_prob[filled] / count[filled],
            "fraction_female": sum_true[filled] / count[filled],
            "count": count[filled].astype(np.int64),
        },
        index=pd.Index(np.flatnonzero(filled), name="bin"),
    )


def _point_values(y: np.ndarray, pred: np.ndarray, prob: np.ndarray, bins: int) -> dict:
    if _one_class(y):
        log.warning("the labels hold one gender only: ROC AUC and balanced accuracy are undefined")
    return {spec.name: spec.point(y, pred, prob, bins) for spec in METRICS}


def bootstrap_metrics(
    y_true: np.ndarray,
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    resamples: int,
    seed: int,
    bins: int,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap distributions of every metric of :data:`METRICS` of every predictor.

    All predictors share the same resamples (:func:`analysis._bootstrap.resample_blocks`), so
    their differences are paired.

    Returns:
        ``{name: {metric: array of shape (resamples,)}}``; a metric undefined in a resample
        (e.g. AUC with one class drawn) is NaN there.
    """
    parts: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    blocks = resample_blocks(y_true, predictions, resamples=resamples, seed=seed, bins=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        for block in blocks:
            for name, sums in block.items():
                for spec in METRICS:
                    parts[name][spec.name].append(spec.resampled(sums))
    return {
        name: {metric: np.concatenate(values) for metric, values in metrics.items()}
        for name, metrics in parts.items()
    }


def overall_metrics_many(
    *,
    y_true: Any,
    predictions: dict[str, tuple[Any, Any]],
    seed: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    bins: int = 10,
) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Overall metrics of several predictors on the same bios, with shared bootstrap resamples.

    Args:
        y_true: true gender ids (0 male, 1 female).
        predictions: ``{predictor: (y_pred, prob_female)}`` aligned with ``y_true``.
        seed: bootstrap seed.
        resamples: bootstrap resamples.
        confidence: interval level.
        bins: equal-width bins of the ECE.

    Returns:
        A tidy frame indexed by (predictor, metric) with value, ci_low, ci_high, ci_method, n; and
        the bootstrap distributions ``{predictor: {metric: array}}`` (paired across predictors).
    """
    y = np.asarray(y_true)
    arrays = {
        name: (np.asarray(pred), np.asarray(prob, dtype=np.float64))
        for name, (pred, prob) in predictions.items()
    }
    draws = bootstrap_metrics(y, arrays, resamples=resamples, seed=seed, bins=bins)
    rows = []
    for name, (pred, prob) in arrays.items():
        values = _point_values(y, pred, prob, bins)
        for spec in METRICS:
            metric = spec.name
            if spec.interval == "wilson":
                low, high = wilson_interval(
                    successes=int((pred == y).sum()), n=len(y), confidence=confidence
                )
                method = "wilson"
            else:
                low, high = bounded_interval(
                    values[metric], *percentile_interval(draws[name][metric], confidence)
                )
                method = "bootstrap"
            rows.append((name, metric, values[metric], low, high, method, len(y)))
    frame = pd.DataFrame(
        rows, columns=["predictor", "metric", "value", "ci_low", "ci_high", "ci_method", "n"]
    ).set_index(["predictor", "metric"])
    return frame, draws


def overall_metrics(
    *,
    y_true: Any,
    y_pred: Any,
    prob: Any,
    seed: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    bins: int = 10,
) -> pd.DataFrame:
    """Accuracy, balanced accuracy, F1, ROC AUC and ECE of one predictor, with intervals.

    Returns a frame indexed by metric with columns value, ci_low, ci_high, ci_method, n.
    """
    frame, _ = overall_metrics_many(
        y_true=y_true,
        predictions={"_": (y_pred, prob)},
        seed=seed,
        resamples=resamples,
        confidence=confidence,
        bins=bins,
    )
    return frame.loc["_"]
