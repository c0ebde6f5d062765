"""The one schema every predictor writes, and its reader.

One row per (predictor, bio)::

    id            str      the bio's stable id (join key to the split; labels are NOT copied)
    predictor     str      e.g. "zero_shot", "random_head", "lora", "pronoun_rule", "tfidf_logreg"
    prob_female   float64  predicted probability that the subject is female, in [0, 1]
    pred          int64    predicted gender id (0 male, 1 female)
    model         str      what made it: model name/path and revision, or the baseline's name
    params_hash   str      hash of the params that made it (pipeline.lib.provenance.params_hash)

``pred`` is always ``prob_female >= 0.5`` (:data:`THRESHOLD`). Run metadata (params, seeds,
versions, device, git revision) sits in the parquet schema metadata
(``pipeline.lib.io.read_parquet_metadata``). :func:`read_predictions` checks all of this before any
statistic sees a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipeline.lib.errors import SuiteError
from pipeline.lib.io import write_parquet
from pipeline.lib.tables import check_ids, read_table

COLUMNS = ("id", "predictor", "prob_female", "pred", "model", "params_hash")
THRESHOLD = 0.5  # pred = prob_female >= THRESHOLD


def predictions_frame(
    ids: Any,
    prob_female: Any,
    *,
    predictor: str,
    model: str,
    params_hash: str,
) -> pd.DataFrame:
    """Build a predictions frame in the shared schema; ``pred`` is ``prob_female >= 0.5``."""
    prob = np.asarray(prob_female, dtype=np.float64)
    if prob.ndim != 1 or len(prob) != len(ids):
        raise ValueError(f"{len(ids)} ids but probabilities of shape {prob.shape}")
    if not np.isfinite(prob).all() or (prob < 0).any() or (prob > 1).any():
        raise ValueError(f"{predictor}: probabilities must be finite and in [0, 1]")
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object).astype(str).to_numpy(),
            "predictor": predictor,
            "prob_female": prob,
            "pred": (prob >= THRESHOLD).astype(np.int64),
            "model": model,
            "params_hash": params_hash,
        }
    )


def write_predictions(
    frame: pd.DataFrame, path: str | os.PathLike[str], metadata: dict[str, Any]
) -> None:
    """Write a predictions frame atomically with its run metadata."""
    if tuple(frame.columns) != COLUMNS:
        raise ValueError(f"predictions columns {list(frame.columns)} != {list(COLUMNS)}")
    write_parquet(frame, path, metadata=metadata)


def check_predictions(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check a predictions frame; return it with ``id`` as text and ``pred`` as int64.

    Stops with one line naming ``where`` at: no rows, a null or repeated id, a predictor column
    holding other than one name, a probability that is not a finite number in [0, 1], a ``pred``
    that is not 0 or 1 or that disagrees with ``prob_female >= 0.5``.
    """
    if frame.empty:
        raise SuiteError(f"{where}: no predictions (0 rows); run its predict stage again")
    frame = frame.copy()
    frame["id"] = check_ids(frame, where)
    names = frame["predictor"].dropna().unique()
    if len(names) != 1 or frame["predictor"].isna().any():
        shown = ", ".join(repr(name) for name in names[:3])
        raise SuiteError(
            f"{where}: the predictor column holds {len(names)} names ({shown}) or nulls, "
            "expected one predictor per file"
        )

    def first_bad(mask: np.ndarray, column: str, expected: str) -> None:
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            value = frame[column].iloc[row]
            value = value.item() if isinstance(value, np.generic) else value
            raise SuiteError(
                f"{where}: {column} {value!r} at row {row} (id {frame['id'].iloc[row]!r}) "
                f"{expected}"
            )

    def numbers(column: str) -> np.ndarray:
        values = frame[column]
        if values.dtype == bool:
            values = values.astype(np.int64)
        as_numbers = pd.to_numeric(values, errors="coerce")
        return as_numbers.to_numpy(dtype=np.float64, na_value=np.nan)

    prob = numbers("prob_female")
    with np.errstate(invalid="ignore"):
        first_bad(
            ~np.isfinite(prob) | (prob < 0) | (prob > 1),
            "prob_female",
            "is not a probability; expected a finite number in [0, 1]",
        )
    pred = numbers("pred")
    first_bad(~np.isin(pred, (0.0, 1.0)), "pred", "is not a gender id; expected 0 or 1")
    disagree = pred != (prob >= THRESHOLD)
    if disagree.any():
        row = int(np.flatnonzero(disagree)[0])
        raise SuiteError(
            f"{where}: pred {int(pred[row])} at row {row} (id {frame['id'].iloc[row]!r}) "
            f"disagrees with prob_female {float(prob[row])!r}; "
            f"expected pred = prob_female >= {THRESHOLD}"
        )
    frame["prob_female"] = prob
    frame["pred"] = pred.astype(np.int64)
    return frame


def read_predictions(
    path: str | os.PathLike[str],
    *,
    expected_ids: Sequence[str] | pd.Series | None = None,
    mismatch_hint: str = "its predictions were made on another split: rerun its predict stage",
) -> pd.DataFrame:
    """Read and check a predictions file (:func:`check_predictions`); one clear line if bad.

    With ``expected_ids`` (the split's ids) the file's ids must be exactly those, in any order;
    ``mismatch_hint`` ends the error line when they are not. Rows keep the file's order.
    """
    frame = read_table(
        path,
        what="predictions file",
        columns=COLUMNS,
        formats=("parquet",),
        missing_hint="run its predict stage first",
    )
    frame = check_predictions(frame, str(path))
    if expected_ids is not None:
        expected = pd.Index(pd.Series(expected_ids, dtype=object).astype(str))
        found = pd.Index(frame["id"])
        missing, extra = expected.difference(found), found.difference(expected)
        if len(missing) or len(extra):
            parts = []
            if len(missing):
                parts.append(f"{len(missing)} ids of the split missing (e.g. {missing[0]!r})")
            if len(extra):
                parts.append(f"{len(extra)} ids not in the split (e.g. {extra[0]!r})")
            raise SuiteError(f"{path}: {' and '.join(parts)}; {mismatch_hint}")
    return frame
