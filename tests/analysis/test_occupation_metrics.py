"""Occupation-task metrics and GAP^RMS against independent computations (pandas, sklearn, loops)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from analysis._bootstrap import BLOCK, percentile_interval
from analysis.fairness import tpr_gap_by_profession
from analysis.metrics import bounded_interval
from analysis.multibootstrap import interval_and_p, joint_resamples, procedure_gap_rms
from analysis.occupation_metrics import (
    OCCUPATION_METRICS,
    bootstrap_occupation_metrics,
    gap_rms,
    occupation_overall,
)

CONFIDENCE = 0.95


def planted_bios(seed: int = 0, n: int = 900):
    """Multi-class labels with uneven genders, a rare class and a class of one woman."""
    rng = np.random.default_rng(seed)
    y = rng.choice(6, n, p=[0.3, 0.25, 0.2, 0.15, 0.09, 0.01])
    female = (rng.random(n) < np.array([0.2, 0.5, 0.8, 0.4, 0.6, 0.5])[y]).astype(int)
    y[:5] = 6  # profession 6: one woman, four men
    female[:5] = [1, 0, 0, 0, 0]
    # women of profession 0 are misclassified more often; some predictions are a class (7) that
    # no bio has
    p_right = np.where((y == 0) & (female == 1), 0.55, 0.8)
    wrong_class = np.where(rng.random(n) < 0.1, 7, (y + rng.integers(1, 6, n)) % 7)
    pred = np.where(rng.random(n) < p_right, y, wrong_class)
    confidence = np.clip(rng.normal(np.where(pred == y, 0.75, 0.55), 0.15), 0.01, 1.0)
    return y, pred, confidence, female


def gaps_by_pandas(y, pred, female) -> pd.Series:
    """TPR(women) - TPR(men) per profession present with both genders: a plain groupby loop."""
    frame = pd.DataFrame({"profession": y, "female": female, "right": pred == y})
    gaps = {}
    for profession, bios in frame.groupby("profession"):
        women = bios.loc[bios["female"] == 1, "right"]
        men = bios.loc[bios["female"] == 0, "right"]
        if len(women) and len(men):
            gaps[profession] = women.mean() - men.mean()
    return pd.Series(gaps, dtype=np.float64)


def ece_by_pandas(correct, confidence, bins: int) -> float:
    """Top-label ECE with pandas' right-closed bins (scikit-learn's calibration edges)."""
    frame = pd.DataFrame({"conf": confidence, "right": correct.astype(float)})
    frame["bin"] = pd.cut(frame["conf"], np.linspace(0, 1, bins + 1), include_lowest=True)
    per_bin = frame.groupby("bin", observed=True).agg(
        conf=("conf", "mean"), acc=("right", "mean"), count=("right", "size")
    )
    return float((per_bin["count"] * (per_bin["conf"] - per_bin["acc"]).abs()).sum() / len(frame))


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """The bios of each bootstrap resample, drawn as the analysis draws them: blocks of BLOCK."""
    rng = np.random.default_rng(seed)
    blocks = [
        rng.integers(0, n, size=(min(BLOCK, resamples - done), n))
        for done in range(0, resamples, BLOCK)
    ]
    return np.vstack(blocks)


def test_gaps_with_gender_given_match_a_pandas_groupby_and_gap_rms_follows():
    y, pred, confidence, female = planted_bios()
    table = tpr_gap_by_profession(
        y_true=y, y_pred=pred, profession=y, gender=female, min_group_size=5
    )
    frame = pd.DataFrame({"profession": y, "female": female, "right": pred == y})
    cells = frame.groupby(["profession", "female"])["right"].agg(["size", "sum"]).unstack()
    np.testing.assert_array_equal(table["n_female"], cells[("size", 1)])
    np.testing.assert_array_equal(table["n_male"], cells[("size", 0)])
    np.testing.assert_array_equal(table["correct_female"], cells[("sum", 1)])
    np.testing.assert_array_equal(table["correct_male"], cells[("sum", 0)])
    direct = gaps_by_pandas(y, pred, female)
    assert list(table["gap"].dropna().index) == list(direct.index)
    np.testing.assert_allclose(table["gap"].dropna(), direct, rtol=0, atol=1e-15)
    assert gap_rms(gap=table["gap"]) == pytest.approx(np.sqrt((direct**2).mean()), abs=1e-15)
    overall = occupation_overall(
        y_true=y, predictions={"m": (pred, confidence)}, gender=female, seed=0, resamples=50
    )
    assert overall.loc[("m", "gap_rms"), "value"] == pytest.approx(
        np.sqrt((direct**2).mean()), abs=1e-15
    )


def test_gender_given_as_the_label_reproduces_the_gender_task():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 600)
    pred = np.where(rng.random(600) < 0.8, y, 1 - y)
    profession = rng.choice(["nurse", "poet", "dj"], 600)
    pd.testing.assert_frame_equal(
        tpr_gap_by_profession(y_true=y, y_pred=pred, profession=profession),
        tpr_gap_by_profession(y_true=y, y_pred=pred, profession=profession, gender=y == 1),
    )


@pytest.mark.parametrize(
    ("gender", "message"),
    [(np.full(4, 2), r"gender holds np.int64\(2\)"), (np.zeros(3), r"shape \(3,\)")],
)
def test_bad_gender_ids_are_refused(gender, message):
    with pytest.raises(ValueError, match=message):
        tpr_gap_by_profession(
            y_true=[0, 1, 2, 3], y_pred=[0, 1, 2, 3], profession=[0, 1, 2, 3], gender=gender
        )


def test_a_planted_gap_is_recovered_exactly_with_an_interval_holding_it():
    # profession 0: 60% of 500 women right, 80% of 500 men right (women misclassified twice as
    # often); professions 1 and 2: 70% of each gender right, no gap. GAP^RMS = sqrt(0.04 / 3).
    y = np.repeat([0, 1, 2], 1000)
    female = np.tile(np.repeat([1, 0], 500), 3)
    rank = np.tile(np.arange(500), 6)  # the position of a bio within its profession x gender
    share_right = np.where(y == 0, np.where(female == 1, 0.6, 0.8), 0.7)
    pred = np.where(rank < share_right * 500, y, (y + 1) % 3)
    table = tpr_gap_by_profession(y_true=y, y_pred=pred, profession=y, gender=female)
    assert (table.loc[0, "tpr_female"], table.loc[0, "tpr_male"]) == (0.6, 0.8)
    assert table.loc[0, "gap"] == pytest.approx(-0.2, abs=1e-15)
    assert table.loc[0, "gap_ci_low"] < -0.2 < table.loc[0, "gap_ci_high"] < 0
    np.testing.assert_array_equal(table.loc[[1, 2], "gap"], [0.0, 0.0])
    overall = occupation_overall(
        y_true=y, predictions={"m": (pred, np.full(3000, 0.7))}, gender=female, seed=3
    ).loc["m"]
    expected = np.sqrt(0.04 / 3)
    assert overall.loc["gap_rms", "value"] == pytest.approx(expected, abs=1e-15)
    assert overall.loc["gap_rms", "ci_low"] <= expected <= overall.loc["gap_rms", "ci_high"]
    result = procedure_gap_rms(
        correct=(pred == y)[None],
        profession=y,
        female=female == 1,
        resamples=500,
        seed=3,
        confidence=CONFIDENCE,
    )
    assert result.estimate == pytest.approx(expected, abs=1e-15)
    assert result.ci_low <= expected <= result.ci_high


def test_macro_f1_point_matches_scikit_learn_and_a_per_class_count():
    y, pred, confidence, female = planted_bios(seed=2)
    overall = occupation_overall(
        y_true=y, predictions={"m": (pred, confidence)}, gender=female, seed=0, resamples=20
    )
    per_class = []
    for c in np.unique(y):  # class 7 is predicted but never true: it adds no zero
        tp = np.sum((pred == c) & (y == c))
        fp, fn = np.sum((pred == c) & (y != c)), np.sum((pred != c) & (y == c))
        per_class.append(2 * tp / (2 * tp + fp + fn))
    assert overall.loc[("m", "macro_f1"), "value"] == pytest.approx(np.mean(per_class), abs=1e-15)
    assert overall.loc[("m", "macro_f1"), "value"] == pytest.approx(
        f1_score(y, pred, labels=np.unique(y), average="macro"), abs=1e-15
    )


def test_top_label_ece_by_hand():
    # bins [0, .5] and (.5, 1]. High bin: confidences .9 .8 .7 .9 (mean .825), 3 of 4 right
    # (.75): |.075| x 4. Low bin: .4 .3 (mean .35), 1 of 2 right: |-.15| x 2. ECE = .6 / 6 = .1
    y = np.array([3, 1, 2, 0, 5, 4])
    pred = np.array([3, 1, 0, 0, 1, 4])
    confidence = np.array([0.9, 0.8, 0.7, 0.9, 0.4, 0.3])
    female = np.array([0, 1, 0, 1, 0, 1])
    overall = occupation_overall(
        y_true=y, predictions={"m": (pred, confidence)}, gender=female, seed=0, resamples=10, bins=2
    )
    assert overall.loc[("m", "ece"), "value"] == pytest.approx(0.1, abs=1e-15)
    assert overall.loc[("m", "accuracy"), "value"] == pytest.approx(4 / 6)


def test_every_resample_equals_a_brute_force_recomputation_on_the_drawn_bios():
    y, pred, confidence, female = planted_bios(seed=4, n=400)
    resamples, seed, bins = BLOCK + 7, 5, 10  # two blocks
    draws = bootstrap_occupation_metrics(
        y_true=y,
        predictions={"m": (pred, confidence), "perfect": (y, np.ones(len(y)))},
        gender=female,
        resamples=resamples,
        seed=seed,
        bins=bins,
    )
    indices = bootstrap_indices(len(y), resamples, seed)
    # profession 6 has one woman: some resamples miss her, and GAP^RMS leaves it out there
    assert 0 < sum((female[idx] == 1)[y[idx] == 6].any() for idx in indices) < resamples
    expected = {metric: [] for metric in draws["m"]}
    for r, idx in enumerate(indices):
        yr, pr, cr, fr = y[idx], pred[idx], confidence[idx], female[idx]
        expected["accuracy"].append(np.mean(yr == pr))
        macro = f1_score(yr, pr, labels=np.unique(yr), average="macro", zero_division=0)
        weights = np.bincount(idx, minlength=len(y))  # the same resample as sample weights
        weighted = f1_score(
            y, pred, labels=np.unique(yr), average="macro", sample_weight=weights, zero_division=0
        )
        assert macro == pytest.approx(weighted, abs=1e-12)
        expected["macro_f1"].append(macro)
        expected["ece"].append(ece_by_pandas(yr == pr, cr, bins))
        expected["gap_rms"].append(np.sqrt((gaps_by_pandas(yr, pr, fr) ** 2).mean()))
        assert draws["perfect"]["gap_rms"][r] == 0.0  # paired: the same resample, all right
    for metric, values in expected.items():
        np.testing.assert_allclose(draws["m"][metric], values, rtol=0, atol=1e-12, err_msg=metric)
    overall = occupation_overall(
        y_true=y,
        predictions={"m": (pred, confidence)},
        gender=female,
        seed=seed,
        resamples=resamples,
        bins=bins,
    ).loc["m"]
    for metric in ("macro_f1", "ece", "gap_rms"):
        row = overall.loc[metric]
        values = np.array(expected[metric])
        if metric == "gap_rms":  # re-centred on the observed value: the resamples' bias off
            values = values - (values.mean() - row["value"])
        low, high = bounded_interval(row["value"], *percentile_interval(values, CONFIDENCE))
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-12)
        method = "recentred bootstrap" if metric == "gap_rms" else "bootstrap"
        assert row["ci_method"] == method
    assert list(overall.index) == [spec.name for spec in OCCUPATION_METRICS]
    assert overall.loc["accuracy", "ci_method"] == "wilson"


def test_confidence_outside_0_1_is_refused():
    with pytest.raises(ValueError, match=r"m: confidence holds np.float64\(1.5\)"):
        occupation_overall(
            y_true=[0, 1], predictions={"m": ([0, 1], [0.5, 1.5])}, gender=[0, 1], seed=0
        )


def test_gap_rms_ignores_nan_and_is_nan_with_nothing_left():
    assert gap_rms(gap=[0.3, np.nan, -0.4]) == pytest.approx(np.sqrt(0.125))
    assert np.isnan(gap_rms(gap=[np.nan]))
    assert np.isnan(gap_rms(gap=[]))


def run_gap_rms(right, profession, female) -> float:
    """One run's GAP^RMS over the professions with both genders, one profession at a time."""
    gaps = []
    for p in np.unique(profession):
        women, men = right[(profession == p) & female], right[(profession == p) & ~female]
        if women.size and men.size:
            gaps.append(women.mean() - men.mean())
    return float(np.sqrt(np.mean(np.square(gaps))))


