"""The one schema every predictor writes, and its reader.

One row per (predictor, bio)::

    id            str      the bio's stable id (join key to the split; labels are NOT copied)
    predictor     str      e.g. "zero_shot", "random_head", "lora", "pronoun_rule", "tfidf_logreg"
    prob_female   float64  predicted probability that the subject is female, in [0, 1]
    pred          int64    predicted gender id (0 male, 1 female)
    model         str      what made it: model name/path and revision, or the baseline's name
    params_hash   str      hash of the params that made it (pipeline.provenance.params_hash)

Run metadata (params, seeds, versions, device, git revision) sits in the parquet schema
metadata (``pipeline.io.read_parquet_metadata``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import SuiteError
from pipeline.io import write_parquet

COLUMNS = ("id", "predictor", "prob_female", "pred", "model", "params_hash")


def predictions_frame(
    ids: Any,
    prob_female: Any,
    *,
    predictor: str,
    model: str,
    params_hash: str,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Build a predictions frame in the shared schema; ``pred`` is ``prob_female >= threshold``."""
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
            "pred": (prob >= threshold).astype(np.int64),
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


def read_predictions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check a predictions file; a bad file stops with one clear line."""
    if not os.path.isfile(path):
        raise SuiteError(f"{path}: predictions file not found; run its predict stage first")
    frame = pd.read_parquet(path)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise SuiteError(f"{path}: not a predictions file (missing column {missing[0]!r})")
    if frame["id"].duplicated().any():
        raise SuiteError(f"{path}: duplicate id {frame['id'][frame['id'].duplicated()].iloc[0]!r}")
    return frame
