"""LEACE erasure in both demos: the leakage table and the erasure check, recomputed.

The figures the analysis prints (results/analysis/leakage.csv, summary.json's erasure check)
are recomputed here from the erase stage's probe file and the prediction files with pandas and
statsmodels.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from pipeline.lib import paths


def _train_majority(study) -> int:
    train = pd.read_parquet(study / paths.split_path("train"))
    return int(train["gender_id"].mean() > 0.5)


@pytest.fixture(params=["gender", "occupation"])
def snapshot(request, demo_pipeline, occupation_pipeline):
    pipeline = demo_pipeline if request.param == "gender" else occupation_pipeline
    return pipeline["snapshot"]


def test_the_leakage_table_equals_a_recomputation_from_the_probe_file(snapshot):
    probes = pd.read_parquet(snapshot / paths.leakage_path("base"))
    test = pd.read_parquet(snapshot / paths.split_path("test"))
    assert sorted(probes["id"]) == sorted(test["id"])
    table = pd.read_csv(snapshot / paths.ANALYSIS_DIR / "leakage.csv").set_index("version")
    rate = float(np.mean(probes["gender_id"] == _train_majority(snapshot)))
    for version, column in (("as is", "pred"), ("erased", "pred_erased")):
        correct = int((probes[column] == probes["gender_id"]).sum())
        low, high = proportion_confint(correct, len(probes), alpha=0.05, method="wilson")
        row = table.loc[version]
        assert row["correct"] == correct and row["n"] == len(probes)
        assert row["majority_rate"] == pytest.approx(rate)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    # erased - as is: the difference of the two accuracies, its paired interval around it
    erased, as_is = table.loc["erased"], table.loc["as is"]
    assert erased["diff"] == pytest.approx(erased["accuracy"] - as_is["accuracy"], abs=1e-12)
    assert erased["diff_ci_low"] <= erased["diff"] <= erased["diff_ci_high"] < 0
    assert np.isnan(as_is["diff"])
    # The demo's base representation carries gender; erased, the probe is at the majority rate.
    assert table.loc["as is", "verdict"] == "above the majority rate"
    assert table.loc["as is", "ci_low"] > rate
    assert table.loc["erased", "verdict"] == "at the majority rate"
    assert table.loc["erased", "ci_low"] <= rate <= table.loc["erased", "ci_high"]


def test_the_gender_erasure_check_states_what_the_predictions_show(demo_pipeline):
    study = demo_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test"))
    rate = float(np.mean(test["gender_id"] == _train_majority(study)))
    summary = json.loads((study / paths.ANALYSIS_SUMMARY).read_text())
    sentence = summary["erasure_checks"]["leace_head_only"]
    runs = sorted((study / paths.PREDICTIONS_DIR).glob("leace_head_only@seed*.parquet"))
    assert len(runs) == 3
    accuracies, above = [], 0
    for file in runs:
        pred = pd.read_parquet(file).set_index("id")["pred"].loc[test["id"]].to_numpy()
        correct = int(np.sum(pred == test["gender_id"].to_numpy()))
        accuracies.append(correct / len(test))
        above += proportion_confint(correct, len(test), alpha=0.05, method="wilson")[0] > rate
    figures = re.search(r"with ([\d.]+)% accuracy .* majority rate ([\d.]+)%", sentence)
    assert float(figures.group(1)) == pytest.approx(100 * np.mean(accuracies), abs=0.05)
    assert float(figures.group(2)) == pytest.approx(100 * rate, abs=0.05)
    # the reading follows the intervals: none above the rate in the demo
    assert above == 0
    assert "no seed's 95% Wilson interval lies above it" in sentence
    report = (study / paths.ANALYSIS_REPORT).read_text()
    assert sentence in report


def test_leace_head_only_scores_equal_an_independent_computation(demo_pipeline):
    # The stock classifier's last-token hidden state, erased with the run's eraser by hand
    # (x - ((x - b) R^T) L^T), then the run's head: the predict stage's probabilities.
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    study = demo_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test")).head(8)
    model = AutoModelForSequenceClassification.from_pretrained(
        study / paths.BASE_MODEL_DIR, num_labels=2, use_safetensors=True
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(study / paths.BASE_MODEL_DIR)
    seed = 1234
    run = study / paths.trained_dir("leace_head_only", seed)
    eraser = {k: v.double().numpy() for k, v in load_file(run / "eraser.safetensors").items()}
    head = load_file(run / "head.safetensors")["score.weight"].double().numpy()
    with torch.no_grad():
        hidden = np.stack(
            [
                model.transformer(**tokenizer(text, return_tensors="pt"))[0][0, -1].double().numpy()
                for text in test["text"]
            ]
        )
    erased = hidden - ((hidden - eraser["bias"]) @ eraser["proj_right"].T) @ eraser["proj_left"].T
    logits = erased @ head.T
    expected = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    frame = pd.read_parquet(study / paths.predictions_path(paths.run_name("leace_head_only", seed)))
    shown = frame.set_index("id").loc[test["id"], "prob_female"].to_numpy()
    np.testing.assert_allclose(shown, expected, atol=1e-5)


@pytest.mark.parametrize("task", ["gender", "occupation"])
def test_the_mitigation_row_equals_a_recomputation_over_seeds(
    task, demo_pipeline, occupation_pipeline
):
    study = (demo_pipeline if task == "gender" else occupation_pipeline)["snapshot"]
    label = "gender_id" if task == "gender" else "profession_id"
    test = pd.read_parquet(study / paths.split_path("test"))
    seeds = sorted(
        int(p.stem.split("@seed")[1])
        for p in (study / paths.PREDICTIONS_DIR).glob("leace_head_only@seed*.parquet")
    )

    def accuracy(name: str, seed: int) -> float:
        frame = pd.read_parquet(study / paths.predictions_path(paths.run_name(name, seed)))
        pred = frame.set_index("id")["pred"].loc[test["id"]].to_numpy()
        return float(np.mean(pred == test[label].to_numpy()))

    procedure = pd.read_csv(study / paths.ANALYSIS_DIR / "procedure.csv")
    row = procedure[procedure["family"] == "mitigation"].iloc[0]
    assert (row["predictor_a"], row["predictor_b"]) == ("head_only", "leace_head_only")
    diffs = [accuracy("leace_head_only", s) - accuracy("head_only", s) for s in seeds]
    assert row["acc_diff"] == pytest.approx(np.mean(diffs), abs=1e-12)
    assert row["significant"] == (row["diff_ci_low"] > 0 or row["diff_ci_high"] < 0)
    report = (study / paths.ANALYSIS_REPORT).read_text()
    assert row["verdict"] in report
