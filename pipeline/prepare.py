"""``prepare`` stage: load Bias in Bios, validate it, subsample it, write the splits.

Sources (``data.source`` in params.yaml):

- ``hub``: ``LabHC/bias_in_bios`` through ``datasets``, at ``data.hub.revision``;
- ``local``: parquet, CSV or JSONL files with the dataset's columns, one per split or one with
  a split column;
- ``sample``: the project's synthetic sample (``pipeline.sample``).

Writes ``data/splits/{train,dev,test}.parquet`` with the columns ``id``, ``text``,
``profession_id``, ``profession``, ``gender_id``, ``gender``, and ``data/profile.json``
(counts per split x profession x gender, share of women per profession). Params: ``data``,
``seeds.data``; local files lie in ``data/raw/``, a dependency of the stage. Run from a study
directory: ``python -m pipeline.prepare``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import paths
from pipeline.errors import SuiteError, run_main
from pipeline.io import write_json, write_parquet
from pipeline.labels import FEMALE, GENDERS, PROFESSIONS
from pipeline.params import DataParams, LocalData, load_stage_params
from pipeline.provenance import run_log, run_metadata
from pipeline.sample import generate_sample

log = logging.getLogger(__name__)

PARAMS = ("data", "seeds.data")
REQUIRED_COLUMNS = ("hard_text", "profession", "gender")
SPLIT_COLUMNS = ("id", "text", "profession_id", "profession", "gender_id", "gender")


def load_hub(name: str, revision: str) -> dict[str, pd.DataFrame]:
    """Download every split of the hub dataset (needs internet)."""
    import datasets

    frames = {}
    for split in paths.SPLITS:
        try:
            frames[split] = datasets.load_dataset(name, revision=revision, split=split).to_pandas()
        except OSError as err:  # ConnectionError and the hub's offline errors are OSErrors
            raise SuiteError(
                f"cannot reach the Hugging Face Hub for dataset {name!r} ({type(err).__name__}); "
                "set data.source to 'local' (your own files) or 'sample' (the bundled synthetic "
                "sample) in params.yaml"
            ) from None
    return frames


def _read_table(path: str) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise SuiteError(f"data.local: file not found: {path}")
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(file)
    if suffix == ".csv":
        return pd.read_csv(file, keep_default_na=False)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(file, lines=True)
    raise SuiteError(f"data.local: {path}: unknown format {suffix!r}; use .parquet, .csv or .jsonl")


def load_local(local: LocalData) -> dict[str, pd.DataFrame]:
    """Read local files: one per split, or one file with a split column."""
    if local.path is None:
        return {split: _read_table(getattr(local, split)) for split in paths.SPLITS}
    table = _read_table(local.path)
    if local.split_column not in table.columns:
        raise SuiteError(
            f"{local.path}: no split column {local.split_column!r}; "
            "set data.local.split_column or give one file per split"
        )
    unknown = sorted(set(table[local.split_column].astype(str)) - set(paths.SPLITS))
    if unknown:
        raise SuiteError(
            f"{local.path}: unknown split {unknown[0]!r} in column {local.split_column!r}; "
            f"allowed: {', '.join(paths.SPLITS)}"
        )
    return {
        split: table[table[local.split_column] == split].drop(columns=local.split_column)
        for split in paths.SPLITS
    }


def validate_split(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Check one raw split and return it with a string ``id`` column (stable row ids if absent)."""
    where = f"split {split!r}"
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SuiteError(
            f"{where}: missing column {missing[0]!r}; "
            f"expected columns {', '.join(REQUIRED_COLUMNS)}"
        )
    if frame.empty:
        raise SuiteError(f"{where}: no rows")
    frame = frame.reset_index(drop=True)
    for column, n_labels in (("profession", len(PROFESSIONS)), ("gender", len(GENDERS))):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values % 1 != 0) | (values < 0) | (values >= n_labels)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            shown = frame[column].iloc[row]
            shown = shown.item() if isinstance(shown, np.generic) else shown
            raise SuiteError(
                f"{where}: {column} label {shown!r} at row {row} is out of "
                f"range; expected an integer 0-{n_labels - 1}"
            )
        frame[column] = values.astype(np.int64)
    text = frame["hard_text"]
    not_text = ~text.map(lambda value: isinstance(value, str))
    if not_text.any():
        row = int(np.flatnonzero(not_text.to_numpy())[0])
        value = text.iloc[row]
        what = "missing" if pd.isna(value) else f"{type(value).__name__}, not text"
        raise SuiteError(f"{where}: hard_text at row {row} is {what}")
    empty = text.str.strip() == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise SuiteError(f"{where}: hard_text at row {row} is empty")
    if "id" in frame.columns:
        ids = frame["id"].astype(str)
        duplicated = ids[ids.duplicated()]
        if not duplicated.empty:
            raise SuiteError(f"{where}: duplicate id {duplicated.iloc[0]!r}; ids must be unique")
        frame["id"] = ids
    else:
        # Stable ids: the row's position in the source split.
        frame["id"] = [f"{split}-{i:07d}" for i in range(len(frame))]
    return frame


