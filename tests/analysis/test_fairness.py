"""Per-group rates, TPR gaps and proxy bias against direct computations."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest

from analysis import group_error_rates, proxy_bias, tpr_gap_by_profession, wilson_interval

SHARES = np.linspace(0.1, 0.93, 28)


def population(rng, per_profession=250):
    profession = np.repeat(np.arange(28), per_profession)
    gender = (rng.uniform(size=profession.size) < SHARES[profession]).astype(int)
    return profession, gender


def test_group_error_rates_match_a_direct_groupby():
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "profession": rng.choice(
                ["nurse", "surgeon", "poet", "dj"], n, p=[0.4, 0.3, 0.29, 0.01]
            ),
            "gender": rng.choice(["male", "female"], n),
        }
    )
    y = (frame["gender"] == "female").astype(int).to_numpy()
    pred = np.where(rng.uniform(size=n) < 0.85, y, 1 - y)
    table = group_error_rates(y_true=y, y_pred=pred, sensitive_features=frame, min_group_size=30)
    direct = frame.assign(wrong=pred != y).groupby(["profession", "gender"])["wrong"]
    np.testing.assert_array_equal(table["n"], direct.size().to_numpy())
    np.testing.assert_array_equal(table["errors"], direct.sum().to_numpy())
    np.testing.assert_allclose(table["error_rate"], direct.mean().to_numpy())
    np.testing.assert_allclose(table["tpr"], 1 - direct.mean().to_numpy())
    assert table.index.names == ["profession", "gender"]
    assert table.loc["dj", "small"].all() and not table.loc["nurse", "small"].any()
    low, high = wilson_interval(successes=table["errors"].iloc[0], n=table["n"].iloc[0])
    assert (table["error_ci_low"].iloc[0], table["error_ci_high"].iloc[0]) == pytest.approx(
        (low, high)
    )


def fisher_by_hand(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p: sum of hypergeometric tables no likelier than the observed."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def prob(x):
        return comb(col1, x) * comb(n - col1, row1 - x) / comb(n, row1)

    observed = prob(a)
    support = range(max(0, row1 + col1 - n), min(row1, col1) + 1)
    return min(1.0, sum(prob(x) for x in support if prob(x) <= observed * (1 + 1e-7)))


def test_tpr_gap_by_profession_by_hand():
    # nurse: 8 of 10 women right, 3 of 6 men right; poet: women only
    y = np.r_[np.ones(10), np.zeros(6), np.ones(4)].astype(int)
    right = np.r_[np.ones(8), np.zeros(2), np.ones(3), np.zeros(3), np.ones(4)].astype(bool)
    pred = np.where(right, y, 1 - y)
    profession = ["nurse"] * 16 + ["poet"] * 4
    gaps = tpr_gap_by_profession(y_true=y, y_pred=pred, profession=profession, min_group_size=5)
    nurse = gaps.loc["nurse"]
    assert (nurse["n_female"], nurse["n_male"]) == (10, 6)
    assert nurse["tpr_female"] == pytest.approx(0.8) and nurse["tpr_male"] == pytest.approx(0.5)
    assert nurse["gap"] == pytest.approx(0.3)
    assert nurse["p_value"] == pytest.approx(fisher_by_hand(8, 2, 3, 3))
    assert nurse["gap_ci_low"] < 0.3 < nurse["gap_ci_high"]
    poet = gaps.loc["poet"]
    assert np.isnan(poet["gap"]) and np.isnan(poet["p_value"]) and poet["small"]
    assert nurse["p_holm"] == pytest.approx(nurse["p_value"])  # the only testable profession


def test_newcombe_interval_matches_the_textbook_example():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80, hybrid score interval
    # (method 10): 0.0524 to 0.3339
    y = np.r_[np.ones(70), np.zeros(80)].astype(int)
    right = np.r_[np.ones(56), np.zeros(14), np.ones(48), np.zeros(32)].astype(bool)
    gaps = tpr_gap_by_profession(y_true=y, y_pred=np.where(right, y, 1 - y), profession=["x"] * 150)
    assert gaps.loc["x", "gap"] == pytest.approx(0.2)
    assert round(gaps.loc["x", "gap_ci_low"], 4) == 0.0524
    assert round(gaps.loc["x", "gap_ci_high"], 4) == 0.3339


def test_gap_intervals_at_the_extremes_stay_in_range_and_hold_the_gap():
    # statsmodels' Newcombe bounds at 10 of 10 women right and 0 of 3 men (and 0 of 7 against
    # 30 of 30) land a hair past the gap of +-1
    cells = [(10, 10, 0, 3), (37, 37, 0, 30), (0, 7, 30, 30), (1, 1, 1, 1), (0, 1, 0, 1)]
    y_true, y_pred, profession = [], [], []
    for i, (right_f, n_f, right_m, n_m) in enumerate(cells):
        for gender, right, n in ((1, right_f, n_f), (0, right_m, n_m)):
            y_true += [gender] * n
            y_pred += [gender] * right + [1 - gender] * (n - right)
            profession += [f"p{i}"] * n
    gaps = tpr_gap_by_profession(y_true=y_true, y_pred=y_pred, profession=profession)
    expected = [rf / nf - rm / nm for rf, nf, rm, nm in cells]
    np.testing.assert_allclose(gaps["gap"], expected)
    assert (gaps["gap_ci_low"] >= -1).all() and (gaps["gap_ci_high"] <= 1).all()
    assert (gaps["gap_ci_low"] <= gaps["gap"]).all() and (gaps["gap"] <= gaps["gap_ci_high"]).all()
    assert gaps.loc["p0", "gap_ci_high"] == 1.0 and gaps.loc["p2", "gap_ci_low"] == -1.0


def test_adjusted_pvalues_across_professions():
    rng = np.random.default_rng(1)
    profession, y = population(rng, 100)
    pred = np.where(rng.uniform(size=y.size) < 0.9, y, 1 - y)
    gaps = tpr_gap_by_profession(y_true=y, y_pred=pred, profession=profession)
    p = gaps["p_value"].dropna().to_numpy()
    m = len(p)
    order = np.argsort(p)
    holm = np.minimum(1, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    bh = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(gaps["p_holm"].dropna().to_numpy()[order], holm)
    np.testing.assert_allclose(gaps["p_bh"].dropna().to_numpy()[order], np.minimum(bh, 1))


def test_planted_proxy_bias_is_found_with_the_right_sign():
    # 40% of the time the model guesses from the profession (female with the profession's share
    # of women): TPR_f = .6 + .4 s, TPR_m = .6 + .4 (1 - s), so gap = .8 s - .4 (slope .8)
    rng = np.random.default_rng(2)
    profession, y = population(rng, 400)
    guess = rng.uniform(size=y.size) < 0.4
    by_profession = (rng.uniform(size=y.size) < SHARES[profession]).astype(int)
    pred = np.where(guess, by_profession, y)
    gaps = tpr_gap_by_profession(y_true=y, y_pred=pred, profession=profession)
    result = proxy_bias(gap=gaps["gap"], share_women=pd.Series(SHARES))
    assert result["n_professions"] == 28
    assert result["pearson_r"] > 0.8 and result["pearson_p"] < 1e-6
    assert result["spearman_rho"] > 0.8 and result["spearman_p"] < 1e-6
    assert result["slope"] == pytest.approx(0.8, abs=0.15)
    assert result["intercept"] == pytest.approx(-0.4, abs=0.1)
    # the same check by hand (numpy), independent of scipy
    x, g = SHARES, gaps["gap"].to_numpy()
    assert result["pearson_r"] == pytest.approx(np.corrcoef(x, g)[0, 1])
    assert result["slope"] == pytest.approx(np.polyfit(x, g, 1)[0])
    # the decision and its sentence follow the sign
    assert result["direction"] == "stereotype-consistent"
    assert result["verdict"].startswith(
        "Stereotype-consistent: the gap (TPR women - TPR men) grows"
    )
    # the reversed bias gives the opposite sign, and the opposite conclusion
    reverse = np.where(guess, 1 - by_profession, y)
    gaps = tpr_gap_by_profession(y_true=y, y_pred=reverse, profession=profession)
    reversed_result = proxy_bias(gap=gaps["gap"], share_women=pd.Series(SHARES))
    assert reversed_result["pearson_r"] < -0.8 and reversed_result["slope"] < 0
    assert reversed_result["direction"] == "counter-stereotypical"
    assert reversed_result["verdict"].startswith("Counter-stereotypical: the gap")
    assert "opposite of leaning on the profession" in reversed_result["verdict"]
    assert "proxy for gender (" not in reversed_result["verdict"].split("the opposite")[0]


def test_no_proxy_bias_is_found_when_there_is_none():
    rng = np.random.default_rng(3)
    profession, y = population(rng, 400)
    pred = np.where(rng.uniform(size=y.size) < 0.85, y, 1 - y)  # errors blind to gender/share
    gaps = tpr_gap_by_profession(y_true=y, y_pred=pred, profession=profession)
    result = proxy_bias(gap=gaps["gap"], share_women=pd.Series(SHARES))
    assert result["pearson_p"] > 0.05 and abs(result["slope"]) < 0.2
    assert result["direction"] == "no evidence"
    assert result["verdict"].startswith("No evidence either way")


def test_proxy_bias_is_nan_when_undefined(caplog):
    constant = proxy_bias(gap=pd.Series([1.0, 1.0, 1.0]), share_women=pd.Series([0.1, 0.5, 0.9]))
    assert np.isnan(constant["pearson_r"]) and constant["n_professions"] == 3
    assert constant["direction"] == "not computable"
    short = proxy_bias(gap=pd.Series([0.1, 0.2]), share_women=pd.Series([0.1, 0.5]))
    assert np.isnan(short["slope"])
    assert "need 3" in caplog.text


@pytest.mark.parametrize(
    ("slope", "p_value", "direction"),
    [
        (0.4, 0.01, "stereotype-consistent"),
        (-0.4, 0.01, "counter-stereotypical"),
        (0.4, 0.2, "no evidence"),
        (-0.4, 0.06, "no evidence"),
        (float("nan"), float("nan"), "not computable"),
    ],
)
def test_proxy_direction_reads_the_sign_and_the_level(slope, p_value, direction):
    from analysis.verdicts import proxy_direction

    assert proxy_direction(slope, p_value, alpha=0.05) == direction


def test_gaps_flag_significance_and_evidence():
    # a big profession with a strong gap and two tiny ones with gaps of +-1
    y = np.r_[np.ones(300), np.zeros(300), [1, 0], [1, 0, 0]].astype(int)
    right = np.r_[np.ones(150), np.zeros(150), np.ones(300), [0, 1], [1, 0, 0]].astype(bool)
    profession = ["accountant"] * 600 + ["dj"] * 2 + ["rapper"] * 3
    gaps = tpr_gap_by_profession(
        y_true=y, y_pred=np.where(right, y, 1 - y), profession=profession, min_group_size=10
    )
    big, dj = gaps.loc["accountant"], gaps.loc["dj"]
    assert big["gap"] == pytest.approx(-0.5) and big["significant"] and not big["small"]
    assert big["evidence"] == pytest.approx(min(abs(big["gap_ci_low"]), abs(big["gap_ci_high"])))
    assert abs(dj["gap"]) == 1 and dj["small"] and not dj["significant"] and dj["evidence"] == 0
