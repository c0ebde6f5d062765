"""McNemar, families, exact intervals and verdicts, against independent computations."""

from __future__ import annotations

import re
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta
from statsmodels.stats.contingency_tables import mcnemar

from analysis import adjust_pvalues, compare_predictors, mcnemar_test, paired_difference_interval
from analysis.verdicts import interval_excludes_zero


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


def test_exact_interval_is_clopper_pearson_on_the_discordant_bios():
    # Textbook Clopper-Pearson from beta quantiles, mapped to the accuracy difference by hand.
    a_only, b_only, n, confidence = 7, 19, 120, 0.95
    m, alpha = a_only + b_only, 1 - confidence
    theta_low = beta.ppf(alpha / 2, a_only, m - a_only + 1)
    theta_high = beta.ppf(1 - alpha / 2, a_only + 1, m - a_only)
    low, high = paired_difference_interval(a_only=a_only, b_only=b_only, n=n, confidence=confidence)
    assert low == pytest.approx(m / n * (1 - 2 * theta_high))
    assert high == pytest.approx(m / n * (1 - 2 * theta_low))
    assert low < (b_only - a_only) / n < high
    assert paired_difference_interval(a_only=0, b_only=0, n=50, confidence=0.95) == (0.0, 0.0)


def test_exact_interval_covers_the_truth_at_least_at_the_nominal_rate():
    # Two correlated predictors, right with probability .80 and .77: true difference -.03
    # (exact intervals are conservative: coverage at or above the nominal 95%).
    rng = np.random.default_rng(3)
    hits, datasets, n = 0, 300, 400
    for _ in range(datasets):
        u = rng.uniform(size=n)
        right_a, right_b = u < 0.80, (u < 0.75) | ((u > 0.95) & (u < 0.97))
        a_only, b_only = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
        truth = 0.75 + 0.02 - 0.80
        low, high = paired_difference_interval(a_only=a_only, b_only=b_only, n=n, confidence=0.95)
        hits += low <= truth <= high
    assert 0.93 <= hits / datasets <= 1.0


def predictions_with_accuracies(y, accuracies: dict[str, float], rng) -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: np.where(rng.uniform(size=len(y)) < acc, y, 1 - y)
            for name, acc in accuracies.items()
        }
    )


def test_families_primary_alone_secondary_holm_references_untested():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    frame = predictions_with_accuracies(
        y, {"base": 0.80, "chance": 0.5, "tuned": 0.86, "rule": 0.85, "tfidf": 0.84}, rng
    )
    pairs = compare_predictors(
        y_true=y, predictions=frame, primary=("base", "tuned"), references=["chance"]
    )
    assert (pairs.iloc[0]["predictor_a"], pairs.iloc[0]["predictor_b"]) == ("base", "tuned")
    assert pairs["family"].value_counts().to_dict() == {
        "secondary": 5,
        "reference": 4,
        "primary": 1,
    }
    primary = pairs.iloc[0]
    assert primary["p_adjusted"] == primary["p_value"] and primary["ci_level"] == 0.95
    # the secondary family: Holm by hand over its 5 p-values only
    secondary = pairs[pairs["family"] == "secondary"]
    p = secondary["p_value"].to_numpy()
    order = np.argsort(p)
    holm = np.maximum.accumulate(np.minimum(1, p[order] * (5 - np.arange(5))))
    np.testing.assert_allclose(secondary["p_adjusted"].to_numpy()[order], holm)
    rejected = int((holm < 0.05).sum())
    expected_level = 1 - 0.05 / (5 - rejected) if rejected < 5 else 0.95
    assert secondary["ci_level"].unique().tolist() == [pytest.approx(expected_level)]
    reference = pairs[pairs["family"] == "reference"]
    assert reference["p_adjusted"].isna().all() and reference["significant"].isna().all()
    assert all(v.startswith("Not tested") for v in reference["verdict"])
    assert "primary comparison, tested alone" in primary["verdict"]


def test_no_verdict_contradicts_its_interval_on_random_tables():
    # Property: "significant" exactly when the interval printed beside it excludes 0, and the
    # sentence says so, for primary and secondary pairs alike.
    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(60):
        n = int(rng.integers(20, 600))
        y = rng.integers(0, 2, n)
        k = int(rng.integers(2, 6))
        accuracies = {f"p{i}": float(rng.uniform(0.5, 0.99)) for i in range(k)}
        frame = predictions_with_accuracies(y, accuracies, rng)
        confidence = float(rng.choice([0.9, 0.95, 0.99]))
        primary = ("p0", "p1") if trial % 2 else None
        pairs = compare_predictors(
            y_true=y, predictions=frame, confidence=confidence, primary=primary
        )
        for row in pairs.to_dict(orient="records"):
            excludes = interval_excludes_zero(row["diff_ci_low"], row["diff_ci_high"])
            assert bool(row["significant"]) == excludes, row
            assert (row["p_adjusted"] < 1 - confidence) == excludes, row
            said_significant = " is more accurate than " in row["verdict"]
            assert said_significant == excludes, row["verdict"]
            if not excludes:
                assert (
                    "No significant difference" in row["verdict"]
                    or "exactly the same" in (row["verdict"])
                )
            checked += 1
    assert checked > 150


def test_verdict_states_the_gap_its_interval_brackets_in_either_order():
    rng = np.random.default_rng(3)
    n = 1500
    y = rng.integers(0, 2, n)
    good = np.where(rng.uniform(size=n) < 0.95, y, 1 - y)
    weak = np.where(rng.uniform(size=n) < 0.70, y, 1 - y)
    for frame in (
        pd.DataFrame({"weak": weak, "good": good}),
        pd.DataFrame({"good": good, "weak": weak}),
    ):
        row = compare_predictors(y_true=y, predictions=frame).iloc[0]
        match = re.search(
            r"([\d.]+)% against ([\d.]+)%, ([\d.]+) percentage points \(95% CI ([\d.-]+) to "
            r"([\d.-]+) points",
            row["verdict"],
        )
        assert row["verdict"].startswith("good is more accurate than weak"), row["verdict"]
        better, worse, stated, low, high = (float(g) for g in match.groups())
        assert better == pytest.approx(100 * (good == y).mean(), abs=0.05)
        assert worse == pytest.approx(100 * (weak == y).mean(), abs=0.05)
        assert stated == pytest.approx(better - worse, abs=0.11)
        assert 0 < low < stated < high


def test_identical_predictors_have_nothing_to_test():
    y = np.array([0, 1, 1, 0, 1])
    frame = pd.DataFrame({"a": y, "b": y})
    row = compare_predictors(y_true=y, predictions=frame).iloc[0]
    assert row["p_value"] == 1.0 and "exactly the same bios" in row["verdict"]
    assert row["diff_ci_low"] == row["diff_ci_high"] == 0 and not row["significant"]


def test_holm_is_statsmodels_holm_to_the_bit_ties_and_ones_included(monkeypatch):
    import gc

    from statsmodels.stats.multitest import multipletests

    # statsmodels' multipletests calls gc.collect() on every call: 0.3 s each in a process that
    # holds torch and this session's fixtures. A full collection changes no number.
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    rng = np.random.default_rng(5)
    for m in (1, 2, 3, 7, 40):
        for _ in range(30):
            p = rng.choice([rng.uniform(), 0.01, 0.5, 1.0, 1e-12], size=m)
            p = np.where(rng.uniform(size=m) < 0.5, p, rng.uniform(size=m))
            ours = adjust_pvalues(p_values=p, method="holm")
            assert ours.tolist() == multipletests(p, method="holm")[1].tolist()
