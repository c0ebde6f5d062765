"""The hostile matrix: malformed inputs of every format a stage reads.

Each case must stop the stage with exit code 1 and ONE line naming the file (what was expected,
what was found), no traceback, and leave the outputs already there byte for byte. The stages run
in-process through their real edge (``run_main``), so a case costs milliseconds; a few run as
real subprocesses too.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.lib import catalogue, contract, paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.prediction_files import predictions_frame, read_predictions, write_predictions
from pipeline.lib.synthetic_sample import generate_sample
from pipeline.lib.tables import read_profile, read_split
from tests.conftest import demo_params, run_module, write_params

RAW = ("hard_text", "profession", "gender")
LOCAL = {"train": None, "dev": None, "test": None, "path": None, "split_column": "split"}


def run_stage(main: Callable[[], None], study: Path, capsys, monkeypatch) -> str:
    """Run a stage's main in ``study`` through run_main; return its one error line."""
    monkeypatch.chdir(study)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        run_main(main)
    err = capsys.readouterr().err
    assert stopped.value.code == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def outputs(study: Path, files: list[Path]) -> dict[Path, bytes]:
    return {file: (study / file).read_bytes() for file in files}


# --- prepare: local files of every format -------------------------------------------------


@pytest.fixture(scope="module")
def raw_sample() -> dict[str, pd.DataFrame]:
    return generate_sample({"train": 80, "dev": 40, "test": 40}, seed=3)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, raw_sample) -> Path:
    """A study prepared from good local files (per split, CSV), outputs in place."""
    from pipeline.prepare import main

    study = tmp_path_factory.mktemp("hostile") / "study"
    (study / paths.RAW_DATA_DIR).mkdir(parents=True)
    for split, frame in raw_sample.items():
        frame.to_csv(study / paths.RAW_DATA_DIR / f"{split}.csv", index=False)
    files = {split: f"data/raw/{split}.csv" for split in paths.SPLITS}
    write_params(study, demo_params({"data": {"source": "local", "local": {**LOCAL, **files}}}))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(study)
        run_main(main)
    return study


PREPARE_OUTPUTS = [*(paths.split_path(split) for split in paths.SPLITS), paths.PROFILE]


def good(raw_sample, n: int = 8) -> pd.DataFrame:
    return raw_sample["train"].head(n).reset_index(drop=True)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def jsonl_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_json(orient="records", lines=True, force_ascii=False).encode()


def random_bytes(n: int = 600) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


def with_ids(frame: pd.DataFrame, ids: list) -> pd.DataFrame:
    return frame.assign(id=ids)


def replace_line(data: bytes, line: int, text: str) -> bytes:
    lines = data.decode().splitlines()
    lines[line] = text
    return ("\n".join(lines) + "\n").encode()


