"""The Multi-Bootstrap against a direct, slow reference, on planted data; and proxy-bias cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis._bootstrap import resample_counts
from analysis.fairness import proxy_bias
from analysis.multibootstrap import (
    interval_and_p,
    procedure_difference,
    procedure_gaps,
    procedure_proxy_slope,
)
from analysis.table_builders import proxy_table
from analysis.verdicts import fmt_p
from pipeline.lib.params import parse_key
from tests.conftest import demo_params

CONFIDENCE = 0.95


def planted(accuracies: list[float], n: int = 600, baseline: float = 0.8, seed: int = 0):
    """Per-seed correctness (S, n) at the given accuracies, and a baseline's (n,)."""
    rng = np.random.default_rng(seed)
    base = rng.random(n) < baseline
    correct = np.stack([rng.random(n) < a for a in accuracies])
    return correct, base


def reference(correct, base, resamples: int, seed: int) -> np.ndarray:
    """The Multi-Bootstrap written out: draw seeds, draw bios, average; one resample at a time.

    ``base``: one model's ``(n,)``, or a second procedure's ``(S, n)``: then each drawn seed
    takes both procedures' runs of that seed.
    """
    rng = np.random.default_rng(seed)
    n_seeds, n = correct.shape
    runs = np.broadcast_to(base, correct.shape)
    out = np.empty(resamples)
    for b in range(resamples):
        seeds = rng.integers(0, n_seeds, n_seeds)
        bios = rng.integers(0, n, n)
        out[b] = np.mean([correct[s, bios].mean() - runs[s, bios].mean() for s in seeds])
    return out


def test_point_estimate_is_the_mean_difference_and_the_interval_matches_the_reference():
    correct, base = planted([0.90, 0.86, 0.93, 0.88])
    result = procedure_difference(
        correct=correct, baseline_correct=base, resamples=2000, seed=3, confidence=CONFIDENCE
    )
    direct = np.mean([correct[s].mean() - base.mean() for s in range(4)])
    assert result.estimate == pytest.approx(direct, abs=1e-15)
    slow = reference(correct, base, 2000, seed=99)  # another random stream: Monte-Carlo only
    low, high = np.quantile(slow, [0.025, 0.975])
    tolerance = 0.15 * slow.std()  # the bounds' Monte-Carlo error at 2,000 resamples
    assert result.ci_low == pytest.approx(low, abs=tolerance)
    assert result.ci_high == pytest.approx(high, abs=tolerance)
    assert result.sd_joint == pytest.approx(slow.std(ddof=1), rel=0.1)
    # joint variance ~ seeds' + bios' (the MultiBERTs split)
    assert result.sd_joint**2 == pytest.approx(result.sd_seeds**2 + result.sd_bios**2, rel=0.2)


def test_an_outlier_seed_widens_the_interval_and_moves_variance_to_the_seeds():
    steady, base = planted([0.90, 0.905, 0.895, 0.90], seed=1)
    outlier, _ = planted([0.90, 0.905, 0.895, 0.70], seed=1)
    kwargs = {"baseline_correct": base, "resamples": 1000, "seed": 5, "confidence": CONFIDENCE}
    calm = procedure_difference(correct=steady, **kwargs)
    wild = procedure_difference(correct=outlier, **kwargs)
    assert (wild.ci_high - wild.ci_low) > 2 * (calm.ci_high - calm.ci_low)
    assert wild.seed_share > 0.8 > calm.seed_share


def test_with_one_seed_it_is_the_paired_bootstrap_over_bios():
    correct, base = planted([0.9])
    result = procedure_difference(
        correct=correct, baseline_correct=base, resamples=500, seed=11, confidence=CONFIDENCE
    )
    diff = correct[0].astype(float) - base
    paired = np.concatenate([c.T @ diff / len(diff) for c in resample_counts(len(diff), 500, 11)])
    low, high, p_value = interval_and_p(paired, 1 - CONFIDENCE)
    assert (result.ci_low, result.ci_high, result.p_value) == pytest.approx((low, high, p_value))
    assert result.sd_seeds == 0.0 and result.seed_share == 0.0
    assert result.sd_joint == pytest.approx(result.sd_bios)


