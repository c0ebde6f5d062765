"""The one schema every predictor writes, and its reader.

One row per (predictor, bio)::

    id            str      the bio's stable id (join key to the split; labels are NOT copied)
    predictor     str      e.g. "zero_shot", "random_head", "lora", "pronoun_rule", "tfidf_logreg"
    prob_female   float64  predicted probability that the subject is female, in [0, 1]
    pred          int64    predicted gender id (0 male, 1 female)
    model         str      what made it: model name/path and revision, or the baseline's name
    params_hash   str      hash of the params that made it (pipeline.lib.provenance.params_hash)

``pred`` is always ``prob_female >= 0.5`` (:data:`THRESHOLD`). That is the gender task's schema;
the occupation task's (:mod:`pipeline.lib.tasks`) has ``pred`` (the predicted profession id,
0-27) and ``confidence`` (its probability: the top label's) instead of ``prob_female`` and
``pred`` (:func:`class_predictions_frame`); everything else below holds for both. Run metadata
(params, seeds, versions, device, git revision) sits in the parquet schema metadata
(``pipeline.lib.io.read_parquet_metadata``). :func:`read_predictions` checks all of this before
any statistic sees a file.

**Whose predictions these are.** :func:`write_predictions` adds to that metadata the file's
``predictor``, ``made_from`` (the SHA-256 of each weights folder or data file the predictor was
made from: ``models/lora``, ``models/base``, the train split of a baseline) and a
``fingerprint``: the hash of the predictor's name, its ``params_hash`` column and ``made_from``.
:func:`read_predictions` refuses, with one line, a file whose name, ``predictor`` column,
metadata predictor and fingerprint do not all agree (e.g. ``lora.parquet`` copied or linked to
``zero_shot.parquet``: analyze would otherwise report LoRA against itself), and a file made from
weights that are no longer the ones in the study (a stale file: its stage must run again).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.lib import contract, paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.io import write_parquet
from pipeline.lib.tables import check_ids, read_suite_metadata, read_table

COLUMNS = contract.TABLES["predictions"].columns
THRESHOLD = 0.5  # pred = prob_female >= THRESHOLD
# Each task's table of predictions on the test split and on the probe texts.
SPECS = {
    "gender": ("predictions", "probe_predictions"),
    "occupation": ("occupation_predictions", "occupation_probe_predictions"),
}


def table_spec(task: str = "gender", on: str = "test") -> contract.TableSpec:
    """The contract of ``task``'s predictions on the test split (``on="test"``) or the probes."""
    name = SPECS[task][0 if on == "test" else 1]
    return contract.TABLES[name] if task == "gender" else contract.CLASS_PREDICTIONS[name]


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


def class_predictions_frame(
    ids: Any,
    probs: Any,
    *,
    predictor: str,
    model: str,
    params_hash: str,
) -> pd.DataFrame:
    """A K-class predictions frame: ``pred`` the likeliest class, ``confidence`` its probability.

    Ties go to the lower class id (``numpy.argmax``).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(ids):
        raise ValueError(f"{len(ids)} ids but class probabilities of shape {probs.shape}")
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError(f"{predictor}: probabilities must be finite and in [0, 1]")
    pred = probs.argmax(axis=1)
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object).astype(str).to_numpy(),
            "predictor": predictor,
            "pred": pred.astype(np.int64),
            "confidence": probs[np.arange(len(probs)), pred],
            "model": model,
            "params_hash": params_hash,
        }
    )


def _stat(path: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return tuple(
        (f.relative_to(path).as_posix() if path.is_dir() else "", *_size_time(f)) for f in files
    )


def _size_time(file: Path) -> tuple[int, int]:
    stat = file.stat()
    return stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=32)
def _digest(path: str, stat: tuple[tuple[str, int, int], ...]) -> str:
    root = Path(path)
    digest = hashlib.sha256()
    for name, _, _ in stat:
        file = root / name if name else root
        digest.update(name.encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def content_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, or of a folder's files (names and bytes, sorted); cached per state."""
    path = Path(path)
    return _digest(str(path), _stat(path))


