from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.params import DataParams, parse_key
from pipeline.prepare import prepare, stratified_subsample, validate_split
from tests.conftest import demo_params, run_module, write_params

LOCAL = {"train": None, "dev": None, "test": None, "path": None, "split_column": "split"}


def data_params(change: dict) -> DataParams:
    """The demo's data section with ``change`` merged in, validated."""
    return parse_key(demo_params({"data": change}), "data")


def local(**files: str) -> dict:
    """A ``data`` change reading local files (paths relative to the study directory)."""
    return {"source": "local", "local": {**LOCAL, **files}}


def good_frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hard_text": [f"She works as number {i}." for i in range(n)],
            "profession": [i % 28 for i in range(n)],
            "gender": [i % 2 for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="gender"), "missing column 'gender'"),
        (lambda f: f.assign(profession=[0, 1, 2, 28, 4, 5]), "profession label 28 at row 3"),
        (lambda f: f.assign(gender=[0, 1, -1, 0, 1, 0]), "gender label -1 at row 2"),
        (lambda f: f.assign(gender=[0, 1, 0.5, 0, 1, 0]), "gender label 0.5 at row 2"),
        (lambda f: f.assign(gender=["0", "1", "x", "0", "1", "0"]), "gender label 'x' at row 2"),
        (
            lambda f: f.assign(hard_text=["a", " ", "b", "c", "d", "e"]),
            "hard_text at row 1 is empty",
        ),
        (
            lambda f: f.assign(hard_text=["a", "b", None, "c", "d", "e"]),
            "hard_text at row 2 is missing",
        ),
        (lambda f: f.assign(hard_text=["a", "b", "c", 5, "d", "e"]), "row 3 is int, not text"),
        (lambda f: f.assign(id=["a", "b", "c", "a", "d", "e"]), "duplicate id 'a' at rows 0 and 3"),
        (lambda f: f.assign(id=["a", None, "c", "d", "e", "f"]), "null id at row 1"),
        (lambda f: f.assign(id=["a", "b", " ", "d", "e", "f"]), "null id at row 2"),
        (lambda f: f.iloc[:0], "no rows"),
    ],
)
def test_validation_errors_name_the_problem(change, message):
    with pytest.raises(SuiteError, match=message):
        validate_split(change(good_frame()), "train")


