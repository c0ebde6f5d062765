"""The occupation demo end to end (``demo/occupation``): real ``dvc repro`` in a fresh copy.

Its report's first sentences state the procedure-level accuracy and GAP^RMS differences; here
they are recomputed from the prediction files with plain pandas, and the committed lock is what
a fresh copy makes (the run leaves git clean).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.lib import catalogue, contract, paths
from pipeline.lib.labels import PROFESSIONS

pytestmark = pytest.mark.slow


def _predictions(study, name: str) -> pd.Series:
    frame = pd.read_parquet(study / paths.predictions_path(name))
    return frame.set_index("id")["pred"]


def _gap_rms(test: pd.DataFrame, pred: pd.Series) -> float:
    right = pred.loc[test["id"]].to_numpy() == test["profession_id"].to_numpy()
    frame = test.assign(right=right)
    tpr = frame.groupby(["profession_id", "gender_id"])["right"].mean().unstack()
    gaps = (tpr[1] - tpr[0]).dropna()
    return float(np.sqrt((gaps**2).mean()))


def _accuracy(test: pd.DataFrame, pred: pd.Series) -> float:
    return float((pred.loc[test["id"]].to_numpy() == test["profession_id"].to_numpy()).mean())


def test_a_fresh_copy_reproduces_the_committed_occupation_lock(occupation_pipeline):
    assert occupation_pipeline["status"] == "", occupation_pipeline["status"]


def test_every_occupation_predictor_writes_the_class_schema(occupation_pipeline):
    study = occupation_pipeline["snapshot"]
    params = yaml.safe_load((study / "params.yaml").read_text())
    seeds = params["seeds"]["train"]
    expected = {
        paths.run_name(spec.name, seed) if spec.seeded else spec.name
        for spec in catalogue.predictors("occupation")
        for seed in (seeds if spec.seeded else [None])
    }
    found = {p.stem for p in (study / paths.PREDICTIONS_DIR).glob("*.parquet")}
    assert found == expected
    for name in expected:
        frame = pd.read_parquet(study / paths.predictions_path(name))
        contract.check_table(frame, contract.CLASS_PREDICTIONS["occupation_predictions"], name)
        assert frame["pred"].between(0, len(PROFESSIONS) - 1).all()
        assert (frame["confidence"] >= 1 / len(PROFESSIONS) - 1e-9).all()


def test_the_report_opens_with_procedure_figures_that_equal_a_recomputation(occupation_pipeline):
    study = occupation_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test"))
    procedure = pd.read_csv(study / contract.TABLES["procedure"].file())
    gap_rms = pd.read_csv(study / contract.TABLES["gap_rms"].file())
    primary = procedure[procedure["family"] == "primary"].iloc[0]
    a, b = primary["predictor_a"], primary["predictor_b"]
    seeds = sorted(
        int(p.stem.split("@seed")[1])
        for p in (study / paths.PREDICTIONS_DIR).glob(f"{b}@seed*.parquet")
    )
    assert len(seeds) >= 2
    runs = [paths.run_name(b, s) for s in seeds]
    acc_a = _accuracy(test, _predictions(study, a))
    acc_runs = [_accuracy(test, _predictions(study, r)) for r in runs]
    assert primary["acc_diff"] == pytest.approx(np.mean(acc_runs) - acc_a, abs=1e-12)
    row = gap_rms[gap_rms["family"] == "primary"].iloc[0]
    assert (row["predictor_a"], row["predictor_b"]) == (a, b)
    rms_a = _gap_rms(test, _predictions(study, a))
    rms_runs = [_gap_rms(test, _predictions(study, r)) for r in runs]
    assert row["gap_rms_a"] == pytest.approx(rms_a, abs=1e-12)
    assert row["gap_rms_b"] == pytest.approx(np.mean(rms_runs), abs=1e-12)
    assert row["diff"] == pytest.approx(np.mean(rms_runs) - rms_a, abs=1e-12)
    assert row["diff_ci_low"] <= row["diff"] <= row["diff_ci_high"]
    # the verdict's words follow the numbers beside them
    assert f"{100 * row['diff']:+.1f} points" in row["verdict"]
    if row["significant"]:
        assert ("narrows" if row["diff"] < 0 else "widens") in row["verdict"]
        assert not row["diff_ci_low"] <= 0 <= row["diff_ci_high"]
    else:
        assert "no significant difference in GAP^RMS" in row["verdict"]
    # the report's first paragraphs are these two verdicts
    report = (study / paths.ANALYSIS_REPORT).read_text()
    paragraphs = report.split("\n\n")
    assert "occupation classification" in paragraphs[0]
    assert paragraphs[1] == f"**{primary['verdict']}**"
    assert paragraphs[2] == f"**{row['verdict']}**"
    summary = json.loads((study / paths.ANALYSIS_SUMMARY).read_text())
    assert summary["task"] == "occupation"
    contract.validate(contract.Summary, summary, paths.ANALYSIS_SUMMARY)


def test_the_scrubbed_gap_rms_equals_a_recomputation_from_the_probe_files(occupation_pipeline):
    study = occupation_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test"))
    probes = pd.read_parquet(study / paths.PROBES_FILE)
    removed = probes[probes["variant"] == "removed"]
    scrubbed = pd.read_csv(study / contract.TABLES["scrubbed"].file())
    table = scrubbed.set_index(["predictor", "version", "metric"])["value"]
    checked = 0
    for name in scrubbed["predictor"].unique():
        frame = pd.read_parquet(study / paths.probe_predictions_path(name)).set_index("id")
        source = test.set_index("id").loc[removed["source_id"]].reset_index()
        pred = pd.Series(frame.loc[removed["id"], "pred"].to_numpy(), index=source["id"])
        assert table[(name, "scrubbed", "gap_rms")] == pytest.approx(
            _gap_rms(source, pred), abs=1e-12
        )
        assert table[(name, "scrubbed", "accuracy")] == pytest.approx(
            _accuracy(source, pred), abs=1e-12
        )
        unchanged = _predictions(study, name)
        assert table[(name, "unchanged", "gap_rms")] == pytest.approx(
            _gap_rms(source, unchanged), abs=1e-12
        )
        checked += 1
    assert checked >= 6  # every predictor with probe predictions
