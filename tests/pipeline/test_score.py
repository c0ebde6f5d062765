"""Score your own bio: the CLI on the demo's real models (the session's `dvc repro` of it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from pipeline.lib import catalogue, paths
from tests.conftest import run_module, stage_env, study_predictors

FEMALE_BIO = "She has practised dentistry in Lyon for ten years. Her patients adore her."
MALE_BIO = "He is a software engineer in Berlin, where he leads a small team."
LONG_BIO = MALE_BIO + " He also mentors junior engineers on weekends." * 60

pytestmark = pytest.mark.slow


def score(study, *args: str) -> list[dict]:
    result = run_module("pipeline.commands.score", study, "--json", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def scored(demo_pipeline, tmp_path_factory) -> dict:
    """One ``score --json`` run (every model loads once) over the bios these tests read: the
    two typed bios, a long one, and the first six test bios of the demo."""
    study = demo_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test")).head(6)
    bios = tmp_path_factory.mktemp("score") / "bios.txt"
    bios.write_text("\n".join([FEMALE_BIO, MALE_BIO, LONG_BIO, *test["text"]]) + "\n")
    female, male, long, *rest = score(study, "--file", str(bios))
    return {"female": female, "male": male, "long": long, "test": test, "test_scores": rest}


@pytest.fixture(scope="module")
def plain(demo_pipeline):
    """What ``score`` prints for five bios (one too long), run once for the module."""
    bios = [LONG_BIO, FEMALE_BIO, MALE_BIO, FEMALE_BIO, MALE_BIO]
    result = run_module("pipeline.commands.score", demo_pipeline["snapshot"], *bios)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_typed_bios_land_on_the_right_side_and_the_swap_flips_them(demo_pipeline, scored):
    female, male = scored["female"], scored["male"]
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


def test_numbers_equal_the_predict_stage_for_the_same_text(demo_pipeline, scored):
    study, test = demo_pipeline["snapshot"], scored["test"]
    for name in study_predictors(study):
        stage = pd.read_parquet(study / paths.predictions_path(name)).set_index("id")
        expected = stage.loc[test["id"], "prob_female"].to_numpy()
        got = [bio["predictions"][name]["original"]["prob_female"] for bio in scored["test_scores"]]
        assert got == pytest.approx(expected, abs=1e-6), name


def test_plain_output_names_every_predictor_and_the_reference(demo_pipeline, plain):
    for name in study_predictors(demo_pipeline["snapshot"]):
        assert f"  {name} " in plain.stdout
    assert "(untrained reference)" in plain.stdout
    assert "swapped: He has practised" in plain.stdout


def test_missing_models_and_no_bio_are_one_line(demo_pipeline, tmp_path):
    study = shutil.copytree(demo_pipeline["snapshot"], tmp_path / "study")
    shutil.rmtree(study / (paths.TRAINED_DIR / "lora"))
    result = run_module("pipeline.commands.score", study, FEMALE_BIO)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: lora:") and "(made by the train@" in last
    empty = run_module("pipeline.commands.score", study)
    assert empty.returncode == 1 and "no bio to score" in empty.stderr


def test_bad_input_is_one_line_before_any_model_loads(tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Café owner; she runs it.\n".encode("latin-1"))
    gap = tmp_path / "gap.txt"
    gap.write_text(f"{FEMALE_BIO}\n\n{MALE_BIO}\n")
    cases = {
        ("--file", str(latin1)): "latin1.txt: not UTF-8 text (byte 0xe9 on line 1)",
        ("--file", str(gap)): "gap.txt: line 2 is empty; give one non-empty bio per line",
        (FEMALE_BIO, "  "): "the arguments: bio 2 is empty; give each bio as non-empty text",
    }
    for args, message in cases.items():
        result = run_module("pipeline.commands.score", tmp_path, *args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ") and message in lines[0], lines[0]


def test_the_command_refuses_bad_input_before_torch_or_the_analysis_is_imported(tmp_path):
    # a typo in a bio costs a fraction of a second, not the seconds torch and transformers take
    code = (
        "import sys\n"
        "from pipeline.commands import score\n"
        "heavy = {'torch', 'transformers', 'sklearn', 'fairlearn', 'analysis'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=stage_env(), capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_from_the_repo_root_it_suggests_the_demo(tmp_path, monkeypatch, capsys):
    from pipeline.commands import score as command

    (tmp_path / "demo" / paths.BASE_MODEL_DIR).mkdir(parents=True)
    shutil.copy(command.REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.setattr(command, "REPO", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["score", FEMALE_BIO])
    with pytest.raises(SystemExit):
        command.run_main(command.main)
    assert capsys.readouterr().err.strip().endswith("add --study demo")


def test_json_says_which_predictor_truncated_a_long_bio(scored):
    original = {
        name: p["original"]["truncated"] for name, p in scored["long"]["predictions"].items()
    }
    assert {paths.split_run(name)[0] for name in original} == set(catalogue.names())
    models = catalogue.names("model")  # the LMs read max_length tokens; baselines read it all
    assert original == {name: paths.split_run(name)[0] in models for name in original}
    short = scored["male"]
    assert not any(p["original"]["truncated"] for p in short["predictions"].values())


def test_a_bio_argument_that_is_not_utf8_is_one_line(tmp_path):
    # issue 26 item 6b: undecodable argv bytes arrive as lone surrogates and crashed later
    bio = os.fsdecode(b"Nurse \xff\xfe in Lyon")  # what a latin-1 terminal would pass
    result = run_module("pipeline.commands.score", tmp_path, FEMALE_BIO, bio)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: the arguments: bio 2 is not UTF-8 text (byte 0xff at byte 6); type it in a "
        "UTF-8 terminal, or save the bios as UTF-8 and pass --file FILE"
    ]


def test_the_table_alone_on_stdout_and_truncation_counted_in_bios(plain):
    assert " INFO " not in plain.stderr and " INFO " not in plain.stdout  # quiet by default
    # one of the five bios is too long (each is scored as three variants: still five bios)
    assert "1 of 5 bios longer than predict.max_length" in plain.stdout
    assert "of 15" not in plain.stdout + plain.stderr
