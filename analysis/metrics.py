"""Overall classification metrics with intervals, and calibration.

Point values come from scikit-learn; intervals are Wilson score intervals for proportions
(accuracy; statsmodels ``proportion_confint``) and percentile bootstrap intervals (seeded,
vectorised, see :mod:`analysis._bootstrap`) for balanced accuracy, F1, ROC AUC and the expected
calibration error. "Positive" is female (gender id 1) throughout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from analysis._bootstrap import bin_index, bootstrap_metrics, percentile_interval

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricSpec:
    """One overall metric: how reports name it and which way is better."""

    name: str  # column / key in every output
    label: str  # for people
    higher_is_better: bool
    interval: str  # how its interval is made: "wilson" or "bootstrap"


# Every overall metric, in report order: the one list that outputs, reports and the dashboard use.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", "accuracy", True, "wilson"),
    MetricSpec("balanced_accuracy", "balanced accuracy", True, "bootstrap"),
    MetricSpec("f1", "F1 (female)", True, "bootstrap"),
    MetricSpec("roc_auc", "ROC AUC", True, "bootstrap"),
    MetricSpec("ece", "expected calibration error", False, "bootstrap"),
)


def wilson_interval(*, successes: Any, n: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a proportion (vectorised over arrays); NaN where n is 0."""
    successes = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    safe_n = np.where(n > 0, n, 1.0)
    low, high = proportion_confint(successes, safe_n, alpha=1 - confidence, method="wilson")
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


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
    one_class = len(np.unique(y)) < 2
    if one_class:
        log.warning("the labels hold one gender only: ROC AUC and balanced accuracy are undefined")
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": np.nan if one_class else float(balanced_accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": np.nan if one_class else float(roc_auc_score(y, prob)),
        "ece": expected_calibration_error(y_true=y, prob=prob, bins=bins),
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
                low, high = percentile_interval(draws[name][metric], confidence)
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