# (case id, suffix, make the train file's bytes from a good frame, what the error line says)
CASES: list[tuple[str, str, Callable[[pd.DataFrame], bytes], str]] = [
    # CSV
    ("csv-empty", "csv", lambda f: b"", "empty file (0 bytes), expected a CSV file"),
    ("csv-random-bytes", "csv", lambda f: random_bytes(), "not UTF-8 text (byte 0x"),
    ("csv-truncated", "csv", lambda f: csv_bytes(f)[: len(csv_bytes(f)) * 2 // 3], "not a CSV"),
    (
        "csv-latin-1",
        "csv",
        lambda f: (
            f.assign(hard_text="Elle est née à Montréal.").to_csv(index=False).encode("latin-1")
        ),
        "not UTF-8 text (byte 0xe9 on line 2)",
    ),
    (
        "csv-ragged-long",
        "csv",
        lambda f: replace_line(csv_bytes(f), 2, "a text,3,1,extra,more"),
        "not a CSV file (could not parse line 3: expected 3 fields, saw 5)",
    ),
    (
        "csv-ragged-short",
        "csv",
        lambda f: replace_line(csv_bytes(f), 4, "a text,3"),
        "not a CSV file (could not parse line 5: expected 3 fields, saw 2)",
    ),
    (
        "csv-bad-quoting",
        "csv",
        lambda f: replace_line(csv_bytes(f), 2, '"a text"x,3,1'),
        "not a CSV file (could not parse line 3:",
    ),
    ("csv-blank", "csv", lambda f: b"\n\n\n", "no header row, expected a CSV file"),
    ("csv-header-only", "csv", lambda f: b"hard_text,profession,gender\n", "no rows"),
    (
        "csv-missing-column",
        "csv",
        lambda f: csv_bytes(f.drop(columns="gender")),
        "missing column 'gender', expected a CSV file (UTF-8, header row) with the columns "
        "hard_text, profession, gender (found: hard_text, profession)",
    ),
    (
        "csv-json-array",
        "csv",
        lambda f: f.to_json(orient="records").encode(),
        "a JSON array, expected a CSV file (UTF-8, header row) with the columns hard_text",
    ),
    (
        "csv-duplicate-header",
        "csv",
        lambda f: b"hard_text,profession,gender,gender\na,1,0,1\n",
        "column 'gender' appears twice in the header",
    ),
    (
        "csv-wrong-type",
        "csv",
        lambda f: csv_bytes(f.assign(gender=["femme"] + [0] * (len(f) - 1))),
        "unknown gender 'femme' at row 0; write 0 or 1, male or female, M or F, man or woman",
    ),
    (
        "csv-profession-28",
        "csv",
        lambda f: csv_bytes(f.assign(profession=[1, 2, 28] + [0] * (len(f) - 3))),
        "profession label 28 at row 2 is out of range; expected an integer 0-27",
    ),
    (
        "csv-gender-2",
        "csv",
        lambda f: csv_bytes(f.assign(gender=[0, 1, 0, 2] + [0] * (len(f) - 4))),
        "gender label 2 at row 3 is out of range",
    ),
    (
        "csv-null-id",
        "csv",
        lambda f: csv_bytes(with_ids(f, ["a", "b", "", *map(str, range(len(f) - 3))])),
        "null id at row 2",
    ),
    (
        "csv-duplicate-id",
        "csv",
        lambda f: csv_bytes(with_ids(f, ["a", "b", "a", *map(str, range(len(f) - 3))])),
        "duplicate id 'a' at rows 0 and 2",
    ),
    (
        "csv-empty-bio",
        "csv",
        lambda f: csv_bytes(f.assign(hard_text=["x", "  ", *["y"] * (len(f) - 2)])),
        "hard_text at row 1 is empty",
    ),
    # parquet
    ("parquet-empty", "parquet", lambda f: b"", "empty file (0 bytes), expected a parquet file"),
    ("parquet-random-bytes", "parquet", lambda f: random_bytes(), "not a parquet file ("),
    (
        "parquet-truncated",
        "parquet",
        lambda f: parquet_bytes(f)[: len(parquet_bytes(f)) // 2],
        "not a parquet file (",
    ),
    ("parquet-holding-csv", "parquet", lambda f: csv_bytes(f), "not a parquet file ("),
    ("parquet-no-rows", "parquet", lambda f: parquet_bytes(f.head(0)), "no rows"),
    (
        "parquet-missing-column",
        "parquet",
        lambda f: parquet_bytes(f.drop(columns="hard_text")),
        "missing column 'hard_text', expected a parquet file with the columns",
    ),
    (
        "parquet-text-int",
        "parquet",
        lambda f: parquet_bytes(f.assign(hard_text=[5] * len(f))),
        "hard_text at row 0 is int, not text",
    ),
    (
        "parquet-text-null",
        "parquet",
        lambda f: parquet_bytes(f.assign(hard_text=["a", None, *["b"] * (len(f) - 2)])),
        "hard_text at row 1 is missing",
    ),
    (
        "parquet-gender-text",
        "parquet",
        lambda f: parquet_bytes(f.assign(gender=["0", "x", *["1"] * (len(f) - 2)])),
        "unknown gender 'x' at row 1; write 0 or 1",
    ),
    (
        "parquet-gender-half",
        "parquet",
        lambda f: parquet_bytes(f.assign(gender=[0.0, 0.5, *[1.0] * (len(f) - 2)])),
        "gender label 0.5 at row 1",
    ),
    (
        "parquet-gender-nan",
        "parquet",
        lambda f: parquet_bytes(f.assign(gender=[0.0, 1.0, np.nan, *[1.0] * (len(f) - 3)])),
        "gender label nan at row 2",
    ),
    (
        "parquet-profession-negative",
        "parquet",
        lambda f: parquet_bytes(f.assign(profession=[-1, *[0] * (len(f) - 1)])),
        "profession label -1 at row 0",
    ),
    (
        "parquet-null-id",
        "parquet",
        lambda f: parquet_bytes(with_ids(f, ["a", "b", "c", None, *map(str, range(len(f) - 4))])),
        "null id at row 3",
    ),
    (
        "parquet-duplicate-id",
        "parquet",
        lambda f: parquet_bytes(with_ids(f, [7, 8, 9, 7, *range(10, len(f) + 6)])),
        "duplicate id '7' at rows 0 and 3",
    ),
    # JSON lines
    ("jsonl-empty", "jsonl", lambda f: b"", "empty file (0 bytes), expected JSON lines"),
    ("jsonl-random-bytes", "jsonl", lambda f: random_bytes(), "not UTF-8 text (byte 0x"),
    (
        "jsonl-truncated",
        "jsonl",
        lambda f: jsonl_bytes(f)[: len(jsonl_bytes(f)) - 20],
        "not JSON lines (line 8: ",
    ),
    (
        "jsonl-latin-1",
        "jsonl",
        lambda f: jsonl_bytes(f.assign(hard_text="Il est né.")).decode().encode("latin-1"),
        "not UTF-8 text (byte 0xe9 on line 1)",
    ),
    (
        "jsonl-json-array",
        "jsonl",
        lambda f: f.to_json(orient="records").encode(),
        "a JSON array, expected JSON lines (one object per line) with the columns hard_text, "
        "profession, gender",
    ),
    (
        "jsonl-not-objects",
        "jsonl",
        lambda f: b'{"hard_text": "a", "profession": 1, "gender": 0}\n[1, 2, 3]\n',
        "line 2 is a JSON list, expected JSON lines",
    ),
    ("jsonl-blank", "jsonl", lambda f: b"\n \n", "no records (blank lines only)"),
    (
        "jsonl-missing-column",
        "jsonl",
        lambda f: jsonl_bytes(f.drop(columns="profession")),
        "missing column 'profession', expected JSON lines",
    ),
    (
        "jsonl-text-null",
        "jsonl",
        lambda f: jsonl_bytes(f.assign(hard_text=["a", "b", None, *["c"] * (len(f) - 3)])),
        "hard_text at row 2 is missing",
    ),
    (
        "jsonl-gender-text",
        "jsonl",
        lambda f: jsonl_bytes(f.assign(gender=["w", *[0] * (len(f) - 1)])),
        "unknown gender 'w' at row 0; write 0 or 1",
    ),
    (
        "jsonl-profession-99",
        "jsonl",
        lambda f: jsonl_bytes(f.assign(profession=[0, 99, *[0] * (len(f) - 2)])),
        "profession label 99 at row 1",
    ),
    (
        "jsonl-null-id",
        "jsonl",
        lambda f: jsonl_bytes(with_ids(f, ["a", None, *map(str, range(len(f) - 2))])),
        "null id at row 1",
    ),
    (
        "jsonl-duplicate-id-across-types",
        "jsonl",
        lambda f: jsonl_bytes(with_ids(f, [1, "1", *map(str, range(10, len(f) + 8))])),
        "duplicate id '1' at rows 0 and 1",
    ),
    # neither
    ("unknown-suffix", "txt", lambda f: csv_bytes(f), "unknown format '.txt', expected a"),
]


def write_local(study: Path, train_file: str, data: bytes | None) -> None:
    """Point the study's params at local files: ``train_file`` (bytes ``data``), good dev/test."""
    if data is not None:
        (study / train_file).write_bytes(data)
    files = {"train": train_file, "dev": "data/raw/dev.csv", "test": "data/raw/test.csv"}
    write_params(study, demo_params({"data": {"source": "local", "local": {**LOCAL, **files}}}))


@pytest.fixture
def study(prepared, tmp_path) -> Path:
    """A private copy of the prepared study."""
    return Path(shutil.copytree(prepared, tmp_path / "study"))


@pytest.mark.parametrize(
    ("suffix", "make", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_prepare_rejects_a_malformed_file_with_one_line(
    study, raw_sample, capsys, monkeypatch, suffix, make, message
):
    from pipeline.prepare import main

    before = outputs(study, PREPARE_OUTPUTS)
    train_file = f"data/raw/bad.{suffix}"
    write_local(study, train_file, make(good(raw_sample)))
    line = run_stage(main, study, capsys, monkeypatch)
    assert line.startswith(f"error: {train_file}"), line
    assert message in line, line
    assert outputs(study, PREPARE_OUTPUTS) == before


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda study: None, "data/raw/missing.csv: data file not found; check data.local"),
        (
            lambda study: (study / "data/raw/missing.csv").mkdir(),
            "data/raw/missing.csv: is a directory, expected a CSV file",
        ),
        (
            lambda study: (study / "data/raw/missing.csv").symlink_to(study / "nowhere.csv"),
            "data/raw/missing.csv: data file not found",
        ),
    ],
    ids=["missing", "directory", "dangling-link"],
)
def test_prepare_names_a_missing_file_or_a_directory(study, capsys, monkeypatch, setup, message):
    from pipeline.prepare import main

    before = outputs(study, PREPARE_OUTPUTS)
    setup(study)
    write_local(study, "data/raw/missing.csv", None)
    assert run_stage(main, study, capsys, monkeypatch).startswith(f"error: {message}")
    assert outputs(study, PREPARE_OUTPUTS) == before


def one_file_params(study: Path, frame: pd.DataFrame) -> None:
    frame.to_parquet(study / "data/raw/all.parquet", index=False)
    local = {**LOCAL, "path": "data/raw/all.parquet"}
    write_params(study, demo_params({"data": {"source": "local", "local": local}}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(split=[None, *f["split"][1:]]), "null split at row 0"),
        (lambda f: f.assign(split="validation"), "unknown split 'validation' in column 'split'"),
        (lambda f: f.drop(columns="split"), "no split column 'split'"),
        # the bad row is reported at its row in the file, not in its split
        (
            lambda f: f.assign(gender=np.where(np.arange(len(f)) == 101, 7, f["gender"])),
            "data/raw/all.parquet (split 'dev'): gender label 7 at row 101",
        ),
        (
            lambda f: f.assign(id=[f"x{i % 100}" for i in range(len(f))]),
            "id 'x0' is in both",
        ),
    ],
    ids=["null-split", "unknown-split", "no-split-column", "row-in-file", "id-in-two-splits"],
)
def test_one_file_with_a_split_column(study, raw_sample, capsys, monkeypatch, change, message):
    from pipeline.prepare import main

    before = outputs(study, PREPARE_OUTPUTS)
    both = pd.concat([f.assign(split=s) for s, f in raw_sample.items()], ignore_index=True)
    one_file_params(study, change(both))
    line = run_stage(main, study, capsys, monkeypatch)
    assert line.startswith("error: data/raw/all.parquet") or "id 'x0'" in line, line
    assert message in line, line
    assert outputs(study, PREPARE_OUTPUTS) == before


def test_shared_texts_and_small_splits_are_warned_about_not_refused(
    study, raw_sample, caplog, monkeypatch
):
    from pipeline.prepare import main

    test = raw_sample["test"].copy()
    test.loc[:2, "hard_text"] = raw_sample["train"]["hard_text"].iloc[10:13].to_numpy()
    test.to_csv(study / "data/raw/test.csv", index=False)
    raw_sample["dev"].head(1).to_csv(study / "data/raw/dev.csv", index=False)
    write_local(study, "data/raw/train.csv", None)
    monkeypatch.chdir(study)
    with caplog.at_level("WARNING"):
        run_main(main)  # no SystemExit: warnings only
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        w.startswith("3 of 40 test bios have the exact text of a train bio") for w in warnings
    ), warnings
    assert any(
        w.startswith("the dev split has 1 bio (data/raw/dev.csv), under 30: model selection")
        for w in warnings
    ), warnings
    assert len(pd.read_parquet(study / paths.split_path("dev"))) == 1


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(study, raw_sample, monkeypatch):
    from pipeline.prepare import main

    data = "\ufeff".encode() + csv_bytes(raw_sample["train"])
    write_local(study, "data/raw/bom.csv", data)
    monkeypatch.chdir(study)
    run_main(main)
    train = pd.read_parquet(study / paths.split_path("train"))
    assert train["text"].tolist() == raw_sample["train"]["hard_text"].tolist()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.csv", b"hard_text,profession,gender\na,1,0\nb,2\n", "expected 3 fields, saw 2"),
        ("bad.parquet", random_bytes(), "not a parquet file"),
        ("bad.jsonl", b'[{"hard_text": "a"}]', "a JSON array, expected JSON lines"),
    ],
)
def test_real_process_prints_one_line_and_exits_1(study, name, data, message):
    before = outputs(study, PREPARE_OUTPUTS)
    write_local(study, f"data/raw/{name}", data)
    result = run_module("pipeline.prepare", study)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: data/raw/{name}: ") and message in result.stderr
    assert outputs(study, PREPARE_OUTPUTS) == before