def test_interval_excludes_zero_exactly_when_p_is_below_alpha():
    rng = np.random.default_rng(0)
    for _ in range(300):
        samples = rng.normal(rng.normal(0, 0.02), 0.01, size=rng.integers(50, 400))
        low, high, p_value = interval_and_p(samples, 0.05)
        assert (low > 0 or high < 0) == (p_value < 0.05)


@pytest.mark.parametrize("resamples", [200, 1000])
def test_every_resample_on_one_side_gives_p_2_over_b_plus_1_not_0(resamples):
    # issue 26 item 5c: p was written as 0.0; with B resamples the honest two-sided figure is
    # 2 (1 + 0) / (B + 1). LoRA right on every bio, the baseline on none: every resample is +1.
    n = 50
    result = procedure_difference(
        correct=np.ones((3, n), dtype=bool),
        baseline_correct=np.zeros(n, dtype=bool),
        resamples=resamples,
        seed=0,
        confidence=CONFIDENCE,
    )
    assert result.p_value == 2 / (resamples + 1)
    assert (result.ci_low, result.ci_high) == (1.0, 1.0)
    assert interval_and_p(-np.ones(resamples), 0.05)[2] == 2 / (resamples + 1)
    assert fmt_p(result.p_value) == ("p = 0.010" if resamples == 200 else "p = 0.002")


@pytest.mark.parametrize("resamples", [39, 40, 199, 999, 1000, 1001, 2000])
def test_p_value_counts_the_observed_data_and_agrees_with_the_interval(resamples):
    # p = min(1, 2 (1 + tail) / (B + 1)); tail = resamples on the far side of 0 (ties count).
    alpha = 1 - CONFIDENCE  # as the analysis computes it
    for tail in range(0, 80):
        samples = np.concatenate([-np.ones(tail), np.zeros(tail % 2), np.ones(resamples)])
        b = samples.size
        low, high, p_value = interval_and_p(samples, alpha)
        far = min(tail, resamples) + tail % 2
        assert p_value == min(1.0, 2 * (1 + far) / (b + 1))
        assert (low > 0 or high < 0) == (p_value < alpha), (b, tail, low, high, p_value)


def test_procedure_gaps_match_the_direct_gap_and_a_slow_reference():
    rng = np.random.default_rng(4)
    n = 500
    profession = rng.integers(0, 3, n)
    female = rng.random(n) < 0.5
    # profession 0: women recognised far better in every seed; the others: no gap
    p_right = np.where((profession == 0) & ~female, 0.6, 0.9)
    correct = np.stack([rng.random(n) < p_right for _ in range(3)])
    results = procedure_gaps(
        correct=correct,
        profession=profession,
        female=female,
        resamples=1000,
        seed=2,
        confidence=CONFIDENCE,
    )
    for p, result in results.items():
        f, m = (profession == p) & female, (profession == p) & ~female
        direct = np.mean([c[f].mean() - c[m].mean() for c in correct])
        assert result.estimate == pytest.approx(direct, abs=1e-12)
    assert results[0].ci_low > 0 and results[0].p_value < 0.05  # the planted gap is stable
    slow_rng = np.random.default_rng(7)
    slow = []
    for _ in range(1000):
        seeds, bios = slow_rng.integers(0, 3, 3), slow_rng.integers(0, n, n)
        f, m = female[bios] & (profession[bios] == 1), ~female[bios] & (profession[bios] == 1)
        slow.append(
            np.mean([correct[s, bios][f].mean() - correct[s, bios][m].mean() for s in seeds])
        )
    low, high = np.quantile(slow, [0.025, 0.975])
    assert results[1].ci_low == pytest.approx(low, abs=0.2 * np.std(slow))
    assert results[1].ci_high == pytest.approx(high, abs=0.2 * np.std(slow))


