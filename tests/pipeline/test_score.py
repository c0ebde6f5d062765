"""Score your own bio: the CLI on the demo's real models (the session's `dvc repro` of it)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pipeline.lib import paths
from tests.conftest import run_module, study_predictors

FEMALE_BIO = "She has practised dentistry in Lyon for ten years. Her patients adore her."
MALE_BIO = "He is a software engineer in Berlin, where he leads a small team."

pytestmark = pytest.mark.slow


def score(study, *args: str) -> list[dict]:
    result = run_module("pipeline.commands.score", study, "--json", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_typed_bios_land_on_the_right_side_and_the_swap_flips_them(demo_pipeline):
    female, male = score(demo_pipeline["snapshot"], FEMALE_BIO, MALE_BIO)
    names = study_predictors(demo_pipeline["snapshot"])  # LoRA: every training seed's run
    assert set(female["predictions"]) == set(names)
    first = next(name for name in names if name.startswith("lora@seed"))
    lora_f, lora_m = female["predictions"][first], male["predictions"][first]
    assert lora_f["original"]["prob_female"] > 0.5 > lora_m["original"]["prob_female"]
    assert lora_f["swapped"]["prob_female"] < 0.5 < lora_m["swapped"]["prob_female"]
    assert female["variants"]["swapped"].startswith("He has practised")
    assert "They have practised" in female["variants"]["removed"]
    for entry in lora_f.values():
        assert entry["label"] == ("female" if entry["prob_female"] >= 0.5 else "male")


def test_numbers_equal_the_predict_stage_for_the_same_text(demo_pipeline, tmp_path):
    study = demo_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test")).head(6)
    bios = tmp_path / "bios.txt"
    bios.write_text("\n".join(test["text"]) + "\n")
    scored = score(study, "--file", str(bios))
    for name in study_predictors(study):
        stage = pd.read_parquet(study / paths.predictions_path(name)).set_index("id")
        expected = stage.loc[test["id"], "prob_female"].to_numpy()
        got = [bio["predictions"][name]["original"]["prob_female"] for bio in scored]
        assert got == pytest.approx(expected, abs=1e-6), name


def test_plain_output_names_every_predictor_and_the_reference(demo_pipeline):
    result = run_module("pipeline.commands.score", demo_pipeline["snapshot"], FEMALE_BIO)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in study_predictors(demo_pipeline["snapshot"]):
        assert f"  {name} " in result.stdout
    assert "(untrained reference)" in result.stdout and "swapped: He has practised" in result.stdout


def test_missing_models_and_no_bio_are_one_line(demo_pipeline, tmp_path):
    study = shutil.copytree(demo_pipeline["snapshot"], tmp_path / "study")
    shutil.rmtree(study / paths.LORA_DIR)
    result = run_module("pipeline.commands.score", study, FEMALE_BIO)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: lora:") and "(made by the train@" in last
    empty = run_module("pipeline.commands.score", study)
    assert empty.returncode == 1 and "no bio to score" in empty.stderr
