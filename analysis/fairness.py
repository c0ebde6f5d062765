"""Per-profession fairness: error rates per profession x gender, TPR gaps, proxy bias.

- The true-positive rate of a gender in a profession is the share of that gender's bios the
  model got right. In the gender task (the label IS the gender) that is the share predicted as
  that gender (for women the TPR of "female", for men that of "male"); in the occupation task
  (the label is the profession, gender the protected attribute) it is the share of the
  profession's women (men) classified as that profession (Romanov et al. 2019).
- The gap is ``tpr_female - tpr_male``. Its interval is Newcombe's hybrid score interval for a
  difference of independent proportions (statsmodels ``confint_proportions_2indep``, method
  ``newcomb``), built from two Wilson intervals, so it stays sensible at rates near 0 or 1.
- The test of the gender difference in each profession is Fisher's exact test on the 2x2 table
  (gender x correct/wrong; scipy ``fisher_exact``, two-sided), exact at any cell size. p-values
  are adjusted across professions with Holm (family-wise) and Benjamini-Hochberg (false
  discovery rate).
- Evidence of a gap: the bound of its interval nearest zero (0 when the interval spans 0), the
  smallest gap the data support; reports rank professions by it.
- Proxy bias: do the gaps follow the profession's share of women (in the TRAIN split)?
  Pearson's r and Spearman's rho with p-values (scipy), and the least-squares slope of gap on
  share (scipy ``linregress``), over the professions where both genders have test bios. The
  direction is read from the sign: with gap = TPR(women) - TPR(men), leaning on the profession
  as a proxy for gender gives a POSITIVE slope (stereotype-consistent); a significant negative
  slope is counter-stereotypical; otherwise there is no evidence either way.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from scipy.stats import fisher_exact, linregress, pearsonr, spearmanr
from statsmodels.stats.proportion import confint_proportions_2indep

from analysis.metrics import bounded_interval, wilson_interval
from analysis.significance import adjust_pvalues
from analysis.verdicts import (
    MIN_PROXY_PROFESSIONS,
    gap_evidence,
    proxy_direction,
    proxy_verdict,
)

log = logging.getLogger(__name__)


def _errors(y_true: Any, y_pred: Any) -> int:
    return int((np.asarray(y_true) != np.asarray(y_pred)).sum())


def _correct(y_true: Any, y_pred: Any) -> int:
    return int((np.asarray(y_true) == np.asarray(y_pred)).sum())


def _gender_ids(gender: Any, n: int) -> np.ndarray:
    """Gender ids (0 male, 1 female) as int64, checked against the number of bios."""
    ids = np.asarray(gender)
    if ids.shape != (n,):
        raise ValueError(f"gender has shape {ids.shape}; expected one id per bio, shape ({n},)")
    if ids.dtype == bool:
        return ids.astype(np.int64)
    bad = ~np.isin(ids, [0, 1])
    if bad.any():
        raise ValueError(
            f"gender holds {ids[bad][0]!r}; expected gender ids 0 (male) and 1 (female)"
        )
    return ids.astype(np.int64)


def _as_frame(sensitive_features: Any) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.DataFrame):
        return sensitive_features.reset_index(drop=True)
    series = pd.Series(sensitive_features).reset_index(drop=True)
    return series.to_frame(series.name or "group")


def group_error_rates(
    *,
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> pd.DataFrame:
    """Count, errors and error rate (Wilson interval) of every group.

    Args:
        y_true: true labels.
        y_pred: predicted labels.
        sensitive_features: one column (Series/array) or several (DataFrame) defining the groups,
            e.g. profession and gender; rows aligned with ``y_true``.
        confidence: interval level.
        min_group_size: groups with fewer bios are flagged ``small``.

    Returns:
        A frame indexed by the group columns with n, errors, error_rate, error_ci_low,
        error_ci_high, tpr (= 1 - error_rate: within one gender the share predicted as that
        gender) and small. Only groups with at least one bio appear.
    """
    groups = _as_frame(sensitive_features)
    wrong = np.asarray(y_pred) != np.asarray(y_true)
    if len(wrong) != len(groups):
        raise ValueError(f"{len(wrong)} predictions but {len(groups)} rows of sensitive features")
    # fairlearn's MetricFrame: the one grouping path every per-group metric goes through.
    frame = MetricFrame(
        metrics={"n": count, "errors": _errors},
        y_true=np.asarray(y_true),
        y_pred=np.asarray(y_pred),
        sensitive_features=groups,
    )
    table = frame.by_group.dropna().sort_index()
    table["n"] = table["n"].astype(np.int64)
    table["errors"] = table["errors"].astype(np.int64)
    table["error_rate"] = table["errors"] / table["n"]
    low, high = wilson_interval(successes=table["errors"], n=table["n"], confidence=confidence)
    table["error_ci_low"] = low
    table["error_ci_high"] = high
    table["tpr"] = 1.0 - table["error_rate"]
    table["small"] = table["n"] < min_group_size
    return table


def tpr_gap_by_profession(
    *,
    y_true: Any,
    y_pred: Any,
    profession: Any,
    gender: Any = None,
    confidence: float = 0.95,
    min_group_size: int = 30,
) -> pd.DataFrame:
    """TPR of women and of men in each profession, the gap, its interval and a test.

    A bio counts as right when ``y_pred == y_true``; the gender of each bio is ``y_true`` in the
    gender task (``gender=None``) and ``gender`` in the occupation task.

    Args:
        y_true: true labels: gender ids (0 male, 1 female) when ``gender`` is None, otherwise
            any labels (the occupation task: profession ids).
        y_pred: predicted labels, of the same kind as ``y_true``.
        profession: the profession of each bio (any labels); in the occupation task pass the
            true profession (``y_true``).
        gender: None (the gender task: gender IS ``y_true``), or the gender of each bio (0 male,
            1 female; booleans count as 1 female): the protected attribute when the label is
            something else.
        confidence: interval level.
        min_group_size: a profession where either gender has fewer bios is flagged ``small``.

    Returns:
        A frame indexed by profession with n_female, n_male, correct_female, correct_male,
        tpr_female, tpr_male, gap, gap_ci_low, gap_ci_high, p_value (Fisher exact), p_holm,
        p_bh, significant (Holm-adjusted p below 1 - confidence), evidence (the interval's
        bound nearest zero, 0 if it spans 0), small. Where one gender has no bio, its TPR, the
        gap and the test are NaN (and excluded from the adjustment; significant is False).
    """
    y = np.asarray(y_true)
    sensitive = y if gender is None else _gender_ids(gender, len(y))
    # The gender difference WITHIN each profession: gender is the sensitive feature, profession
    # the control feature (fairlearn's MetricFrame).
    frame = MetricFrame(
        metrics={"n": count, "correct": _correct},
        y_true=y,
        y_pred=np.asarray(y_pred),
        sensitive_features=pd.Series(sensitive, name="gender"),
        control_features=pd.Series(np.asarray(profession), name="profession"),
    )
    counts = frame.by_group.dropna()
    n = counts["n"].unstack("gender").reindex(columns=[0, 1]).fillna(0).astype(np.int64)
    k = counts["correct"].unstack("gender").reindex(columns=[0, 1]).fillna(0).astype(np.int64)
    out = pd.DataFrame(
        {
            "n_female": n[1],
            "n_male": n[0],
            "correct_female": k[1],
            "correct_male": k[0],
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["tpr_female"] = np.where(
            out["n_female"] > 0, out["correct_female"] / out["n_female"], np.nan
        )
        out["tpr_male"] = np.where(out["n_male"] > 0, out["correct_male"] / out["n_male"], np.nan)
    out["gap"] = out["tpr_female"] - out["tpr_male"]
    lows, highs, p_values = [], [], []
    for row in out.itertuples():
        if row.n_female == 0 or row.n_male == 0:
            lows.append(np.nan)
            highs.append(np.nan)
            p_values.append(np.nan)
            continue
        low, high = confint_proportions_2indep(
            row.correct_female,
            row.n_female,
            row.correct_male,
            row.n_male,
            method="newcomb",
            compare="diff",
            alpha=1 - confidence,
        )
        # a difference of two proportions lies in [-1, 1] and its interval holds the gap
        low, high = bounded_interval(row.gap, low, high, lower=-1.0, upper=1.0)
        lows.append(low)
        highs.append(high)
        table = [
            [row.correct_female, row.n_female - row.correct_female],
            [row.correct_male, row.n_male - row.correct_male],
        ]
        p_values.append(float(fisher_exact(table).pvalue))
    out["gap_ci_low"] = lows
    out["gap_ci_high"] = highs
    out["p_value"] = p_values
    out["p_holm"] = adjust_pvalues(p_values=out["p_value"], method="holm")
    out["p_bh"] = adjust_pvalues(p_values=out["p_value"], method="bh")
    out["significant"] = out["p_holm"] < 1 - confidence  # NaN compares False
    out["evidence"] = [gap_evidence(low, high) for low, high in zip(lows, highs, strict=True)]
    out["small"] = (out["n_female"] < min_group_size) | (out["n_male"] < min_group_size)
    out.index.name = "profession"
    return out


def proxy_bias(*, gap: Any, share_women: Any, confidence: float = 0.95) -> pd.Series:
    """Does the per-profession gap follow the profession's share of women, and which way?

    Args:
        gap: per-profession TPR gap (women minus men), indexed by profession.
        share_women: per-profession share of women (train split), indexed by profession.
        confidence: 1 - the level of the Pearson test that decides the direction.

    Returns:
        A Series: n_professions, pearson_r, pearson_p, spearman_rho, spearman_p, slope,
        slope_stderr, intercept, direction (stereotype-consistent, counter-stereotypical, no
        evidence, not computable) and the verdict sentence. The statistics are NaN (with a
        warning) with fewer than 3 professions or when either side is constant.
    """
    joined = pd.concat(
        [pd.Series(gap, name="gap"), pd.Series(share_women, name="share")], axis=1, join="inner"
    ).dropna()
    result = {
        "n_professions": len(joined),
        "pearson_r": np.nan,
        "pearson_p": np.nan,
        "spearman_rho": np.nan,
        "spearman_p": np.nan,
        "slope": np.nan,
        "slope_stderr": np.nan,
        "intercept": np.nan,
    }
    x = joined["share"].to_numpy(np.float64)
    y = joined["gap"].to_numpy(np.float64)
    if len(joined) < MIN_PROXY_PROFESSIONS:
        log.warning(
            "proxy bias: only %d professions with both genders; need %d",
            len(joined),
            MIN_PROXY_PROFESSIONS,
        )
    elif np.ptp(x) == 0 or np.ptp(y) == 0:
        log.warning("proxy bias: the gaps or the shares are constant; no correlation to compute")
    else:
        pearson = pearsonr(x, y)
        spearman = spearmanr(x, y)
        fit = linregress(x, y)
        result.update(
            pearson_r=float(pearson.statistic),
            pearson_p=float(pearson.pvalue),
            spearman_rho=float(spearman.statistic),
            spearman_p=float(spearman.pvalue),
            slope=float(fit.slope),
            slope_stderr=float(fit.stderr),
            intercept=float(fit.intercept),
        )
    alpha = 1 - confidence
    result["direction"] = proxy_direction(result["slope"], result["pearson_p"], alpha)
    result["verdict"] = proxy_verdict(result, alpha)
    return pd.Series(result, dtype=object)