def procedure_reference(correct, profession, female, baseline, resamples, seed):
    """procedure_gap_rms written out: per joint resample, each drawn seed's run GAP^RMS."""
    n_seeds, n = correct.shape
    out = []
    for v, w in joint_resamples(n_seeds, n, resamples, seed):
        for r in range(w.shape[1]):
            bios = np.repeat(np.arange(n), w[:, r].astype(int))
            seeds = np.repeat(np.arange(n_seeds), v[r].astype(int))
            p, f = profession[bios], female[bios]
            values = []
            for s in seeds:
                value = run_gap_rms(correct[s, bios], p, f)
                if baseline is not None:
                    base = baseline if baseline.ndim == 1 else baseline[s]
                    value -= run_gap_rms(base[bios], p, f)
                values.append(value)
            out.append(np.mean(values))
    return np.array(out)


def planted_runs(seed: int = 6, n: int = 300, seeds: int = 3):
    rng = np.random.default_rng(seed)
    profession = rng.integers(0, 4, n)
    female = rng.random(n) < 0.5
    profession[:4] = 4  # profession 4: one woman, three men
    female[:4] = [True, False, False, False]
    p_right = np.where((profession == 0) & female, 0.6, 0.85)
    correct = np.stack([rng.random(n) < p_right for _ in range(seeds)])
    return correct, profession, female, rng


