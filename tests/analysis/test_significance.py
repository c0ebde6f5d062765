"""McNemar, multiple-testing adjustment and pairwise comparison against independent computations."""

from __future__ import annotations

import re
from math import comb

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from analysis import adjust_pvalues, compare_predictors, mcnemar_test
from analysis._bootstrap import bootstrap_means, percentile_interval


def brute_force_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar: twice the smaller binomial tail of the discordant split."""
    n = b + c
    tail = sum(comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def labels_for_table(both: int, a_only: int, b_only: int, neither: int):
    """Truth and two predictors' labels realising a given 2x2 correctness table."""
    y = np.zeros(both + a_only + b_only + neither, dtype=int)
    right_a = np.r_[np.ones(both + a_only), np.zeros(b_only + neither)].astype(bool)
    right_b = np.r_[np.ones(both), np.zeros(a_only), np.ones(b_only), np.zeros(neither)].astype(
        bool
    )
    return y, np.where(right_a, y, 1 - y), np.where(right_b, y, 1 - y)


@pytest.mark.parametrize(
    "table", [(10, 3, 9, 2), (0, 1, 0, 0), (5, 0, 7, 1), (50, 12, 12, 3), (20, 2, 15, 9)]
)
def test_mcnemar_matches_brute_force_binomial_and_statsmodels(table):
    y, pred_a, pred_b = labels_for_table(*table)
    result = mcnemar_test(y_true=y, pred_a=pred_a, pred_b=pred_b)
    both, a_only, b_only, neither = table
    assert [
        result[k] for k in ("both_correct", "a_only_correct", "b_only_correct", "both_wrong")
    ] == list(table)
    assert result["p_value"] == pytest.approx(brute_force_mcnemar(a_only, b_only))
    reference = mcnemar([[both, a_only], [b_only, neither]], exact=True).pvalue
    assert result["p_value"] == pytest.approx(reference)


def test_mcnemar_without_discordant_bios_is_p_one():
    y, pred_a, pred_b = labels_for_table(8, 0, 0, 2)
    assert mcnemar_test(y_true=y, pred_a=pred_a, pred_b=pred_b)["p_value"] == 1.0


def test_holm_and_bh_match_a_hand_worked_example():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # Holm: sorted .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .06
    np.testing.assert_allclose(
        adjust_pvalues(p_values=p, method="holm")[:4], [0.03, 0.06, 0.06, 0.02]
    )
    # BH: p(i)*m/i = .02, .02, .04, .04 -> running min from the top: .02, .02, .04, .04
    np.testing.assert_allclose(
        adjust_pvalues(p_values=p, method="bh")[:4], [0.02, 0.04, 0.04, 0.02]
    )
    assert np.isnan(adjust_pvalues(p_values=p, method="holm")[4])


def test_compare_predictors_counts_differences_and_verdicts():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    good = np.where(rng.uniform(size=n) < 0.95, y, 1 - y)
    weak = np.where(rng.uniform(size=n) < 0.70, y, 1 - y)
    twin = good.copy()
    frame = pd.DataFrame({"weak": weak, "good": good, "twin": twin})
    pairs = compare_predictors(y_true=y, predictions=frame, seed=1, resamples=300)
    assert list(pairs.index) == [("weak", "good"), ("weak", "twin"), ("good", "twin")]
    row = pairs.loc[("weak", "good")]
    assert row["acc_diff"] == pytest.approx((good == y).mean() - (weak == y).mean())
    assert row["diff_ci_low"] < row["acc_diff"] < row["diff_ci_high"]
    assert row["diff_ci_low"] > 0
    assert row["p_value"] < 1e-10 and row["p_holm"] <= 1
    assert row["verdict"].startswith("good is significantly more accurate than weak")
    same = pairs.loc[("good", "twin")]
    assert same["p_value"] == 1.0 and "exactly the same bios" in same["verdict"]
    assert same["diff_ci_low"] == same["diff_ci_high"] == 0
    # Holm across the three pairs, by hand
    p = pairs["p_value"].to_numpy()
    order = np.argsort(p)
    holm = np.maximum.accumulate(np.minimum(1, p[order] * (3 - np.arange(3))))
    np.testing.assert_allclose(pairs["p_holm"].to_numpy()[order], holm)


def test_paired_difference_interval_covers_the_truth_at_about_the_nominal_rate():
    # Two correlated predictors with accuracies .80 and .75: true difference -.05
    rng = np.random.default_rng(3)
    hits, datasets, n = 0, 150, 400
    for d in range(datasets):
        y = rng.integers(0, 2, n)
        u = rng.uniform(size=n)
        a = np.where(u < 0.80, y, 1 - y)
        b = np.where(u < 0.75, y, 1 - y)
        # the resampling compare_predictors uses (statsmodels' multipletests, which it also
        # calls, spends 0.2 s in gc.collect per call: too slow for 150 datasets)
        accuracy = bootstrap_means(np.vstack([a == y, b == y]), resamples=200, seed=d)
        low, high = percentile_interval(accuracy[1] - accuracy[0], 0.95)
        hits += low <= -0.05 <= high
    assert 0.89 <= hits / datasets <= 0.99


def test_verdict_interval_brackets_the_stated_gap_in_either_order():
    rng = np.random.default_rng(3)
    n = 1500
    y = rng.integers(0, 2, n)
    good = np.where(rng.uniform(size=n) < 0.95, y, 1 - y)
    weak = np.where(rng.uniform(size=n) < 0.70, y, 1 - y)
    for frame in (
        pd.DataFrame({"weak": weak, "good": good}),
        pd.DataFrame({"good": good, "weak": weak}),
    ):
        row = compare_predictors(y_true=y, predictions=frame, seed=1, resamples=300).iloc[0]
        gap = 100 * abs(row["acc_diff"])
        match = re.search(
            r"by ([\d.]+) percentage points \((-?[\d.]+) to (-?[\d.]+) points", row["verdict"]
        )
        assert row["verdict"].startswith("good is significantly more accurate than weak")
        stated, low, high = (float(g) for g in match.groups())
        assert stated == pytest.approx(gap, abs=0.01)
        assert 0 < low < stated < high
