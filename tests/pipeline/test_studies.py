"""``studies new``: a study of one's own from a CSV, exactly as a user makes and runs it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from dvc.utils.serialize._yaml import modify_yaml

from pipeline.commands import studies
from pipeline.lib import contract, paths
from pipeline.lib.io import write_parquet
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.raw_data import to_split_frame, validate_split
from pipeline.lib.synthetic_sample import generate_sample
from tests.conftest import REPO, dvc, run_module

# Cheap settings for the test only (a user keeps the written ones): a few steps of everything.
CHEAP = {
    "model.tiny.pretrain_steps": 10,
    "lora.max_steps": 6,
    "lora.eval_steps": 3,
    "lora.checkpoint_steps": 3,
    "head_only.max_steps": 6,
    "head_only.eval_steps": 3,
    "head_only.checkpoint_steps": 3,
    "leace_head_only.max_steps": 6,
    "leace_head_only.eval_steps": 3,
    "leace_head_only.checkpoint_steps": 3,
    "probe.max_bios": None,  # every test bio (30): the planted nurses among them
    "analyze.bootstrap_resamples": 50,
    "seeds.train": [1234],  # one run each: the seeds' stages are the same code (the demo has 3)
}


def _bios_csv(folder: Path, rows: int, seed: int = 3) -> Path:
    """A CSV of synthetic bios in the dataset's columns, without a split column."""
    frame = generate_sample({"all": rows}, seed=seed)["all"]
    path = folder / "bios.csv"
    frame[["hard_text", "profession", "gender"]].to_csv(path, index=False)
    return path


NURSE = PROFESSIONS.index("nurse")


def _plant_explicit_nurses(csv: Path, rows: int = 60) -> None:
    """Make the first ``rows`` bios nurses whose every sentence names their gender.

    The pronoun rule is then right on each of them (an error rate of exactly 0) and flips on
    each of them once the gendered words are swapped (a flip rate of exactly 100%): the rates
    at the edge of [0, 1] that once crashed the analysis's plots.
    """
    frame = pd.read_csv(csv)
    for i in range(rows):
        she = frame.loc[i, "gender"] == 1
        subject, possessive = ("She", "Her") if she else ("He", "His")
        frame.loc[i, "profession"] = NURSE
        frame.loc[i, "hard_text"] = (
            f"{subject} has worked on ward {i} for years. {possessive} patients trust "
            f"{'her' if she else 'him'}, and {subject.lower()} trains the new nurses."
        )
    frame.to_csv(csv, index=False)


@pytest.mark.slow  # a whole study's dvc repro (about a minute)
def test_a_csv_becomes_a_study_that_dvc_repro_runs_offline(tmp_path):
    csv = _bios_csv(tmp_path, 300)
    _plant_explicit_nurses(csv)
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
    # the planted nurses: rates of exactly 0 and 1, with intervals inside [0, 1] holding them
    groups = pd.read_csv(study / contract.TABLES["groups"].file())
    nurses = groups[(groups["predictor"] == "pronoun_rule") & (groups["profession_id"] == NURSE)]
    assert len(nurses) == 2 and (nurses["error_rate"] == 0).all()
    assert (nurses["error_ci_low"] == 0).all() and (nurses["error_ci_high"] <= 1).all()
    probes = pd.read_csv(study / contract.TABLES["probes"].file()).set_index(
        ["predictor", "profession", "variant"]
    )
    flips = probes.loc[("pronoun_rule", "nurse", "swapped")]
    assert flips["n"] > 0 and flips["flip_rate"] == 1.0 == flips["flip_ci_high"]
    assert 0 <= flips["flip_ci_low"] < 1
    assert (study / "results/analysis/report.html").stat().st_size > 0
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


# --- messy files: accepted with one note, or refused with the fix -------------------------------