@pytest.mark.parametrize("baseline_kind", [None, "model", "procedure"])
def test_procedure_gap_rms_equals_a_loop_over_the_same_joint_resamples(baseline_kind):
    correct, profession, female, rng = planted_runs()
    baseline = {
        None: None,
        "model": rng.random(correct.shape[1]) < 0.8,
        "procedure": correct & (rng.random(correct.shape) < 0.9),  # paired by seed
    }[baseline_kind]
    resamples, seed = 150, 8
    result = procedure_gap_rms(
        correct=correct,
        profession=profession,
        female=female,
        baseline_correct=baseline,
        resamples=resamples,
        seed=seed,
        confidence=CONFIDENCE,
    )
    direct = [run_gap_rms(c, profession, female) for c in correct]
    if baseline is not None:
        base = np.broadcast_to(baseline, correct.shape)
        direct = [d - run_gap_rms(b, profession, female) for d, b in zip(direct, base, strict=True)]
    assert result.estimate == pytest.approx(np.mean(direct), abs=1e-12)
    slow = procedure_reference(correct, profession, female, baseline, resamples, seed)
    # re-centred on the estimate before the interval and p-value are read (the bias taken off)
    low, high, p_value = interval_and_p(slow - (slow.mean() - np.mean(direct)), 1 - CONFIDENCE)
    assert (result.ci_low, result.ci_high, result.p_value) == pytest.approx(
        (low, high, p_value), abs=1e-12
    )
    assert result.sd_joint == pytest.approx(np.std(slow, ddof=1), abs=1e-12)
    assert (result.n_seeds, result.n_bios, result.resamples) == (3, 300, resamples)


