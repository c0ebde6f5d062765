from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.errors import SuiteError
from pipeline.lib.io import read_parquet_metadata
from pipeline.lib.prediction_files import (
    COLUMNS,
    fingerprint,
    predictions_frame,
    read_predictions,
    write_predictions,
)


def test_schema_round_trip(tmp_path):
    frame = predictions_frame(
        ["a", "b", "c"], [0.2, 0.5, 0.9], predictor="p", model="m", params_hash="h"
    )
    assert tuple(frame.columns) == COLUMNS
    assert frame["pred"].tolist() == [0, 1, 1]
    write_predictions(frame, tmp_path / "p.parquet", metadata={"seeds": {"train": 1}})
    pd.testing.assert_frame_equal(read_predictions(tmp_path / "p.parquet"), frame)
    meta = read_parquet_metadata(tmp_path / "p.parquet")
    assert meta["seeds"] == {"train": 1} and meta["predictor"] == "p" and meta["made_from"] == {}
    assert meta["fingerprint"] == fingerprint("p", ["h"], {})


def test_bad_predictions_rejected(tmp_path):
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        predictions_frame(["a"], [1.5], predictor="p", model="m", params_hash="h")
    with pytest.raises(ValueError, match="1 ids"):
        predictions_frame(["a"], np.zeros(2), predictor="p", model="m", params_hash="h")
    with pytest.raises(SuiteError, match="predictions file not found"):
        read_predictions(tmp_path / "none.parquet")
    pd.DataFrame({"id": ["a"]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(SuiteError, match="missing column 'predictor'"):
        read_predictions(tmp_path / "x.parquet")


def test_read_predictions_checks_probabilities_and_labels(tmp_path):
    path = tmp_path / "p.parquet"
    good = predictions_frame(["a", "b"], [0.2, 0.5], predictor="p", model="m", params_hash="h")
    for change, message in (
        ({"prob_female": [0.2, 1.5]}, "prob_female 1.5 at row 1 \\(id 'b'\\) is not a probability"),
        ({"prob_female": [np.nan, 0.5]}, "prob_female nan at row 0"),
        ({"pred": [0, 2]}, "pred 2 at row 1 \\(id 'b'\\) is not a gender id"),
        ({"pred": [1, 1]}, "pred 1 at row 0 \\(id 'a'\\) disagrees with prob_female 0.2"),
        ({"id": ["a", "a"]}, "duplicate id 'a' at rows 0 and 1"),
    ):
        good.assign(**change).to_parquet(path, index=False)
        with pytest.raises(SuiteError, match=f"^{path}: {message}"):
            read_predictions(path)


def test_tiny_study_fixture(tiny_study):
    assert (tiny_study / "data/splits/test.parquet").is_file()
    assert (tiny_study / "models/base/model.safetensors").is_file()
