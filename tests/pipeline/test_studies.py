"""``studies new``: a study of one's own from a CSV, exactly as a user makes and runs it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from dvc.utils.serialize._yaml import modify_yaml

from pipeline.commands import studies
from pipeline.lib.synthetic_sample import generate_sample
from tests.conftest import REPO, dvc, run_module

# Cheap settings for the test only (a user keeps the written ones): a few steps of everything.
CHEAP = {
    "model.tiny.pretrain_steps": 10,
    "lora.max_steps": 6,
    "lora.eval_steps": 3,
    "lora.checkpoint_steps": 3,
    "probe.max_bios": 20,
    "analyze.bootstrap_resamples": 50,
}


def _bios_csv(folder: Path, rows: int, seed: int = 3) -> Path:
    """A CSV of synthetic bios in the dataset's columns, without a split column."""
    frame = generate_sample({"all": rows}, seed=seed)["all"]
    path = folder / "bios.csv"
    frame[["hard_text", "profession", "gender"]].to_csv(path, index=False)
    return path


def test_a_csv_becomes_a_study_that_dvc_repro_runs_offline(tmp_path):
    csv = _bios_csv(tmp_path, 300)
    made = run_module(
        "pipeline.commands.studies",
        tmp_path,
        "new",
        "mine",
        "--data",
        "bios.csv",
        "--model",
        "tiny",
    )
    assert made.returncode == 0, made.stderr
    assert "cd mine && dvc repro" in made.stdout
    assert "240 train, 30 dev, 30 test" in made.stdout
    study = tmp_path / "mine"
    params = yaml.safe_load((study / "params.yaml").read_text())
    assert params["data"]["local"]["path"] == "data/raw/bios.csv"
    assert params["model"]["source"] == "tiny"
    copied = pd.read_csv(study / "data/raw/bios.csv")
    assert copied.drop(columns="split").equals(pd.read_csv(csv))
    assert studies.stale_studies([study]) == []

    with modify_yaml(study / "params.yaml") as doc:
        for key, value in CHEAP.items():
            *parents, last = key.split(".")
            node = doc
            for part in parents:
                node = node[part]
            node[last] = value
    run = dvc(["repro"], study)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (study / "results/metrics.json").is_file()
    assert (study / "results/analysis/report.md").is_file()
    status = dvc(["status"], study)
    assert "up to date" in status.stdout, status.stdout  # only this study's stages


def test_bad_data_stops_at_once_with_the_prepare_stage_s_line(tmp_path):
    csv = _bios_csv(tmp_path, 60)
    frame = pd.read_csv(csv)
    frame.loc[7, "gender"] = 2
    frame.to_csv(csv, index=False)
    made = run_module(
        "pipeline.commands.studies",
        tmp_path,
        "new",
        "mine",
        "--data",
        "bios.csv",
        "--model",
        "tiny",
    )
    assert made.returncode == 1
    lines = made.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bios.csv"), made.stderr
    assert "gender" in lines[0] and "row 7" in lines[0]
    assert not (tmp_path / "mine").exists()


def test_the_split_for_you_is_stratified_and_seeded():
    frame = generate_sample({"all": 2000}, seed=5)["all"]
    splits = studies.assign_splits(frame, seed=1)
    assert np.array_equal(splits, studies.assign_splits(frame, seed=1))
    assert not np.array_equal(splits, studies.assign_splits(frame, seed=2))
    shares = {s: studies.SPLIT_CYCLE.count(s) / len(studies.SPLIT_CYCLE) for s in ("dev", "test")}
    for _, cell in frame.assign(split=splits).groupby(["profession", "gender"]):
        for split, share in shares.items():
            assert abs((cell["split"] == split).sum() - share * len(cell)) <= 1


def test_regeneration_covers_a_study_outside_the_checkout(tmp_path):
    study = tmp_path / "elsewhere"
    study.mkdir()
    (study / "dvc.yaml").write_text("stale\n")
    assert studies.stale_studies([study]) == [study]
    studies.write_dvc_yaml(study)
    assert studies.stale_studies([study]) == []
    code = Path(os.path.relpath(REPO, study)).as_posix()
    assert f"  - code: {code} # the suite's code" in (study / "dvc.yaml").read_text()
