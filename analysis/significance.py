"""Paired comparison of predictors on the same bios: exact McNemar, families, exact intervals.

Two predictors scored on the same bios differ only on the *discordant* bios (one right, the
other wrong). McNemar's exact test asks whether those split 50/50 (statsmodels ``mcnemar`` with
``exact=True``: twice the smaller binomial tail of the discordant counts).

The interval of the accuracy difference is the same test inverted, so that an interval and
the verdict printed beside it cannot disagree: given ``m`` discordant bios of ``n``, of which
``a_only`` favour predictor a, the difference is ``acc_b - acc_a = (m / n) (1 - 2 theta)``
with ``theta`` the share of discordant bios a gets right. The Clopper-Pearson interval of
``theta`` (scipy ``binomtest(...).proportion_ci(method="exact")``) excludes 1/2 exactly when the
exact McNemar p-value is below its level, so the mapped interval excludes 0 exactly then (an
exact interval conditional on ``m``).

Families (``compare_predictors``):

- ``primary``: the comparison the study exists to make (``analyze.primary``, the zero-shot base
  against LoRA by default), tested alone at level alpha = 1 - confidence; interval at the
  stated confidence. When its trained side has several training seeds, the primary family is
  one pair per seed, Holm-adjusted across the seeds (with one seed Holm is the raw p-value);
  pairs of two runs of the same procedure (two seeds) are not compared.
- ``secondary``: every other pair of predictors that are not untrained references, Holm-adjusted
  within the family. Holm rejects the R smallest p-values; each interval is at level
  1 - alpha / (k - R) (k pairs; 1 - alpha when all are rejected), the level at which Holm's
  procedure stopped, so a pair's interval excludes 0 exactly when Holm rejects it. For the
  pairs Holm does not reject these are Bonferroni intervals over the remaining ones, the
  informative part of Holm-compatible simultaneous intervals (Strassburger & Bretz, 2008).
- ``reference``: a pair involving an untrained reference (``random_head``): shown with its raw
  p-value and a plain interval, never tested, in no family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from analysis.metrics import bounded_interval
from analysis.verdicts import pair_verdict
from pipeline.lib.contract import TABLES, PairFamily

# The columns of pairs.csv, declared once with every other analysis table's.
PAIR_COLUMNS = TABLES["pairs"].columns
# Columns computed after the tests (the family's adjustment, the intervals, the verdicts).
_DERIVED = {"diff_ci_low", "diff_ci_high", "ci_level", "p_adjusted", "significant", "verdict"}


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted, times m, m-1, ..., running maximum, at most 1.

    The same numbers as statsmodels' ``multipletests(method="holm")`` (tests check it), which
    forces a full garbage collection on every call: 50 ms each in a process holding torch.
    """
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    adjusted = np.maximum.accumulate(p_values[order] * np.arange(m, 0, -1))
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def adjust_pvalues(*, p_values: Any, method: str) -> np.ndarray:
    """Holm (``"holm"``) or Benjamini-Hochberg (``"bh"``) adjusted p-values; NaN stays NaN."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        if method == "holm":
            out[finite] = holm(p[finite])
        else:
            out[finite] = multipletests(p[finite], method={"bh": "fdr_bh"}[method])[1]
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


def paired_difference_interval(
    *, a_only: int, b_only: int, n: int, confidence: float
) -> tuple[float, float]:
    """Exact interval of ``acc_b - acc_a`` given the discordant counts (the McNemar inversion).

    Clopper-Pearson interval of ``theta = a_only / m`` mapped through
    ``(m / n) (1 - 2 theta)``; ``(0, 0)`` when no bio is discordant.
    """
    m = a_only + b_only
    if m == 0:
        return 0.0, 0.0
    ci = binomtest(a_only, m).proportion_ci(confidence_level=confidence, method="exact")
    scale = m / n
    return bounded_interval(
        (b_only - a_only) / n,
        scale * (1 - 2 * ci.high),
        scale * (1 - 2 * ci.low),
        lower=-1.0,
        upper=1.0,
    )


def holm_level(p_values: Sequence[float], alpha: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Holm-adjusted p-values, which are rejected, and the level alpha / (k - R) it stopped at."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p, p.astype(bool), alpha
    adjusted = adjust_pvalues(p_values=p, method="holm")
    rejected = adjusted < alpha
    remaining = p.size - int(rejected.sum())
    return adjusted, rejected, alpha / remaining if remaining else alpha


def _pairs(
    names: Sequence[str], primary: Sequence[tuple[str, str]], same: Mapping[str, str]
) -> list[tuple[str, str]]:
    keys = {frozenset(p) for p in primary}
    rest = [
        p
        for p in combinations(names, 2)
        if frozenset(p) not in keys and not (p[0] in same and same[p[0]] == same.get(p[1]))
    ]
    return [*primary, *rest]


def compare_predictors(
    *,
    y_true: Any,
    predictions: pd.DataFrame,
    confidence: float = 0.95,
    primary: tuple[str, str] | Sequence[tuple[str, str]] | None = None,
    references: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    procedures: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every pair of predictors (columns of ``predictions``) on the same bios, by family.

    Args:
        y_true: true gender ids.
        predictions: one column of predicted gender ids per predictor, rows aligned with y_true.
        confidence: interval level; the tests' level is alpha = 1 - confidence.
        primary: ``(a, b)``, the primary comparison (difference b - a), or a list of such pairs
            (one per training seed: Holm across them), or None.
        references: untrained references: their pairs are shown, never tested.
        labels: display labels for the verdicts.
        procedures: ``{run: procedure}`` for the runs of a seeded predictor; two runs of the
            same procedure are not compared.

    Returns:
        One row per pair (the primary first), columns :data:`PAIR_COLUMNS`: McNemar counts and
        p-value, accuracies, ``acc_diff`` (= acc_b - acc_a) with its exact interval at
        ``ci_level``, the family, ``p_adjusted`` (Holm within the secondary family, the raw p
        for the primary, NaN for references), ``significant`` and the verdict sentence.
    """
    y = np.asarray(y_true)
    alpha = 1 - confidence
    names = list(predictions.columns)
    if primary is None:
        primary_pairs: list[tuple[str, str]] = []
    elif len(primary) == 2 and all(isinstance(p, str) for p in primary):
        primary_pairs = [(primary[0], primary[1])]
    else:
        primary_pairs = [(a, b) for a, b in primary]
    for pair in primary_pairs:
        if not set(pair) <= set(names):
            raise ValueError(f"primary comparison {pair} needs predictions of both")
    rows = []
    for a, b in _pairs(names, primary_pairs, procedures or {}):
        test = mcnemar_test(y_true=y, pred_a=predictions[a], pred_b=predictions[b]).to_dict()
        acc_a = float((predictions[a].to_numpy() == y).mean())
        acc_b = float((predictions[b].to_numpy() == y).mean())
        if a in references or b in references:
            family = PairFamily.REFERENCE.value
        elif (a, b) in primary_pairs:
            family = PairFamily.PRIMARY.value
        else:
            family = PairFamily.SECONDARY.value
        rows.append(
            {"predictor_a": a, "predictor_b": b, "family": family, **test}
            | {"acc_a": acc_a, "acc_b": acc_b, "acc_diff": acc_b - acc_a}
        )
    frame = pd.DataFrame(rows, columns=[c for c in PAIR_COLUMNS if c not in _DERIVED])
    for column in ("n", "both_correct", "a_only_correct", "b_only_correct", "both_wrong"):
        frame[column] = frame[column].astype(np.int64)
    frame["p_value"] = frame["p_value"].astype(np.float64)
    frame["ci_level"] = confidence
    frame["p_adjusted"] = np.nan
    frame["significant"] = pd.Series([None] * len(frame), dtype=object)
    for family in (
        PairFamily.PRIMARY,
        PairFamily.SECONDARY,
    ):  # Holm within each (one primary pair: its raw p)
        members = frame["family"] == family
        adjusted, rejected, level = holm_level(frame.loc[members, "p_value"], alpha)
        frame.loc[members, "p_adjusted"] = adjusted
        frame.loc[members, "significant"] = rejected
        frame.loc[members, "ci_level"] = 1 - level
    bounds = [
        paired_difference_interval(
            a_only=row.a_only_correct, b_only=row.b_only_correct, n=row.n, confidence=row.ci_level
        )
        for row in frame.itertuples()
    ]
    frame["diff_ci_low"] = [low for low, _ in bounds]
    frame["diff_ci_high"] = [high for _, high in bounds]
    frame["verdict"] = [
        pair_verdict(row, labels or {}, alpha) for row in frame.to_dict(orient="records")
    ]
    return frame[list(PAIR_COLUMNS)]