def _bios(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    frame = generate_sample({"all": rows}, seed=seed)["all"]
    return frame[["hard_text", "profession", "gender"]].reset_index(drop=True)


def _new(folder: Path, *files: str):
    args = [a for file in files for a in ("--data", file)]
    return run_module("pipeline.commands.studies", folder, "new", "mine", *args, "--model", "tiny")


def _notes(stderr: str) -> list[str]:
    """The log lines' messages (after the level name)."""
    return [line.split(" INFO ", 1)[-1].split(" WARNING ", 1)[-1] for line in stderr.splitlines()]


def _labels(folder: Path, *files: str) -> list[tuple[str, int, int]]:
    """(bio, profession id, gender id) of every bio as the prepare stage's checks read them."""
    raw, sources, _ = studies.check_data([folder / f for f in files], "split", seed=1)
    frames = [validate_split(raw[s], s, sources[s]) for s in paths.SPLITS]
    return _rows(pd.concat(frames))


def _rows(frame: pd.DataFrame) -> list[tuple[str, int, int]]:
    columns = [frame[c].tolist() for c in ("hard_text", "profession", "gender")]
    return sorted(zip(*columns, strict=True))


def test_profession_names_and_gender_words_are_mapped_with_one_note(tmp_path):
    frame = _bios()
    frame.loc[: len(PROFESSIONS) - 1, "profession"] = range(len(PROFESSIONS))  # all 28 named
    named = frame.copy()
    forms = (lambda n: n.replace("_", " ").title(), str.upper, lambda n: n)
    named["profession"] = [forms[i % 3](PROFESSIONS[p]) for i, p in enumerate(frame["profession"])]
    words = {0: ("M", "man", "Male"), 1: ("f", "WOMAN", "female")}
    named["gender"] = [words[g][i % 3] for i, g in enumerate(frame["gender"])]
    assert "Interior Designer" in set(named["profession"])
    named.to_csv(tmp_path / "named.csv", index=False)
    made = _new(tmp_path, "named.csv")
    assert made.returncode == 0, made.stderr
    notes = [n for n in _notes(made.stderr) if "mapped" in n]
    assert notes == ["named.csv: mapped 28 profession names and 2 gender labels to the suite's ids"]
    frame.to_csv(tmp_path / "ids.csv", index=False)
    assert _labels(tmp_path, "named.csv") == _labels(tmp_path, "ids.csv") == _rows(frame)


@pytest.mark.parametrize(
    ("column", "value", "accepted"),
    [
        (
            "profession",
            "astronaut",
            "write an id 0-27 or one of the 28 names accountant, architect",
        ),
        ("gender", "nonbinary", "write 0 or 1, male or female, M or F, man or woman (any case)"),
    ],
)
def test_an_unknown_label_word_is_refused_with_what_is_accepted(tmp_path, column, value, accepted):
    frame = _bios(60)
    frame[column] = frame[column].astype(object)
    frame.loc[[4, 9], column] = value
    frame.to_csv(tmp_path / "bios.csv", index=False)
    made = _new(tmp_path, "bios.csv")
    assert made.returncode == 1
    lines = made.stderr.strip().splitlines()
    assert len(lines) == 1, made.stderr
    assert lines[0].startswith(f"error: bios.csv: unknown {column} {value!r} at row 4 (and 1 more")
    assert accepted in lines[0]
    assert not (tmp_path / "mine").exists()


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_files_are_read_with_their_delimiter(tmp_path, separator):
    frame = _bios(300)
    frame.to_csv(tmp_path / "comma.csv", index=False)
    frame.to_csv(tmp_path / "other.csv", index=False, sep=separator)
    made = _new(tmp_path, "other.csv")
    assert made.returncode == 0, made.stderr
    assert "240 train, 30 dev, 30 test" in made.stdout
    name = {";": "semicolon", "\t": "tab"}[separator]
    assert f"other.csv: read as {name}-separated" in _notes(made.stderr)
    assert _labels(tmp_path, "other.csv") == _labels(tmp_path, "comma.csv") == _rows(frame)


def test_a_file_no_delimiter_splits_evenly_names_the_delimiter_it_tried(tmp_path):
    text = "hard_text|profession|gender\nShe paints, mostly oils.|14|1\nHe codes.|24|0\n"
    (tmp_path / "pipes.csv").write_text(text)
    made = _new(tmp_path, "pipes.csv")
    assert made.returncode == 1
    line = made.stderr.strip()
    assert line == (
        "error: pipes.csv: not a CSV file (could not parse line 2: expected 1 fields, saw 2); "
        "read as comma-separated: no comma, semicolon or tab splits its first lines into the "
        "same number of fields"
    )


def test_every_empty_bio_is_counted_in_one_message(tmp_path):
    frame = _bios(60)
    empty = [3, 8, 15, 16, 30, 41, 59]
    frame.loc[empty, "hard_text"] = ["", "  ", "", "", "\t", "", ""]
    frame.to_csv(tmp_path / "bios.csv", index=False)
    made = _new(tmp_path, "bios.csv")
    assert made.returncode == 1
    assert made.stderr.strip() == (
        "error: bios.csv: hard_text is empty or missing in 7 of 60 rows (rows 3, 8, 15, 16, 30 "
        "and 2 more); write those bios or remove their rows"
    )


def test_a_spreadsheet_s_trailing_empty_rows_are_dropped_with_a_note(tmp_path):
    _bios(300).to_csv(tmp_path / "bios.csv", index=False)
    with (tmp_path / "bios.csv").open("a") as file:
        file.write(",,\n,,\n,,\n")
    made = _new(tmp_path, "bios.csv")
    assert made.returncode == 0, made.stderr
    assert "240 train, 30 dev, 30 test" in made.stdout
    assert (
        "bios.csv: dropped 3 empty rows at the end of the file (every field empty, as a "
        "spreadsheet leaves them)"
    ) in _notes(made.stderr)


def test_the_suite_s_own_split_files_are_accepted_back_and_duplicates_warned(tmp_path):
    frame = _bios(300)
    splits = studies.assign_splits(frame, seed=1)
    for split in paths.SPLITS:
        part = frame[splits == split].reset_index(drop=True)
        if split == "train":  # four exact repeats of train bios
            part = pd.concat([part, part.head(4)], ignore_index=True)
        prepared = to_split_frame(validate_split(part, split))
        write_parquet(prepared, tmp_path / f"{split}.parquet", metadata={"stage": "prepare"})
    made = _new(tmp_path, "train.parquet", "dev.parquet", "test.parquet")
    assert made.returncode == 0, made.stderr
    assert "244 train, 30 dev, 30 test" in made.stdout
    warned = [n for n in _notes(made.stderr) if "repeat the exact text" in n]
    assert len(warned) == 1 and warned[0].startswith("4 of 244 train bios repeat"), made.stderr
    labels = _labels(tmp_path, "train.parquet", "dev.parquet", "test.parquet")
    assert labels == _rows(pd.concat([frame, frame[splits == "train"].head(4)]))


# --- small studies: the smallest group scaled to the test split ---------------------------------


def _expected_min_group(study: Path, default: int = 30) -> tuple[int, int]:
    """The rule, recomputed from the copy's split column: (size, professions that qualify)."""
    raw = pd.read_csv(study / paths.RAW_DATA_DIR / "bios.csv")
    test = raw[raw["split"] == "test"]
    rarer = test.groupby(["profession", "gender"]).size().unstack(fill_value=0).min(axis=1)
    rarer = sorted(rarer.tolist() + [0] * 3, reverse=True)  # professions without a gender: 0
    size = min(default, max(5, rarer[2]))
    return size, sum(n >= size for n in rarer)


@pytest.mark.parametrize("rows", [300, 3000])
def test_studies_new_scales_the_smallest_group_to_its_test_split(tmp_path, rows):
    _bios(rows).to_csv(tmp_path / "bios.csv", index=False)
    made = _new(tmp_path, "bios.csv")
    assert made.returncode == 0, made.stderr
    study = tmp_path / "mine"
    size, qualifying = _expected_min_group(study)
    params = yaml.safe_load((study / "params.yaml").read_text())
    assert params["analyze"]["min_group_size"] == size < 30
    line = next(x for x in (study / "params.yaml").read_text().splitlines() if "min_group" in x)
    assert line.endswith(f"; {qualifying} profession(s) qualify")
    assert f"analyze.min_group_size: {size}, not the real study's 30" in made.stdout
    warned = [n for n in _notes(made.stderr) if "cannot carry any per-profession" in n]
    assert len(warned) == (1 if qualifying == 0 else 0)
    assert (rows, qualifying == 0) in {(300, True), (3000, False)}


@pytest.mark.slow  # a whole study's dvc repro (about a minute)
def test_studies_new_task_occupation_makes_a_study_of_that_task_that_runs(tmp_path):
    _bios_csv(tmp_path, 300)
    made = run_module(
        "pipeline.commands.studies",
        tmp_path,
        *("new", "mine", "--data", "bios.csv", "--model", "tiny", "--task", "occupation"),
    )
    assert made.returncode == 0, made.stderr
    study = tmp_path / "mine"
    assert yaml.safe_load((study / "params.yaml").read_text())["task"] == "occupation"
    assert "pipeline/catalogue_occupation.yaml" in (study / "dvc.yaml").read_text()
    with modify_yaml(study / "params.yaml") as doc:
        for key, value in CHEAP.items():
            *parents, last = key.split(".")
            node = doc
            for part in parents:
                node = node[part]
            node[last] = value
    run = dvc(["repro"], study)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Running stage 'baselines@majority'" in run.stdout
    assert "pronoun_rule" not in run.stdout  # a baseline of the gender task only
    summary = yaml.safe_load((study / paths.ANALYSIS_SUMMARY).read_text())
    assert summary["task"] == "occupation"
    gap_rms = pd.read_csv(study / contract.TABLES["gap_rms"].file())
    assert set(gap_rms["family"]) == {"primary", "secondary", "mitigation"}
    report = (study / paths.ANALYSIS_REPORT).read_text()
    assert report.split("\n\n")[2] == f"**{gap_rms.iloc[0]['verdict']}**"
    # setting the task back in params.yaml alone is refused: the dvc.yaml is the other task's
    with modify_yaml(study / "params.yaml") as doc:
        doc["task"] = "gender"
    again = dvc(["repro"], study)
    assert again.returncode != 0
    assert "task is 'gender' but this study's dvc.yaml runs the 'occupation'" in again.stderr