# --- the prepared tables other stages read --------------------------------------------------


@pytest.mark.parametrize(
    ("break_file", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty file (0 bytes), expected a parquet file"),
        (lambda p: p.write_bytes(random_bytes()), "not a parquet file"),
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "not a parquet file"),
        (lambda p: pd.read_parquet(p).head(0).to_parquet(p), "no bios (0 rows)"),
        (lambda p: pd.read_parquet(p).drop(columns="text").to_parquet(p), "missing column 'text'"),
        (
            lambda p: pd.read_parquet(p).assign(id=lambda f: [None, *f["id"][1:]]).to_parquet(p),
            "null id at row 0",
        ),
        (
            lambda p: pd.read_parquet(p).assign(gender_id=2).to_parquet(p),
            "gender_id label 2 at row 0 is out of range",
        ),
        (
            lambda p: pd.read_parquet(p).assign(text="").to_parquet(p),
            "text is empty or missing in 80 of 80 rows (rows 0, 1, 2, 3, 4 and 75 more)",
        ),
    ],
    ids=["empty", "random", "truncated", "no-rows", "no-text", "null-id", "gender-2", "empty-text"],
)
def test_a_broken_split_stops_train_probe_and_predict_readers(
    prepared, tmp_path, break_file, message
):
    path = Path(shutil.copy(prepared / paths.split_path("train"), tmp_path / "train.parquet"))
    break_file(path)
    with pytest.raises(SuiteError) as error:
        read_split(path, ("id", "text", "gender_id"))
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_probe_stage_on_a_corrupt_split_is_one_line(study, capsys, monkeypatch):
    from pipeline.probe import main

    (study / paths.split_path("test")).write_bytes(random_bytes())
    line = run_stage(main, study, capsys, monkeypatch)
    assert line.startswith("error: data/splits/test.parquet: not a parquet file")


