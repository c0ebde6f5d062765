"""Hostile suite files: model folders, score input and baseline settings give one line."""

from __future__ import annotations

import argparse
import io
import re
import shutil

import pandas as pd
import pytest

from pipeline.lib.baseline_predictors import fit_tfidf_logreg
from pipeline.lib.errors import SuiteError
from pipeline.lib.model_loading import (
    adapter_metadata,
    base_model_source,
    build_classifier,
    load_tokenizer,
)
from pipeline.lib.params import TinyModelParams, parse_key
from pipeline.lib.synthetic_sample import generate_sample
from pipeline.lib.tiny_gpt2 import save_tiny_model
from tests.conftest import TINY, demo_params


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    """A tiny GPT-2 folder without pretraining (seconds): only its files matter here."""
    texts = generate_sample({"train": 60, "dev": 10, "test": 10}, seed=1)["train"]["hard_text"]
    tiny = TinyModelParams.model_validate({**TINY.model_dump(), "pretrain_steps": 0})
    out = tmp_path_factory.mktemp("m") / "base"
    save_tiny_model(texts.tolist(), tiny, seed=0, out_dir=out)
    return out


def copy_of(model, tmp_path):
    return shutil.copytree(model, tmp_path / "base")


@pytest.mark.parametrize(
    ("file", "content", "load", "message"),
    [
        (
            "model.safetensors",
            b"\x00" * 100,
            "model",
            "cannot load '{dir}' (revision None): Error while deserializing header",
        ),
        ("tokenizer.json", b'{"version": ', "tokenizer", "cannot load the tokenizer of '{dir}': "),
        ("tokenizer.json", b"\xff\xfe\x00", "tokenizer", "cannot load the tokenizer of '{dir}': "),
        ("config.json", b"[oops", "model", "cannot load the tokenizer of '{dir}': It looks like"),
        ("reference.json", b"[1", "reference", "{dir}/reference.json: not readable JSON ("),
        ("reference.json", b"[1]", "reference", "{dir}/reference.json: a JSON list, expected an"),
        ("reference.json", b"{}", "reference", "{dir}/reference.json: no 'source'; run the"),
    ],
)
def test_a_corrupt_model_folder_is_one_line(
    untrained_model, tmp_path, file, content, load, message
):
    folder = copy_of(untrained_model, tmp_path)
    (folder / file).write_bytes(content)
    with pytest.raises(SuiteError) as err:
        if load == "reference":
            base_model_source(folder)
        else:
            tokenizer = load_tokenizer(str(folder))
            if load == "model":
                build_classifier(str(folder), None, tokenizer)
    text = str(err.value)
    assert "\n" not in text and text.startswith(message.format(dir=folder)), text


def test_corrupt_adapter_metadata_is_one_line(tmp_path):
    (tmp_path / "metadata.json").write_text('{"base": ')
    with pytest.raises(SuiteError, match=r"metadata\.json: not readable JSON \("):
        adapter_metadata(tmp_path)
    (tmp_path / "metadata.json").write_text('{"other": 1}')
    with pytest.raises(SuiteError, match=r"metadata\.json: no 'base' object"):
        adapter_metadata(tmp_path)


def score_args(file: str) -> argparse.Namespace:
    return argparse.Namespace(file=file, bios=[])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"She is a nurse.\n\xff\xfe bad\n",
            "not UTF-8 text (byte 0xff on line 2), expected UTF-8",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file (NUL bytes), expected UTF-8 text"),
    ],
)
def test_score_input_that_is_not_text_is_one_line(tmp_path, monkeypatch, content, message):
    from pipeline.commands.score import read_bios

    path = tmp_path / "bios.txt"
    path.write_bytes(content)
    with pytest.raises(SuiteError) as err:
        read_bios(score_args(str(path)))
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}")
    # the same bytes on stdin
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(content)))
    with pytest.raises(SuiteError, match=f"^stdin: {re.escape(message)}"):
        read_bios(score_args("-"))
    # a byte-order mark is not part of the first bio (a blank line between bios is refused:
    # tests/pipeline/test_score.py)
    path.write_bytes("\ufeffShe is a nurse.\nHe paints.\n".encode())
    assert read_bios(score_args(str(path))) == ["She is a nurse.", "He paints."]


def test_a_min_df_larger_than_the_data_is_one_line():
    train = generate_sample({"train": 40, "dev": 10, "test": 10}, seed=2)["train"]
    train = pd.DataFrame({"text": train["hard_text"], "label": train["gender"]})
    params = parse_key(demo_params({"baselines": {"tfidf_logreg": {"min_df": 41}}}), "baselines")
    with pytest.raises(SuiteError, match=r"min_df = 41: larger than the train split \(40 bios\)"):
        fit_tfidf_logreg(train, params.tfidf_logreg)
    params = parse_key(demo_params({"baselines": {"tfidf_logreg": {"min_df": 40}}}), "baselines")
    with pytest.raises(SuiteError, match=r"tfidf_logreg cannot be fitted on the train split \("):
        fit_tfidf_logreg(train, params.tfidf_logreg)


def test_a_csv_bio_of_a_million_characters_is_read_as_parquet_would(tmp_path):
    from pipeline.lib.tables import read_table

    long_bio = "She " + "writes " * 150_000  # > 1M characters, past the csv module's default
    frame = pd.DataFrame({"hard_text": [long_bio, "He paints."], "profession": [1, 2]})
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.to_parquet(tmp_path / "train.parquet", index=False)
    from_csv = read_table(tmp_path / "train.csv", columns=("hard_text", "profession"))
    from_parquet = read_table(tmp_path / "train.parquet", columns=("hard_text", "profession"))
    assert from_csv["hard_text"].tolist() == from_parquet["hard_text"].tolist()
    assert len(from_csv["hard_text"][0]) > 1_000_000


def test_make_clean_demo_removes_only_what_the_pipeline_made(tmp_path):
    import subprocess

    from tests.conftest import copy_checkout

    clone = copy_checkout(tmp_path / "clone")
    tracked = subprocess.run(
        ["git", "ls-files", "demo"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.split()
    made = ["demo/data/splits/train.parquet", "demo/models/lora/seed_1234/adapter.bin"]
    made += ["demo/results/analysis/report.md", "demo/data/profile.json"]
    for file in made:
        (clone / file).parent.mkdir(parents=True, exist_ok=True)
        (clone / file).write_text("made by the pipeline")
    (clone / "demo/data/raw/mine.csv").write_text("hard_text,profession,gender\n")
    done = subprocess.run(["make", "clean-demo"], cwd=clone, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not any((clone / file).exists() for file in made)
    assert all((clone / file).exists() for file in tracked)  # was: 9 tracked files deleted
    assert (clone / "demo/data/raw/mine.csv").exists()  # your own data stays


def test_a_fifo_named_as_input_is_refused_without_reading_it(tmp_path):
    import os

    from pipeline.lib.tables import read_table

    os.mkfifo(tmp_path / "train.csv")  # reading it would block forever
    with pytest.raises(SuiteError, match=r"train\.csv: not a regular file, expected a CSV file"):
        read_table(tmp_path / "train.csv", columns=("hard_text",))
