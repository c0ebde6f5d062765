"""The occupation task's analysis on planted predictions: every figure against a direct count.

The test bios: eight occupations, 60 women and 60 men each. The trained procedure ("lora",
three seeds) is right on 90% of a gender's bios where that gender is the occupation's majority
(share of women in train above or below one half) and on 60% where it is the minority: a
planted proxy, the gap growing with the share of women. Zero-shot is right on 50% of every
cell: no gap. Each seed's wrong bios differ (each seed draws its own), so the procedure is a
procedure. One occupation ("accountant") has its women wrong twice as often as its men in
every run: 40% against 20%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.analyze import analyze
from analysis.report import render_report
from pipeline.lib import paths
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.params import parse_key
from pipeline.lib.prediction_files import class_predictions_frame
from tests.conftest import demo_params

SHARES = {  # the train split's share of women per planted occupation
    "accountant": 0.37,
    "surgeon": 0.15,
    "rapper": 0.10,
    "architect": 0.24,
    "teacher": 0.60,
    "nurse": 0.91,
    "dietitian": 0.93,
    "model": 0.80,
}
PER_CELL = 60
SEEDS = (1234, 1235, 1236)


def _frame(test: pd.DataFrame, pred: np.ndarray, name: str) -> pd.DataFrame:
    probs = np.full((len(pred), len(PROFESSIONS)), 0.5 / (len(PROFESSIONS) - 1))
    probs[np.arange(len(pred)), pred] = 0.5
    return class_predictions_frame(test["id"], probs, predictor=name, model=name, params_hash="x")


def _wrong(profession: np.ndarray) -> np.ndarray:
    """Another occupation than the true one (the next planted one)."""
    ids = [PROFESSIONS.index(p) for p in SHARES]
    return np.array([ids[(ids.index(p) + 1) % len(ids)] for p in profession])


def planted() -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    rows = [(p, g) for p in SHARES for g in (0, 1) for _ in range(PER_CELL)]
    test = pd.DataFrame(
        {
            "id": [f"b{i}" for i in range(len(rows))],
            "profession": [p for p, _ in rows],
            "profession_id": [PROFESSIONS.index(p) for p, _ in rows],
            "gender_id": [g for _, g in rows],
        }
    )
    truth = test["profession_id"].to_numpy()
    wrong = _wrong(truth)
    rng = np.random.default_rng(7)
    predictions = {}
    for seed in SEEDS:
        right = np.zeros(len(test), dtype=bool)
        for (p, g), index in test.groupby(["profession", "gender_id"]).groups.items():
            majority = (SHARES[p] > 0.5) == bool(g)
            rate = 0.9 if majority else 0.6
            if p == "accountant":
                rate = 0.6 if g == 1 else 0.8  # women wrong twice as often as men
            order = rng.permutation(np.asarray(index))
            right[order[: round(rate * PER_CELL)]] = True
        name = paths.run_name("lora", seed)
        predictions[name] = _frame(test, np.where(right, truth, wrong), name)
    half = (np.arange(len(test)) % 2) == 0
    predictions["zero_shot"] = _frame(test, np.where(half, truth, wrong), "zero_shot")
    shares = pd.Series({PROFESSIONS.index(p): s for p, s in SHARES.items()}, dtype=np.float64)
    return test, predictions, shares


def gaps_by_hand(test: pd.DataFrame, pred: np.ndarray) -> pd.Series:
    """TPR(women) - TPR(men) per occupation, counted with a plain loop."""
    out = {}
    for p in SHARES:
        rates = []
        for g in (1, 0):
            cell = (test["profession"] == p) & (test["gender_id"] == g)
            rates.append(float((pred[cell] == test["profession_id"][cell]).mean()))
        out[p] = rates[0] - rates[1]
    return pd.Series(out)


@pytest.fixture(scope="module")
def result():
    test, predictions, shares = planted()
    params = parse_key(
        demo_params({"analyze": {"bootstrap_resamples": 200, "min_group_size": 10}}), "analyze"
    )
    return (
        test,
        predictions,
        params,
        analyze(
            test, predictions, shares, params, seed=0, data={"source": "sample"}, task="occupation"
        ),
    )


def test_gaps_and_gap_rms_equal_a_direct_count(result):
    test, predictions, _, analysis = result
    for name, frame in predictions.items():
        by_hand = gaps_by_hand(test, frame["pred"].to_numpy())
        table = analysis.gaps[analysis.gaps["predictor"] == name].set_index("profession")["gap"]
        pd.testing.assert_series_equal(table.loc[by_hand.index], by_hand, check_names=False)
        overall = analysis.overall.set_index(["predictor", "metric"])
        assert overall.loc[(name, "gap_rms"), "value"] == pytest.approx(
            float(np.sqrt((by_hand**2).mean())), abs=1e-12
        )
        accuracy = float((frame["pred"] == test["profession_id"]).mean())
        assert overall.loc[(name, "accuracy"), "value"] == pytest.approx(accuracy, abs=1e-12)
    # the planted occupation: women right 60%, men 80% in every run
    accountant = analysis.gaps[analysis.gaps["profession"] == "accountant"].set_index("predictor")
    for seed in SEEDS:
        row = accountant.loc[paths.run_name("lora", seed)]
        assert (row["tpr_female"], row["tpr_male"]) == (pytest.approx(0.6), pytest.approx(0.8))
        assert row["gap_ci_low"] < -0.2 < row["gap_ci_high"]


def test_a_planted_proxy_is_a_significant_positive_slope_over_seeds(result):
    _, _, _, analysis = result
    over_seeds = analysis.seed_proxy.set_index("predictor").loc["lora"]
    assert over_seeds["slope"] > 0 and over_seeds["slope_ci_low"] > 0
    assert over_seeds["direction"] == "stereotype-consistent"
    for seed in SEEDS:  # and in every seed alone
        proxy = analysis.proxy.set_index("predictor").loc[paths.run_name("lora", seed)]
        assert proxy["pearson_r"] > 0.8 and proxy["pearson_p"] < 0.05
    # zero-shot has no gap anywhere: nothing to correlate
    assert analysis.proxy.set_index("predictor").loc["zero_shot", "direction"] != (
        "stereotype-consistent"
    )


def test_procedure_figures_equal_a_recomputation_and_the_report_opens_with_them(result):
    test, predictions, params, analysis = result
    truth = test["profession_id"].to_numpy()
    runs = [paths.run_name("lora", s) for s in SEEDS]
    accuracy = {n: float((predictions[n]["pred"].to_numpy() == truth).mean()) for n in predictions}
    row = analysis.procedure.set_index(["predictor_a", "predictor_b"]).loc[("zero_shot", "lora")]
    expected = np.mean([accuracy[r] - accuracy["zero_shot"] for r in runs])
    assert row["acc_diff"] == pytest.approx(expected, abs=1e-12)
    rms = {
        n: float(np.sqrt((gaps_by_hand(test, predictions[n]["pred"].to_numpy()) ** 2).mean()))
        for n in predictions
    }
    gap = analysis.gap_rms.set_index(["predictor_a", "predictor_b"]).loc[("zero_shot", "lora")]
    assert gap["gap_rms_a"] == pytest.approx(rms["zero_shot"], abs=1e-12)
    assert gap["gap_rms_b"] == pytest.approx(np.mean([rms[r] for r in runs]), abs=1e-12)
    assert gap["diff"] == pytest.approx(gap["gap_rms_b"] - gap["gap_rms_a"], abs=1e-12)
    # planted: lora widens the gaps (zero-shot has none), significantly
    assert gap["diff"] > 0 and gap["diff_ci_low"] > 0 and gap["significant"]
    assert "widens the gender gaps" in gap["verdict"]
    assert f"{100 * gap['diff']:+.1f} points" in gap["verdict"]
    report = render_report(analysis, params)
    first = [line for line in report.split("\n\n")[1:4]]
    assert first[0] == f"**{row['verdict']}**"
    assert first[1] == f"**{gap['verdict']}**"
    assert "(occupation classification)" in report.splitlines()[0]