def fingerprint(predictor: str, params_hashes: Sequence[str], made_from: dict[str, str]) -> str:
    """The identity of a predictions file: predictor, params hash(es) and what made it."""
    blob = json.dumps(
        {"predictor": predictor, "params_hash": sorted(params_hashes), "made_from": made_from},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def write_predictions(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    metadata: dict[str, Any],
    made_from: Sequence[str | os.PathLike[str]] = (),
    task: str = "gender",
) -> None:
    """Write a predictions frame atomically with its run metadata and its identity.

    ``made_from``: the weights folders and data files the predictor was made from (study
    paths); their digests and the fingerprint go into the metadata (module docstring).
    ``task``: whose schema the frame has; a file of a task other than gender records it.
    """
    on = "probes" if Path(path).parent.name == Path(paths.PROBE_PREDICTIONS_DIR).name else "test"
    contract.check_table(frame, table_spec(task, on), path, exact=True)
    names = frame["predictor"].unique()
    if len(names) != 1:
        raise ValueError(f"a predictions file holds one predictor, not {list(names)[:3]}")
    predictor = str(names[0])
    made = {Path(p).as_posix(): content_digest(p) for p in made_from}
    hashes = [str(h) for h in frame["params_hash"].unique()]
    identity = {
        **({} if task == "gender" else {"task": task}),
        "predictor": predictor,
        "made_from": made,
        "fingerprint": fingerprint(predictor, hashes, made),
    }
    write_parquet(frame, path, metadata={**metadata, **identity})


def _one_predictor_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """A copy of ``frame`` with ``id`` as text, checked as every predictions file is.

    Stops with one line naming ``where`` at: no rows, a null or repeated id, a predictor column
    holding other than one name.
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
    return frame


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as float64, NaN where a value is not a number (booleans as 0/1)."""
    values = frame[column]
    if values.dtype == bool:
        values = values.astype(np.int64)
    as_numbers = pd.to_numeric(values, errors="coerce")
    return as_numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _stop_at_first(frame: pd.DataFrame, where: str, mask: np.ndarray, column: str, expected: str):
    """Stop with one line naming the first row where ``mask`` holds, its value and id."""
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        value = frame[column].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise SuiteError(
            f"{where}: {column} {value!r} at row {row} (id {frame['id'].iloc[row]!r}) {expected}"
        )


def check_predictions(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check a predictions frame; return it with ``id`` as text and ``pred`` as int64.

    Stops with one line naming ``where`` at: no rows, a null or repeated id, a predictor column
    holding other than one name, a probability that is not a finite number in [0, 1], a ``pred``
    that is not 0 or 1 or that disagrees with ``prob_female >= 0.5``.
    """
    frame = _one_predictor_frame(frame, where)
    prob = _numbers(frame, "prob_female")
    with np.errstate(invalid="ignore"):
        _stop_at_first(
            frame,
            where,
            ~np.isfinite(prob) | (prob < 0) | (prob > 1),
            "prob_female",
            "is not a probability; expected a finite number in [0, 1]",
        )
    pred = _numbers(frame, "pred")
    _stop_at_first(
        frame, where, ~np.isin(pred, (0.0, 1.0)), "pred", "is not a gender id; expected 0 or 1"
    )
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


def check_class_predictions(frame: pd.DataFrame, where: str, n_classes: int) -> pd.DataFrame:
    """Check a K-class predictions frame (the occupation task's); return it typed.

    Stops with one line naming ``where`` at: no rows, a null or repeated id, other than one
    predictor, a ``pred`` that is not a class id (0 .. K-1), a ``confidence`` that is not a
    probability or is below 1/K (the top label of K can never be less likely than that).
    """
    frame = _one_predictor_frame(frame, where)
    pred = _numbers(frame, "pred")
    _stop_at_first(
        frame,
        where,
        ~np.isin(pred, np.arange(n_classes, dtype=np.float64)),
        "pred",
        f"is not a class id; expected 0 to {n_classes - 1}",
    )
    conf = _numbers(frame, "confidence")
    with np.errstate(invalid="ignore"):
        _stop_at_first(
            frame,
            where,
            ~np.isfinite(conf) | (conf > 1) | (conf < 1 / n_classes - 1e-9),
            "confidence",
            f"is not the probability of a top label of {n_classes}; expected a number in "
            f"[1/{n_classes}, 1]",
        )
    frame["pred"] = pred.astype(np.int64)
    frame["confidence"] = conf
    return frame


def check_identity(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    predictor: str | None = None,
    check_sources: bool = True,
) -> None:
    """Stop unless the file is the predictions of ``predictor`` (default: the file's name).

    Its ``predictor`` column, its metadata's predictor and its fingerprint must agree with that
    name; with ``check_sources`` every weights folder or file it was made from that exists here
    must still have the recorded digest (paths relative to the working directory, the study).
    """
    where = str(path)
    expected = predictor or Path(path).stem
    column = str(frame["predictor"].iloc[0])
    if column != expected:
        raise SuiteError(
            f"{where}: holds the predictions of {column!r} (its predictor column), not of "
            f"{expected!r}: a copied, linked or renamed file; run the stage that makes it "
            f"(dvc repro) instead of copying predictions"
        )
    meta = read_suite_metadata(path, what="predictions file")
    missing = [key for key in ("predictor", "made_from", "fingerprint") if key not in meta]
    if missing:
        raise SuiteError(
            f"{where}: no {missing[0]!r} in its suite metadata: not written by this suite's "
            "predict or baselines stage (or by an older version); run that stage again"
        )
    made_from = meta["made_from"]
    if not isinstance(made_from, dict) or not all(
        isinstance(digest, str) for digest in made_from.values()
    ):
        shown = "null" if made_from is None else type(made_from).__name__
        if isinstance(made_from, dict):
            shown = "a mapping whose digests are not all text"
        raise SuiteError(
            f"{where}: its suite metadata's made_from is {shown}, expected a mapping of the "
            "weights folders and files it was made from to their digests; run its stage again"
        )
    if meta["predictor"] != column:
        raise SuiteError(
            f"{where}: its metadata names predictor {meta['predictor']!r} but its rows "
            f"{column!r}; run its stage again"
        )
    hashes = [str(h) for h in frame["params_hash"].unique()]
    if fingerprint(column, hashes, made_from) != meta["fingerprint"]:
        raise SuiteError(
            f"{where}: fingerprint {str(meta['fingerprint'])[:16]!r} does not match its "
            "predictor, params hash and sources: the file was edited; run its stage again"
        )
    if check_sources:
        for source, digest in sorted(made_from.items()):
            if Path(source).exists() and content_digest(source) != digest:
                raise SuiteError(
                    f"{where}: made from another {source} than the one here now (digest "
                    f"{str(digest)[:12]}, now {content_digest(source)[:12]}): stale predictions; "
                    f"run its stage again (dvc repro)"
                )


def read_predictions(
    path: str | os.PathLike[str],
    *,
    expected_ids: Sequence[str] | pd.Series | None = None,
    mismatch_hint: str = "its predictions were made on another split: rerun its predict stage",
    predictor: str | None = None,
    check_sources: bool = True,
    task: str = "gender",
) -> pd.DataFrame:
    """Read and check a predictions file (:func:`check_predictions`); one clear line if bad.

    With ``expected_ids`` (the split's ids) the file's ids must be exactly those, in any order;
    ``mismatch_hint`` ends the error line when they are not. Rows keep the file's order. The file
    must be ``predictor``'s (default: its name without suffix) and prove it
    (:func:`check_identity`).
    """
    spec = table_spec(task)
    frame = read_table(
        path,
        what="predictions file",
        columns=spec.columns,
        formats=("parquet",),
        missing_hint="run its predict stage first",
    )
    if task == "gender":
        frame = check_predictions(frame, str(path))
    else:
        from pipeline.lib.tasks import get

        frame = check_class_predictions(frame, str(path), get(task).n_classes)
    contract.check_table(frame, spec, path)  # model, params_hash: text
    check_identity(frame, path, predictor, check_sources)
    if expected_ids is not None:
        check_same_ids(frame["id"], expected_ids, path, mismatch_hint)
    return frame


def check_same_ids(found_ids: Any, expected_ids: Any, path: str | Path, hint: str) -> None:
    """One line naming ``path`` unless it holds exactly the split's ids (in any order)."""
    expected = pd.Index(pd.Series(expected_ids, dtype=object).astype(str))
    found = pd.Index(pd.Series(found_ids, dtype=object).astype(str))
    missing, extra = expected.difference(found), found.difference(expected)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"{len(missing)} ids of the split missing (e.g. {missing[0]!r})")
        if len(extra):
            parts.append(f"{len(extra)} ids not in the split (e.g. {extra[0]!r})")
        raise SuiteError(f"{path}: {' and '.join(parts)}; {hint}")