def test_procedure_gap_rms_averages_each_runs_gap_rms_not_the_mean_gaps():
    # two runs with opposite gaps of 0.2 in the one profession: their mean gap is 0, but each
    # run, a classifier of its own, has GAP^RMS 0.2
    profession = np.zeros(20, dtype=int)
    female = np.repeat([True, False], 10)
    first = np.r_[np.arange(10) < 8, np.arange(10) < 6]  # women 0.8, men 0.6
    second = np.r_[np.arange(10) < 6, np.arange(10) < 8]  # women 0.6, men 0.8
    result = procedure_gap_rms(
        correct=np.stack([first, second]),
        profession=profession,
        female=female,
        resamples=100,
        seed=0,
        confidence=CONFIDENCE,
    )
    assert result.estimate == pytest.approx(0.2, abs=1e-15)


def test_a_procedure_against_itself_differs_by_exactly_zero():
    correct, profession, female, _ = planted_runs(seed=7)
    result = procedure_gap_rms(
        correct=correct,
        profession=profession,
        female=female,
        baseline_correct=correct.copy(),
        resamples=300,
        seed=1,
        confidence=CONFIDENCE,
    )
    assert (result.estimate, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)
    assert result.p_value == 1.0 and result.sd_joint == 0.0


def test_procedures_with_different_seeds_are_refused():
    correct, profession, female, _ = planted_runs()
    with pytest.raises(ValueError, match=r"3 runs against 2: .* need the same seeds"):
        procedure_gap_rms(
            correct=correct,
            profession=profession,
            female=female,
            baseline_correct=correct[:2],
            resamples=10,
            seed=0,
            confidence=CONFIDENCE,
        )
