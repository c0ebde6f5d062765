"""Predictions that prove whose they are: name, predictor column, metadata and fingerprint."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from pipeline.lib.errors import SuiteError
from pipeline.lib.prediction_files import predictions_frame, read_predictions, write_predictions


def write(path, name: str, made_from=()) -> None:
    frame = predictions_frame(
        [f"t{i}" for i in range(6)],
        np.linspace(0.1, 0.9, 6),
        predictor=name,
        model="m",
        params_hash="abc",
    )
    write_predictions(frame, path, {"stage": f"predict@{name}"}, made_from=made_from)


def set_metadata(path, change) -> None:
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"suite"] = change(meta[b"suite"])
    pq.write_table(table.replace_schema_metadata(meta), path)


def edit_json(**change):
    return lambda raw: json.dumps({**json.loads(raw), **change}).encode()


def refused(path, **kwargs) -> str:
    with pytest.raises(SuiteError) as err:
        read_predictions(path, **kwargs)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def test_a_copied_or_linked_file_is_refused(tmp_path):
    # issue 22: lora's predictions in zero_shot.parquet made "zero-shot" score like LoRA
    write(tmp_path / "lora.parquet", "lora")
    (tmp_path / "zero_shot.parquet").write_bytes((tmp_path / "lora.parquet").read_bytes())
    os.symlink(tmp_path / "lora.parquet", tmp_path / "random_head.parquet")
    assert read_predictions(tmp_path / "lora.parquet")["predictor"].eq("lora").all()
    for name in ("zero_shot", "random_head"):
        assert refused(tmp_path / f"{name}.parquet").startswith(
            f"holds the predictions of 'lora' (its predictor column), not of '{name}'"
        )
    # an explicit name wins over the file's (e.g. per-seed files)
    assert len(read_predictions(tmp_path / "zero_shot.parquet", predictor="lora")) == 6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (edit_json(predictor="zero_shot"), "its metadata names predictor 'zero_shot' but its rows"),
        (edit_json(fingerprint="0" * 16), "fingerprint '0000000000000000' does not match"),
        (edit_json(made_from={"models/lora": "f" * 64}), "fingerprint"),
        (
            edit_json(made_from=None),
            "its suite metadata's made_from is null, expected a mapping of the weights folders "
            "and files it was made from to their digests; run its stage again",
        ),
        (edit_json(made_from=["models/lora"]), "its suite metadata's made_from is list, expected"),
        (
            edit_json(made_from={"models/lora": None}),
            "its suite metadata's made_from is a mapping whose digests are not all text, expected",
        ),
        (lambda raw: b"{not json", "its suite metadata is not JSON ("),
        (lambda raw: b'["a list"]', "its suite metadata is a JSON list, expected an object"),
        (lambda raw: b"[" * 100_000 + b"]" * 100_000, "its suite metadata is not JSON ("),
        (lambda raw: b"\xff\xfe", "its suite metadata is not JSON ("),
        (
            lambda raw: json.dumps(
                {k: v for k, v in json.loads(raw).items() if k != "fingerprint"}
            ).encode(),
            "no 'fingerprint' in its suite metadata: not written by this suite's",
        ),
    ],
)
def test_edited_or_broken_identity_is_one_line(tmp_path, change, message):
    path = tmp_path / "lora.parquet"
    write(path, "lora")
    set_metadata(path, change)
    assert message in refused(path)


def test_predictions_of_weights_that_changed_since_are_stale(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models/lora").mkdir(parents=True)
    (tmp_path / "models/lora/adapter_model.safetensors").write_bytes(b"weights of run 1")
    write(tmp_path / "lora.parquet", "lora", made_from=["models/lora"])
    assert len(read_predictions("lora.parquet")) == 6
    (tmp_path / "models/lora/adapter_model.safetensors").write_bytes(b"weights of run 2")
    assert refused("lora.parquet").startswith(
        "made from another models/lora than the one here now (digest "
    )
    assert len(read_predictions("lora.parquet", check_sources=False)) == 6


def test_a_seeds_lora_predictions_go_stale_when_its_adapter_is_retrained(tmp_path, monkeypatch):
    # issue 26 item 5a: `predict lora --seed N` recorded no weights, so a retrained adapter's
    # old predictions were accepted. The loader is given only the seed, as the predict stage does.
    from pipeline.lib import model_predictors, paths
    from pipeline.lib.params import StageParams
    from pipeline.lib.runtime import CPU
    from tests.conftest import demo_params

    monkeypatch.chdir(tmp_path)
    adapter = paths.trained_dir("lora", 3)
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"weights of run 1")
    base = {"name_or_path": "tiny", "revision": None}
    monkeypatch.setattr(model_predictors, "adapter_metadata", lambda folder: {"base": base})
    monkeypatch.setattr(
        model_predictors,
        "load_lora_classifier",
        lambda *args, **kwargs: (torch.nn.Linear(1, 1), None),
    )
    monkeypatch.setattr(model_predictors, "describe", lambda model, reference: {})
    monkeypatch.setattr(model_predictors, "ClassifierScorer", lambda *args, **kwargs: None)
    params = StageParams(demo_params(), model_predictors.params_keys("lora"))
    predictor = model_predictors.load_lora(model_predictors.LoadContext(params, CPU, seed=3))
    assert predictor.name == "lora@seed3"
    assert predictor.weights == adapter

    write(tmp_path / "lora@seed3.parquet", "lora@seed3", made_from=[predictor.weights])
    assert len(read_predictions("lora@seed3.parquet")) == 6
    (adapter / "adapter_model.safetensors").write_bytes(b"weights of run 2")
    assert refused("lora@seed3.parquet").startswith(
        "made from another models/lora/seed_3 than the one here now (digest "
    )