def test_an_id_in_two_splits_names_both_files(tmp_path, sample_raw, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    for split, frame in sample_raw.items():
        frame.assign(id=[f"{split}{i}" for i in range(len(frame))]).to_csv(
            tmp_path / f"data/raw/{split}.csv", index=False
        )
    test = pd.read_csv(tmp_path / "data/raw/test.csv", keep_default_na=False)
    test.loc[5, "id"] = "train0"
    test.to_csv(tmp_path / "data/raw/test.csv", index=False)
    files = {split: f"data/raw/{split}.csv" for split in paths.SPLITS}
    with pytest.raises(
        SuiteError, match=r"id 'train0' is in both data/raw/train\.csv and data/raw/test\.csv"
    ):
        prepare(data_params(local(**files)), seed=0)


def test_ids_are_stable_row_positions_or_given():
    assert validate_split(good_frame(), "dev")["id"].tolist()[:2] == ["dev-0000000", "dev-0000001"]
    given = validate_split(good_frame().assign(id=range(10, 16)), "dev")
    assert given["id"].tolist()[0] == "10"


def test_stratification_keeps_every_cell(sample_raw):
    frame = validate_split(sample_raw["train"], "train")
    cells = frame.groupby(["profession", "gender"]).size()
    kept = stratified_subsample(frame, 200, np.random.default_rng(0))
    assert len(kept) == 200
    kept_cells = kept.groupby(["profession", "gender"]).size()
    assert set(kept_cells.index) == set(cells.index)
    # proportional: the largest cell stays the largest
    assert kept_cells.idxmax() == cells.idxmax()
    assert kept.index.is_monotonic_increasing
    assert stratified_subsample(frame, None, np.random.default_rng(0)) is frame


def test_same_params_same_splits_and_distinct_ids():
    data = data_params({"sample": {"train": 400, "dev": 100, "test": 100}})
    first, again = prepare(data, seed=5), prepare(data, seed=5)
    for split in paths.SPLITS:
        pd.testing.assert_frame_equal(first[split], again[split])
    assert list(first["test"].columns) == list(
        ("id", "text", "profession_id", "profession", "gender_id", "gender")
    )
    assert not first["train"]["text"].equals(prepare(data, seed=6)["train"]["text"])


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_local_files_per_split(tmp_path, sample_raw, fmt, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    files = {}
    for split, frame in sample_raw.items():
        file = tmp_path / f"data/raw/{split}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(file)
        elif fmt == "csv":
            frame.to_csv(file, index=False)
        else:
            frame.to_json(file, orient="records", lines=True)
        files[split] = f"data/raw/{split}.{fmt}"
    splits = prepare(data_params(local(**files)), seed=0)
    assert len(splits["dev"]) == len(sample_raw["dev"])
    assert splits["dev"]["text"].tolist() == sample_raw["dev"]["hard_text"].tolist()


def test_local_single_file_with_split_column(tmp_path, sample_raw, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    both = pd.concat([f.assign(split=s) for s, f in sample_raw.items()], ignore_index=True)
    both.to_parquet(tmp_path / "data/raw/all.parquet")
    splits = prepare(data_params(local(path="data/raw/all.parquet")), seed=0)
    assert {s: len(f) for s, f in splits.items()} == {s: len(f) for s, f in sample_raw.items()}
    both.assign(split="validation").to_parquet(tmp_path / "data/raw/bad.parquet")
    with pytest.raises(SuiteError, match="unknown split 'validation'"):
        prepare(data_params(local(path="data/raw/bad.parquet")), 0)
    with pytest.raises(SuiteError, match="file not found"):
        prepare(data_params(local(path="data/raw/none.csv")), 0)


def test_stage_writes_identical_bytes_twice(tmp_path):
    params = demo_params(
        {
            "seeds": {"data": 3},
            "data": {
                "source": "sample",
                "sample": {"train": 300, "dev": 100, "test": 200},
                "max_rows": {"train": 150},
            },
        }
    )
    outputs = []
    for run in ("a", "b"):
        study = tmp_path / run
        write_params(study, params)
        result = run_module("pipeline.prepare", study)
        assert result.returncode == 0, result.stderr
        outputs.append({p: (study / paths.split_path(p)).read_bytes() for p in paths.SPLITS})
        outputs[-1]["profile"] = (study / paths.PROFILE).read_bytes()
    assert outputs[0] == outputs[1]
    profile = json.loads((tmp_path / "a" / paths.PROFILE).read_text())
    assert profile["synthetic"] is True
    assert profile["splits"]["train"]["rows"] == 150
    nurse = profile["splits"]["train"]["professions"]["nurse"]
    assert nurse["share_women"] == pytest.approx(
        nurse["female"] / (nurse["female"] + nurse["male"])
    )
    train = pd.read_parquet(tmp_path / "a" / paths.split_path("train"))
    assert (
        train["profession"].iloc[0] == ("accountant", "architect")[0]
        or train["profession"].notna().all()
    )


def test_bad_local_data_keeps_previous_outputs(tmp_path, sample_raw):
    write_params(tmp_path, demo_params({"data": {"sample": {"train": 50, "dev": 20, "test": 20}}}))
    assert run_module("pipeline.prepare", tmp_path).returncode == 0
    before = (tmp_path / paths.split_path("test")).read_bytes()
    bad = sample_raw["train"].assign(gender=5, split="train")
    (tmp_path / "data/raw").mkdir(parents=True)
    bad.to_csv(tmp_path / "data/raw/bad.csv", index=False)
    write_params(tmp_path, demo_params({"data": local(path="data/raw/bad.csv")}))
    result = run_module("pipeline.prepare", tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: data/raw/bad.csv (split 'train'): gender label 5 at row 0 is out of range"
    )
    assert (tmp_path / paths.split_path("test")).read_bytes() == before


def test_hub_unreachable_names_the_offline_sources(tmp_path):
    write_params(tmp_path, demo_params({"data": {"source": "hub"}}))
    result = run_module("pipeline.prepare", tmp_path)  # HF_HUB_OFFLINE=1 in tests
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot reach the Hugging Face Hub" in last
    assert "'local'" in last and "'sample'" in last


def test_hub_revision_null_loads_the_latest_with_a_warning(monkeypatch, caplog, sample_raw):
    # issue 26 item 5b: `revision: null` ("null: latest" in params.yaml) crashed on len(None)
    import datasets

    calls = []

    class Loaded:
        def __init__(self, frame: pd.DataFrame) -> None:
            self.frame = frame

        def to_pandas(self) -> pd.DataFrame:
            return self.frame

    def fake_load_dataset(name, revision, split):
        calls.append((name, revision, split))
        return Loaded(sample_raw[split])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = data_params({"source": "hub", "hub": {"revision": None}})
    with caplog.at_level("WARNING", logger="pipeline.prepare"):
        splits = prepare(data, seed=7)
    name = data.hub.name
    assert calls == [(name, None, "train"), (name, None, "dev"), (name, None, "test")]
    assert len(splits["test"]) == len(sample_raw["test"])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        f"data.hub.revision is null: loading the latest revision of {name}, which is not "
        "reproducible; pin a commit sha" in warnings
    )