# --- predictions and the profile: what analyze reads -----------------------------------------


def predictions(ids, prob, name: str = "lora") -> pd.DataFrame:
    return predictions_frame(ids, prob, predictor=name, model="m", params_hash="h")


def set_column(column: str, row: int, value):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        values = frame[column].astype(object).to_numpy(copy=True)
        values[row] = value
        frame[column] = values
        if column == "prob_female":
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        return frame

    return change


def write_raw(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


# (case id, how the good file at PATH is broken, what the error line says)
PREDICTION_CASES = [
    ("empty-file", lambda p, f: p.write_bytes(b""), "empty file (0 bytes), expected a parquet"),
    ("random-bytes", lambda p, f: p.write_bytes(random_bytes()), "not a parquet file ("),
    ("truncated", lambda p, f: p.write_bytes(p.read_bytes()[:200]), "not a parquet file ("),
    ("directory", lambda p, f: (p.unlink(), p.mkdir()), "is a directory, expected a parquet"),
    ("no-rows", lambda p, f: write_raw(f.head(0), p), "no predictions (0 rows)"),
    (
        "missing-column",
        lambda p, f: write_raw(f.drop(columns="pred"), p),
        "missing column 'pred', expected a parquet file with the columns id, predictor",
    ),
    (
        "prob-above-1",
        lambda p, f: write_raw(set_column("prob_female", 3, 1.5)(f), p),
        "prob_female 1.5 at row 3",
    ),
    (
        "prob-negative",
        lambda p, f: write_raw(set_column("prob_female", 4, -0.2)(f), p),
        "prob_female -0.2 at row 4",
    ),
    (
        "prob-nan",
        lambda p, f: write_raw(set_column("prob_female", 0, np.nan)(f), p),
        "prob_female nan at row 0",
    ),
    (
        "prob-inf",
        lambda p, f: write_raw(set_column("prob_female", 1, np.inf)(f), p),
        "prob_female inf at row 1",
    ),
    (
        "prob-text",
        lambda p, f: write_raw(
            f.assign(prob_female=f["prob_female"].astype(str)).pipe(
                set_column("prob_female", 2, "high")
            ),
            p,
        ),
        "prob_female nan at row 2",
    ),
    ("pred-2", lambda p, f: write_raw(set_column("pred", 5, 2)(f), p), "pred 2 at row 5"),
    (
        "pred-null",
        lambda p, f: write_raw(
            f.assign(pred=f["pred"].astype(float)).pipe(set_column("pred", 6, np.nan)), p
        ),
        "pred nan at row 6",
    ),
    (
        "pred-disagrees",
        lambda p, f: write_raw(f.assign(pred=1 - f["pred"]), p),
        "disagrees with prob_female",
    ),
    (
        "duplicate-id",
        lambda p, f: write_raw(set_column("id", 1, f["id"][0])(f), p),
        "duplicate id",
    ),
    ("null-id", lambda p, f: write_raw(set_column("id", 2, None)(f), p), "null id at row 2"),
    (
        "two-predictors",
        lambda p, f: write_raw(set_column("predictor", 0, "other")(f), p),
        "the predictor column holds 2 names",
    ),
]


@pytest.fixture(scope="module")
def analyzed(prepared, tmp_path_factory) -> Path:
    """The prepared study with two synthetic predictors, analyzed once (its outputs in place)."""
    from analysis.analyze import main

    study = Path(shutil.copytree(prepared, tmp_path_factory.mktemp("an") / "study"))
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["analyze"].update(bootstrap_resamples=20)
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    test = pd.read_parquet(study / paths.split_path("test"))
    rng = np.random.default_rng(0)
    y = test["gender_id"].to_numpy()
    for name, noise in (("zero_shot", 0.45), ("lora", 0.2)):
        prob = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, noise, len(y)), 0, 1)
        write_predictions(
            predictions(test["id"], prob, name), study / paths.predictions_path(name), {}
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(study)
        run_main(main)
    return study


ANALYSIS_OUTPUTS = [
    paths.ANALYSIS_METRICS,
    *(contract.TABLES[name].file() for name in contract.ANALYSIS_TABLES),
    paths.ANALYSIS_SUMMARY,
]


@pytest.mark.parametrize(
    ("break_file", "message"),
    [c[1:] for c in PREDICTION_CASES],
    ids=[c[0] for c in PREDICTION_CASES],
)
def test_read_predictions_rejects_a_broken_file(tmp_path, break_file, message):
    path = tmp_path / "lora.parquet"
    frame = predictions([f"t{i}" for i in range(10)], np.linspace(0.05, 0.95, 10))
    write_predictions(frame, path, {})
    break_file(path, frame)
    with pytest.raises(SuiteError) as error:
        read_predictions(path)
    assert str(error.value).startswith(f"{path}: "), error.value
    assert message in str(error.value), error.value


def test_read_predictions_checks_the_ids_against_the_split(tmp_path):
    path = tmp_path / "lora.parquet"
    write_predictions(predictions(["a", "b", "c"], [0.1, 0.6, 0.9]), path, {})
    assert read_predictions(path, expected_ids=["c", "b", "a"])["id"].tolist() == ["a", "b", "c"]
    with pytest.raises(SuiteError, match=r"1 ids of the split missing \(e.g. 'd'\) and 1 ids not"):
        read_predictions(path, expected_ids=["a", "b", "d"])


@pytest.mark.parametrize(
    ("break_file", "message"),
    [c[1:] for c in PREDICTION_CASES],
    ids=[c[0] for c in PREDICTION_CASES],
)
def test_analyze_stops_on_a_broken_predictions_file(
    analyzed, tmp_path, capsys, monkeypatch, break_file, message
):
    from analysis.analyze import main

    study = Path(shutil.copytree(analyzed, tmp_path / "study"))
    before = outputs(study, ANALYSIS_OUTPUTS)
    path = study / paths.predictions_path("lora")
    break_file(path, pd.read_parquet(path))
    line = run_stage(main, study, capsys, monkeypatch)
    assert line.startswith("error: results/predictions/lora.parquet: "), line
    assert message in line, line
    assert outputs(study, ANALYSIS_OUTPUTS) == before


GOOD_HISTORY = (
    "step,epoch,train_loss,dev_accuracy,dev_loss,learning_rate\n10,0.5,0.6,0.8,0.5,1e-3\n"
)
GOOD_METRICS = '{"best_step": 10, "dev_accuracy": 0.8}\n'


def copy_lora_to_zero_shot(study: Path) -> None:
    # issue 22: analyze then reported zero-shot at LoRA's accuracy, "+0.0 points, p = 1.0"
    target = study / paths.predictions_path("zero_shot")
    target.write_bytes((study / paths.predictions_path("lora")).read_bytes())


def link_lora_to_zero_shot(study: Path) -> None:
    target = study / paths.predictions_path("zero_shot")
    target.unlink()
    target.symlink_to((study / paths.predictions_path("lora")).resolve())


def set_suite_metadata(raw: bytes):
    def change(study: Path) -> None:
        import pyarrow.parquet as pq

        path = study / paths.predictions_path("lora")
        table = pq.read_table(path)
        pq.write_table(table.replace_schema_metadata({b"suite": raw}), path)

    return change


SEED = 1234  # the first of the demo's seeds.train, whose training files analyze reads


def training_files(history: bytes | str, metrics: bytes | str):
    def change(study: Path) -> None:
        (study / paths.train_history("lora", SEED)).parent.mkdir(parents=True, exist_ok=True)
        files = (
            (paths.train_history("lora", SEED), history),
            (paths.train_metrics("lora", SEED), metrics),
        )
        for file, content in files:
            data = content.encode() if isinstance(content, str) else content
            (study / file).write_bytes(data)

    return change


ANALYZE_CASES = [
    (
        "copied-predictions",
        copy_lora_to_zero_shot,
        "error: results/predictions/zero_shot.parquet: holds the predictions of 'lora' (its "
        "predictor column), not of 'zero_shot'",
    ),
    (
        "linked-predictions",
        link_lora_to_zero_shot,
        "error: results/predictions/zero_shot.parquet: holds the predictions of 'lora'",
    ),
    (
        "metadata-not-json",
        set_suite_metadata(b"{oops"),
        "error: results/predictions/lora.parquet: its suite metadata is not JSON (",
    ),
    (
        "history-random-bytes",
        training_files(random_bytes(), GOOD_METRICS),
        "error: results/training/lora/seed_1234/history.csv: not UTF-8 text",
    ),
    (
        "history-text-in-numbers",
        training_files(GOOD_HISTORY.replace("0.8,", "high,"), GOOD_METRICS),
        "error: results/training/lora/seed_1234/history.csv: dev_accuracy 'high' at row 0 is not a "
        "finite number",
    ),
    (
        "history-missing-column",
        training_files("step,dev_accuracy\n1,0.5\n", GOOD_METRICS),
        "error: results/training/lora/seed_1234/history.csv: missing column 'epoch'",
    ),
    (
        "metrics-truncated",
        training_files(GOOD_HISTORY, GOOD_METRICS[:12]),
        "error: results/training/lora/seed_1234/metrics.json: not JSON (",
    ),
    (
        "metrics-a-list",
        training_files(GOOD_HISTORY, "[1, 2]"),
        "error: results/training/lora/seed_1234/metrics.json: the top level is a JSON list",
    ),
    (
        "metrics-deeply-nested",
        training_files(GOOD_HISTORY, "[" * 100_000 + "]" * 100_000),
        "error: results/training/lora/seed_1234/metrics.json: JSON nested too deeply to read",
    ),
    (
        "metrics-best-step-text",
        training_files(GOOD_HISTORY, '{"best_step": "ten"}'),
        "error: results/training/lora/seed_1234/metrics.json: best_step is 'ten' (input should be "
        "a valid integer)",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [c[1:] for c in ANALYZE_CASES], ids=[c[0] for c in ANALYZE_CASES]
)
def test_analyze_refuses_foreign_or_corrupt_suite_files(
    analyzed, tmp_path, capsys, monkeypatch, change, message
):
    from analysis.analyze import main

    study = Path(shutil.copytree(analyzed, tmp_path / "study", symlinks=True))
    before = outputs(study, ANALYSIS_OUTPUTS)
    change(study)
    line = run_stage(main, study, capsys, monkeypatch)
    assert line.startswith(message), line
    assert outputs(study, ANALYSIS_OUTPUTS) == before


def professions_of(profile: dict) -> dict:
    return profile["splits"]["train"]["professions"]


PROFILE_CASES = [
    ("empty", lambda p, d: p.write_bytes(b""), "empty file (0 bytes)"),
    ("random-bytes", lambda p, d: p.write_bytes(random_bytes()), "not UTF-8 text"),
    ("truncated", lambda p, d: p.write_text(p.read_text()[:100]), "not JSON ("),
    (
        "array",
        lambda p, d: p.write_text("[1, 2]"),
        "the top level is a JSON list, expected the data profile",
    ),
    (
        "no-splits",
        lambda p, d: p.write_text('{"source": "x", "synthetic": false}'),
        "splits is missing",
    ),
    (
        "train-not-object",
        lambda p, d: (d["splits"].update(train=3), p.write_text(json.dumps(d))),
        "splits.train is 3 (input should be a valid dictionary",
    ),
    (
        "share-above-1",
        lambda p, d: (
            professions_of(d)["nurse"].update(share_women=1.5),
            p.write_text(json.dumps(d)),
        ),
        "splits.train.professions.nurse.share_women is 1.5 (input should be less than or equal "
        "to 1)",
    ),
    (
        "share-text",
        lambda p, d: (professions_of(d)["dj"].update(share_women="x"), p.write_text(json.dumps(d))),
        "professions.dj.share_women is 'x'",
    ),
    (
        "unknown-profession",
        lambda p, d: (professions_of(d).update(astronaut={}), p.write_text(json.dumps(d))),
        "unknown profession 'astronaut'",
    ),
    (
        "missing-profession",
        lambda p, d: (professions_of(d).pop("poet"), p.write_text(json.dumps(d))),
        "profession 'poet' missing",
    ),
    ("directory", lambda p, d: (p.unlink(), p.mkdir()), "is a directory"),
]


@pytest.mark.parametrize(
    ("break_file", "message"), [c[1:] for c in PROFILE_CASES], ids=[c[0] for c in PROFILE_CASES]
)
def test_read_profile_rejects_a_broken_profile(prepared, tmp_path, break_file, message):
    path = Path(shutil.copy(prepared / paths.PROFILE, tmp_path / "profile.json"))
    assert read_profile(path)["splits"]["train"]["rows"] == 80  # the good one reads
    break_file(path, json.loads(path.read_text()))
    with pytest.raises(SuiteError) as error:
        read_profile(path)
    assert str(error.value).startswith(f"{path}: "), error.value
    assert message in str(error.value), error.value


def test_analyze_reads_a_good_training_history(analyzed, tmp_path, monkeypatch):
    from analysis.analyze import main

    study = Path(shutil.copytree(analyzed, tmp_path / "study", symlinks=True))
    training_files(GOOD_HISTORY, GOOD_METRICS)(study)
    monkeypatch.chdir(study)
    run_main(main)
    assert "training" in (study / paths.ANALYSIS_DIR / "report.html").read_text().lower()


# --- command-line arguments ----------------------------------------------------------------


@pytest.mark.parametrize("seed", ["4294967296", str(2**64), "²", "-1", "1e3"])
def test_train_refuses_a_seed_outside_0_to_2_32_minus_1(tmp_path, capsys, monkeypatch, seed):
    # issue 26 item 6a: 2^32 passed the digit check and failed with a traceback in the seeding
    from pipeline.train import main, parse_run

    assert parse_run(["lora", "4294967295"]) == ("lora", 2**32 - 1)
    monkeypatch.setattr("sys.argv", ["pipeline.train", "lora", seed])
    line = run_stage(main, tmp_path, capsys, monkeypatch)
    assert line == (
        f"error: training seed {seed!r}: expected an integer in 0..2^32-1 (0..4294967295); "
        "use one of seeds.train"
    )


def test_train_seed_2_32_in_a_real_process_is_one_line(tmp_path):
    result = run_module("pipeline.train", tmp_path, "--", "lora", "4294967296")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: training seed '4294967296': expected an integer in 0..2^32-1 (0..4294967295); "
        "use one of seeds.train"
    ]


def test_analyze_stops_when_a_seed_of_seeds_train_has_no_predictions(
    analyzed, tmp_path, capsys, monkeypatch
):
    # issue 26 item 6e: with seeds.train [1234, 1235] and only lora@seed1234's file, analyze
    # gave a "procedure" over one seed without a word
    from analysis.analyze import main

    study = Path(shutil.copytree(analyzed, tmp_path / "study", symlinks=True))
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["seeds"]["train"] = [1234, 1235]
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    test = pd.read_parquet(study / paths.split_path("test"))
    run = paths.run_name("lora", 1234)
    frame = predictions(test["id"], np.full(len(test), 0.7), run)
    write_predictions(frame, study / paths.predictions_path(run), {})
    before = outputs(study, ANALYSIS_OUTPUTS)
    line = run_stage(main, study, capsys, monkeypatch)
    assert catalogue.predict_stage("lora", 1235) == "predict_seeded@lora-1235"
    assert line == (
        "error: results/predictions/lora@seed1235.parquet: not found, but seed 1235 is in "
        "seeds.train; make it with `dvc repro predict_seeded@lora-1235` (or remove the seed "
        "from seeds.train)"
    )
    assert outputs(study, ANALYSIS_OUTPUTS) == before
    # every seed's run there, or no run of the seeded predictor at all (an unseeded lora file):
    # nothing to refuse
    from analysis.analyze import require_every_seed

    both = {paths.run_name("lora", s): Path(f"{s}.parquet") for s in (1234, 1235)}
    assert require_every_seed(both, [1234, 1235]) is None
    assert require_every_seed({"lora": Path("lora.parquet")}, [1234, 1235]) is None