def stratified_subsample(
    frame: pd.DataFrame, max_rows: int | None, rng: np.random.Generator
) -> pd.DataFrame:
    """Keep at most ``max_rows`` rows, proportionally per profession x gender cell.

    Every non-empty cell keeps at least one row when ``max_rows`` allows it; rows keep their
    source order.
    """
    if max_rows is None or max_rows >= len(frame):
        return frame
    cells = frame.groupby(["profession", "gender"], sort=True).indices
    sizes = np.array([len(rows) for rows in cells.values()])
    quota = max_rows * sizes / sizes.sum()
    if max_rows >= len(sizes):
        quota = np.maximum(quota, 1.0)
        # rescale the rest so the total stays max_rows
        over = quota.sum() - max_rows
        flexible = quota > 1.0
        quota[flexible] -= over * quota[flexible] / quota[flexible].sum()
        quota = np.maximum(quota, 1.0)
    else:
        log.warning("max_rows=%d is below the %d non-empty cells", max_rows, len(sizes))
    take = np.floor(quota).astype(int)
    # largest remainders get the leftover rows; ties broken by cell order
    leftover = max_rows - take.sum()
    order = np.argsort(-(quota - take), kind="stable")
    for cell in order:
        if leftover <= 0:
            break
        if take[cell] < sizes[cell]:
            take[cell] += 1
            leftover -= 1
    take = np.minimum(take, sizes)
    keep = np.concatenate(
        [
            rng.choice(rows, size=n, replace=False)
            for rows, n in zip(cells.values(), take, strict=True)
        ]
    )
    return frame.iloc[np.sort(keep)]


def to_split_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The suite's split schema, with label names beside the ids."""
    return pd.DataFrame(
        {
            "id": frame["id"].astype(str).to_numpy(),
            "text": frame["hard_text"].astype(str).to_numpy(),
            "profession_id": frame["profession"].to_numpy(np.int64),
            "profession": np.array(PROFESSIONS, dtype=object)[frame["profession"].to_numpy()],
            "gender_id": frame["gender"].to_numpy(np.int64),
            "gender": np.array(GENDERS, dtype=object)[frame["gender"].to_numpy()],
        }
    )


def profile(splits: dict[str, pd.DataFrame], source: str) -> dict:
    """Counts per split x profession x gender and the share of women per profession."""
    result: dict = {"source": source, "synthetic": source == "sample", "splits": {}}
    for split, frame in splits.items():
        counts = (
            frame.groupby(["profession", "gender"])
            .size()
            .unstack(fill_value=0)
            .reindex(index=list(PROFESSIONS), columns=list(GENDERS), fill_value=0)
        )
        total = counts.sum(axis=1)
        share = (counts[GENDERS[FEMALE]] / total.where(total > 0)).round(6)
        result["splits"][split] = {
            "rows": len(frame),
            "share_women": round(float(frame["gender_id"].mean()), 6),
            "professions": {
                name: {
                    **{gender: int(counts.loc[name, gender]) for gender in GENDERS},
                    "share_women": None if pd.isna(share[name]) else float(share[name]),
                }
                for name in PROFESSIONS
            },
        }
    return result


def prepare(data: DataParams, seed: int) -> dict[str, pd.DataFrame]:
    """Load, validate and subsample every split (the stage's pure core)."""
    if data.source == "hub":
        if len(data.hub.revision) != 40:
            log.warning("data.hub.revision %r is not a commit sha: pin one", data.hub.revision)
        raw = load_hub(data.hub.name, data.hub.revision)
    elif data.source == "local":
        assert data.local is not None  # guaranteed by DataParams
        raw = load_local(data.local)
    else:
        raw = generate_sample(data.sample.model_dump(), seed)
    splits = {}
    streams = np.random.SeedSequence(seed).spawn(len(paths.SPLITS))
    for split, stream in zip(paths.SPLITS, streams, strict=True):
        frame = validate_split(raw[split], split)
        frame = stratified_subsample(
            frame, getattr(data.max_rows, split), np.random.default_rng(stream)
        )
        splits[split] = to_split_frame(frame)
    ids = pd.concat([s["id"] for s in splits.values()])
    if ids.duplicated().any():
        raise SuiteError(f"id {ids[ids.duplicated()].iloc[0]!r} appears in more than one split")
    return splits


def main() -> None:
    """Read params, run the stage, write the splits and the profile."""
    params = load_stage_params(PARAMS)
    data = params["data"]
    with run_log("prepare"):
        splits = prepare(data, params["seeds.data"])
        meta = run_metadata("prepare", params)
        for split, frame in splits.items():
            write_parquet(frame, paths.split_path(split), metadata=meta)
            log.info("wrote %s: %d rows", paths.split_path(split), len(frame))
        write_json(profile(splits, data.source), paths.PROFILE)


if __name__ == "__main__":
    run_main(main)
