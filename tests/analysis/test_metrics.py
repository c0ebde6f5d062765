"""Overall metrics, intervals and calibration against independent computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.calibration import calibration_curve
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from analysis import (
    expected_calibration_error,
    overall_metrics,
    overall_metrics_many,
    reliability_curve,
    wilson_interval,
)
from analysis._bootstrap import percentile_interval, resample_counts
from analysis.metrics import bootstrap_metrics, bounded_interval


def wilson_by_formula(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_matches_textbook_examples():
    # Newcombe (1998), Stat Med 17:857, Table I: 81/263 -> 0.2553 to 0.3662; 0/20 -> 0 to 0.1611
    low, high = wilson_interval(successes=81, n=263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson_interval(successes=0, n=20)
    assert low == pytest.approx(0.0, abs=1e-12) and round(high, 4) == 0.1611
    for k, n in [(1, 29), (15, 148), (7, 7)]:
        assert wilson_interval(successes=k, n=n) == pytest.approx(wilson_by_formula(k, n))


def test_wilson_is_vectorised_and_nan_for_empty_groups():
    low, high = wilson_interval(successes=np.array([0, 3]), n=np.array([0, 10]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert (low[1], high[1]) == pytest.approx(wilson_by_formula(3, 10))


@pytest.mark.parametrize("n", [1, 2, 7, 9, 12, 30, 37, 300, 99_069])
def test_wilson_at_zero_of_n_and_n_of_n_stays_in_0_1_and_holds_the_rate(n):
    # By the formula the bounds at 0/n and n/n are exactly 0 and 1; statsmodels' arithmetic lands
    # a hair outside at some n (0/7 below 0, 7/7 at 1 - 1e-16, under the rate of 1).
    for k in (0, n):
        low, high = wilson_interval(successes=k, n=n)
        by_formula = [min(max(b, 0.0), 1.0) for b in wilson_by_formula(k, n)]
        assert (low, high) == pytest.approx(by_formula, abs=1e-12)
        assert 0.0 <= low <= k / n <= high <= 1.0
    assert wilson_interval(successes=0, n=n)[0] == 0.0
    assert wilson_interval(successes=n, n=n)[1] == 1.0


def test_wilson_vectorised_at_the_extremes_and_one_bio():
    k = np.array([0, 1, 0, 7, 30, 9])
    n = np.array([1, 1, 7, 7, 30, 9])
    low, high = wilson_interval(successes=k, n=n)
    rate = k / n
    assert np.all((low >= 0) & (low <= rate) & (rate <= high) & (high <= 1))
    # one bio: the textbook interval is 0 to 0.7935 (0 of 1) and 0.2065 to 1 (1 of 1)
    assert (low[0], high[0]) == pytest.approx((0.0, 0.79345), abs=1e-4)
    assert (low[1], high[1]) == pytest.approx((0.20655, 1.0), abs=1e-4)


def test_bounded_interval_clips_and_never_crosses_its_point():
    low, high = bounded_interval(
        np.array([1.0, 0.0, 0.5, 0.2, np.nan, 0.5]),
        np.array([0.8, -1e-17, 0.6, np.nan, 0.1, -2.0]),
        np.array([1 - 1e-16, 0.2, 0.9, np.nan, 1.2, 0.7]),
    )
    np.testing.assert_array_equal(low, [0.8, 0.0, 0.5, np.nan, 0.1, 0.0])
    np.testing.assert_array_equal(high, [1.0, 0.2, 0.9, np.nan, 1.0, 0.7])
    assert bounded_interval(1.0, 0.9, 1.0000000000000002, lower=-1, upper=1) == (0.9, 1.0)


def test_bootstrap_intervals_of_a_predictor_always_right_or_always_wrong():
    y = np.array([0, 1] * 15)
    rng = np.random.default_rng(0)
    for pred in (y, 1 - y):  # always right, always wrong
        prob = np.where(pred == 1, 0.9, 0.1) + rng.uniform(-0.05, 0.05, len(y))
        frame = overall_metrics(y_true=y, y_pred=pred, prob=prob, seed=0, resamples=200)
        finite = frame.dropna(subset=["ci_low", "ci_high"])
        assert len(finite) == len(frame)
        assert (finite["ci_low"] >= 0).all() and (finite["ci_high"] <= 1).all()
        assert (finite["ci_low"] <= finite["value"]).all()
        assert (finite["value"] <= finite["ci_high"]).all()


def test_ece_by_hand():
    y = [0, 0, 1, 1]
    prob = [0.1, 0.3, 0.6, 0.9]
    # bin [0, .5]: mean .2, fraction 0 -> .2 * 2/4; bin (.5, 1]: mean .75, fraction 1 -> .25 * 2/4
    assert expected_calibration_error(y_true=y, prob=prob, bins=2) == pytest.approx(0.225)
    # a probability on an edge goes to the lower bin, as in scikit-learn
    assert expected_calibration_error(y_true=[1], prob=[0.5], bins=2) == pytest.approx(0.5)


def test_reliability_curve_matches_scikit_learn():
    rng = np.random.default_rng(0)
    prob = rng.uniform(size=500)
    prob[:10] = 0.3  # values on a bin edge
    y = (rng.uniform(size=500) < prob).astype(int)
    curve = reliability_curve(y_true=y, prob=prob, bins=10)
    frac, mean = calibration_curve(y, prob, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(curve["fraction_female"], frac)
    np.testing.assert_allclose(curve["mean_predicted"], mean)
    assert curve["count"].sum() == 500
    # bins are (lo, hi], the first [0, .1]: count by hand
    edges = np.linspace(0, 1, 11)
    by_hand = [int(((prob > lo) & (prob <= hi)).sum()) for lo, hi in itertools.pairwise(edges)]
    by_hand[0] += int((prob == 0).sum())
    assert list(curve["count"]) == [c for c in by_hand if c]


def test_point_values_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    prob = np.clip(0.6 * y + rng.normal(0.2, 0.25, 300), 0, 1)
    pred = (prob >= 0.5).astype(int)
    table = overall_metrics(y_true=y, y_pred=pred, prob=prob, seed=0, resamples=50)
    assert table.loc["accuracy", "value"] == pytest.approx((pred == y).mean())
    assert table.loc["balanced_accuracy", "value"] == pytest.approx(
        balanced_accuracy_score(y, pred)
    )
    assert table.loc["f1", "value"] == pytest.approx(f1_score(y, pred))
    assert table.loc["roc_auc", "value"] == pytest.approx(roc_auc_score(y, prob))
    assert table.loc["accuracy", "ci_method"] == "wilson"
    assert (table.drop(index="accuracy")["ci_method"] == "bootstrap").all()
    assert (table["ci_low"] <= table["value"]).all() and (table["value"] <= table["ci_high"]).all()


def test_each_bootstrap_resample_equals_scikit_learn_on_the_resampled_bios():
    rng = np.random.default_rng(2)
    n = 400
    y = rng.integers(0, 2, n)
    prob = np.round(np.clip(0.5 * y + rng.normal(0.25, 0.25, n), 0, 1), 1)  # many ties
    pred = (prob >= 0.5).astype(int)
    draws = bootstrap_metrics(y, {"m": (pred, prob)}, resamples=7, seed=3, bins=10)["m"]
    counts = np.hstack(list(resample_counts(n, 7, seed=3)))
    for r in range(7):
        idx = np.repeat(np.arange(n), counts[:, r])
        assert len(idx) == n
        assert draws["accuracy"][r] == pytest.approx((pred[idx] == y[idx]).mean())
        assert draws["balanced_accuracy"][r] == pytest.approx(
            balanced_accuracy_score(y[idx], pred[idx])
        )
        assert draws["f1"][r] == pytest.approx(f1_score(y[idx], pred[idx]))
        assert draws["roc_auc"][r] == pytest.approx(roc_auc_score(y[idx], prob[idx]))
        assert draws["ece"][r] == pytest.approx(
            expected_calibration_error(y_true=y[idx], prob=prob[idx], bins=10)
        )


def test_bootstrap_is_seeded_and_block_size_free():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 150)
    prob = rng.uniform(size=150)
    a = bootstrap_metrics(y, {"m": ((prob > 0.5).astype(int), prob)}, resamples=30, seed=9, bins=5)
    b = bootstrap_metrics(y, {"m": ((prob > 0.5).astype(int), prob)}, resamples=30, seed=9, bins=5)
    np.testing.assert_array_equal(a["m"]["roc_auc"], b["m"]["roc_auc"])
    whole = np.hstack(list(resample_counts(150, 30, seed=9, block=30)))
    pieces = np.hstack(list(resample_counts(150, 30, seed=9, block=7)))
    np.testing.assert_array_equal(whole, pieces)


def test_bootstrap_intervals_cover_the_true_value_at_about_the_nominal_rate():
    # Positives score N(1, 1), negatives N(0, 1): true AUC = Phi(1 / sqrt 2); balanced accuracy
    # at threshold 0.5 = (P(N(1,1) > .5) + P(N(0,1) < .5)) / 2 = Phi(0.5).
    true_auc = norm.cdf(1 / math.sqrt(2))
    true_balanced = norm.cdf(0.5)
    rng = np.random.default_rng(5)
    datasets, n = 200, 300
    hits = {"roc_auc": 0, "balanced_accuracy": 0}
    for d in range(datasets):
        y = rng.integers(0, 2, n)
        score = rng.normal(y.astype(float), 1.0)
        prob = 1 / (1 + np.exp(-(score - 0.5) * 3))  # monotone: same AUC, threshold at .5
        draws = bootstrap_metrics(
            y, {"m": ((score > 0.5).astype(int), prob)}, resamples=200, seed=d, bins=10
        )["m"]
        for metric, truth in (("roc_auc", true_auc), ("balanced_accuracy", true_balanced)):
            low, high = percentile_interval(draws[metric], 0.95)
            hits[metric] += low <= truth <= high
    for metric, hit in hits.items():
        assert 0.89 <= hit / datasets <= 0.99, (metric, hit / datasets)


def test_many_predictors_share_resamples():
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 200)
    prob = rng.uniform(size=200)
    pred = (prob > 0.5).astype(int)
    _, draws = overall_metrics_many(
        y_true=y, predictions={"a": (pred, prob), "b": (pred, prob)}, seed=1, resamples=40
    )
    np.testing.assert_array_equal(draws["a"]["accuracy"], draws["b"]["accuracy"])