def test_one_tiny_extreme_cell_no_longer_decides_the_proxy_verdict():
    # Ten well-filled professions whose gaps do not follow the share of women, and one cell of
    # two bios at a share of 0.95 with a gap of +1: alone it makes the slope "significant".
    rng = np.random.default_rng(0)
    share = pd.Series(np.r_[np.linspace(0.3, 0.7, 10), 0.95], index=range(11))
    gap = np.r_[rng.normal(0, 0.02, 10), 1.0]
    gaps = pd.DataFrame(
        {
            "predictor": "m",
            "profession_id": range(11),
            "gap": gap,
            "n_female": [50] * 10 + [1],
            "n_male": [50] * 10 + [1],
            "small": [False] * 10 + [True],
        }
    )
    with_tiny = proxy_bias(gap=pd.Series(gap, index=range(11)), share_women=share)
    assert with_tiny["pearson_p"] < 0.05 < with_tiny["slope"]  # what the old analysis said
    params = parse_key(demo_params(), "analyze")
    table = proxy_table(gaps, share, params).iloc[0]
    assert table["n_professions"] == 10
    assert table["pearson_p"] > 0.05 and table["direction"] == "no evidence"


def test_procedure_proxy_slope_is_the_least_squares_slope_of_the_seed_mean_gaps():
    rng = np.random.default_rng(8)
    n = 3000
    profession = rng.integers(0, 6, n)
    female = rng.random(n) < 0.5
    share = {p: 0.1 + 0.15 * p for p in range(6)}
    # a planted proxy: women recognised better (men worse) where women are many
    p_right = 0.8 + np.where(female, 1, -1) * 0.15 * (np.vectorize(share.get)(profession) - 0.5)
    correct = np.stack([rng.random(n) < p_right for _ in range(3)])
    result = procedure_proxy_slope(
        correct=correct,
        profession=profession,
        female=female,
        share_women=share,
        resamples=500,
        seed=1,
        confidence=CONFIDENCE,
    )
    gaps = [
        np.mean(
            [
                c[(profession == p) & female].mean() - c[(profession == p) & ~female].mean()
                for c in correct
            ]
        )
        for p in range(6)
    ]
    direct = np.polyfit([share[p] for p in range(6)], gaps, 1)[0]
    assert result.estimate == pytest.approx(direct, abs=1e-12)
    assert result.ci_low > 0 and result.p_value < 0.05  # the planted positive slope


def test_two_trained_procedures_are_compared_seed_by_seed():
    # Head-only against LoRA: each seed's two runs share that seed's luck (here: seeds of very
    # different accuracy, and the other procedure's run of a seed is that seed's LoRA run with
    # a fixed 6% of the bios lost). Paired by seed, the seeds' spread cancels out.
    rng = np.random.default_rng(5)
    correct, _ = planted([0.72, 0.95, 0.81, 0.90], n=800, seed=4)
    lost = rng.random(800) < 0.06
    other = correct & ~lost[None, :]
    result = procedure_difference(
        correct=correct, baseline_correct=other, resamples=2000, seed=3, confidence=CONFIDENCE
    )
    direct = np.mean([correct[s].mean() - other[s].mean() for s in range(4)])
    assert result.estimate == pytest.approx(direct, abs=1e-15)
    slow = reference(correct, other, 2000, seed=99)
    low, high = np.quantile(slow, [0.025, 0.975])
    tolerance = 0.15 * slow.std()
    assert result.ci_low == pytest.approx(low, abs=tolerance)
    assert result.ci_high == pytest.approx(high, abs=tolerance)
    # The per-seed differences are nearly equal, so the seeds explain little of the width,
    # although the seeds' accuracies differ by 23 points: unpaired, they would dominate it.
    assert result.sd_seeds < 0.1 * correct.mean(axis=1).std()
    unpaired = np.std([correct[rng.integers(0, 4, 4)].mean() for _ in range(500)])
    assert result.sd_seeds < 0.2 * unpaired


def test_two_procedures_with_different_seed_counts_are_refused():
    correct, _ = planted([0.9, 0.8, 0.85])
    other, _ = planted([0.9, 0.8])
    with pytest.raises(ValueError, match=r"3 runs against 2: .* need the same seeds"):
        procedure_difference(
            correct=correct, baseline_correct=other, resamples=100, seed=0, confidence=0.95
        )
