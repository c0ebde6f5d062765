"""Paired comparison of predictors on the same bios: exact McNemar, paired bootstrap, Holm.

Two predictors scored on the same bios differ only on the *discordant* bios (one right, the
other wrong); McNemar's exact test asks whether those split 50/50 (statsmodels ``mcnemar`` with
``exact=True``: a two-sided binomial test on the discordant counts). The interval of the
accuracy difference is a percentile bootstrap over the same resamples for both predictors.
p-values across all pairs are Holm-adjusted (statsmodels ``multipletests``).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from analysis._bootstrap import bootstrap_means, percentile_interval


def adjust_pvalues(*, p_values: Any, method: str) -> np.ndarray:
    """Holm (``"holm"``) or Benjamini-Hochberg (``"bh"``) adjusted p-values; NaN stays NaN."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        name = {"holm": "holm", "bh": "fdr_bh"}[method]
        out[finite] = multipletests(p[finite], method=name)[1]
    return out


def mcnemar_test(*, y_true: Any, pred_a: Any, pred_b: Any) -> pd.Series:
    """Exact McNemar test of two predictors on the same bios.

    Returns a Series: n, both_correct, a_only_correct, b_only_correct, both_wrong, p_value. With
    no discordant bio the two are right on exactly the same bios: p_value is 1.
    """
    y = np.asarray(y_true)
    right_a = np.asarray(pred_a) == y
    right_b = np.asarray(pred_b) == y
    both = int((right_a & right_b).sum())
    a_only = int((right_a & ~right_b).sum())
    b_only = int((~right_a & right_b).sum())
    neither = int((~right_a & ~right_b).sum())
    if a_only + b_only == 0:
        p_value = 1.0
    else:
        p_value = float(mcnemar([[both, a_only], [b_only, neither]], exact=True).pvalue)
    return pd.Series(
        {
            "n": len(y),
            "both_correct": both,
            "a_only_correct": a_only,
            "b_only_correct": b_only,
            "both_wrong": neither,
            "p_value": p_value,
        },
        dtype=object,
    )


def _format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def verdict(row: pd.Series, confidence: float) -> str:
    """A plain-English sentence for one compared pair (uses the Holm-adjusted p-value)."""
    a, b = row["predictor_a"], row["predictor_b"]
    if row["a_only_correct"] + row["b_only_correct"] == 0:
        return f"{a} and {b} are right and wrong on exactly the same bios: nothing to test."
    points = 100 * row["acc_diff"]
    low, high = 100 * row["diff_ci_low"], 100 * row["diff_ci_high"]
    interval = f"{low:.2f} to {high:.2f} points, {confidence:.0%} CI"
    stats = f"exact McNemar p {_format_p(row['p_value'])}, Holm p {_format_p(row['p_holm'])}"
    if row["p_holm"] < 1 - confidence:
        better, worse = (b, a) if points > 0 else (a, b)
        if points < 0:  # the interval of (a - b), so that it brackets the gap stated
            interval = f"{-high:.2f} to {-low:.2f} points, {confidence:.0%} CI"
        return (
            f"{better} is significantly more accurate than {worse}: by {abs(points):.2f} "
            f"percentage points ({interval}; {stats})."
        )
    return (
        f"No significant difference in accuracy between {a} and {b}: {b} minus {a} is "
        f"{points:+.2f} points ({interval}; {stats})."
    )


def compare_predictors(
    *,
    y_true: Any,
    predictions: pd.DataFrame,
    seed: int,
    resamples: int = 1000,
    confidence: float = 0.95,
    accuracy_draws: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Every unordered pair of predictors (columns of ``predictions``) on the same bios.

    Args:
        y_true: true gender ids.
        predictions: one column of predicted gender ids per predictor, rows aligned with y_true.
        seed: bootstrap seed (ignored when ``accuracy_draws`` is given).
        resamples: bootstrap resamples.
        confidence: interval level; also sets the verdicts' significance level (1 - confidence).
        accuracy_draws: per-predictor bootstrap accuracies on shared resamples (from
            :func:`analysis.metrics.overall_metrics_many`), to reuse instead of resampling again.

    Returns:
        One row per pair, indexed by (predictor_a, predictor_b), with the McNemar counts and
        p-value, accuracies, acc_diff (= acc_b - acc_a) with its paired bootstrap interval, the
        Holm-adjusted p-value and a verdict sentence.
    """
    y = np.asarray(y_true)
    names = list(predictions.columns)
    if accuracy_draws is None:
        correct = np.vstack([(predictions[c].to_numpy() == y) for c in names])
        stacked = bootstrap_means(correct, resamples=resamples, seed=seed)
        accuracy_draws = {name: stacked[i] for i, name in enumerate(names)}
    rows = []
    for a, b in combinations(names, 2):
        test = mcnemar_test(y_true=y, pred_a=predictions[a], pred_b=predictions[b])
        acc_a = float((predictions[a].to_numpy() == y).mean())
        acc_b = float((predictions[b].to_numpy() == y).mean())
        low, high = percentile_interval(accuracy_draws[b] - accuracy_draws[a], confidence)
        rows.append(
            {
                "predictor_a": a,
                "predictor_b": b,
                **test.to_dict(),
                "acc_a": acc_a,
                "acc_b": acc_b,
                "acc_diff": acc_b - acc_a,
                "diff_ci_low": low,
                "diff_ci_high": high,
            }
        )
    columns = [
        "predictor_a",
        "predictor_b",
        "n",
        "both_correct",
        "a_only_correct",
        "b_only_correct",
        "both_wrong",
        "p_value",
        "acc_a",
        "acc_b",
        "acc_diff",
        "diff_ci_low",
        "diff_ci_high",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("n", "both_correct", "a_only_correct", "b_only_correct", "both_wrong"):
        frame[column] = frame[column].astype(np.int64)
    frame["p_value"] = frame["p_value"].astype(np.float64)
    frame["p_holm"] = adjust_pvalues(p_values=frame["p_value"], method="holm")
    frame["verdict"] = [verdict(row, confidence) for _, row in frame.iterrows()]
    return frame.set_index(["predictor_a", "predictor_b"])
