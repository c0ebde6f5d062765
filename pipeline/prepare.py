"""``prepare`` stage: load Bias in Bios, validate it, subsample it, write the splits.

Sources (``data.source`` in params.yaml):

- ``hub``: ``LabHC/bias_in_bios`` through ``datasets``, at ``data.hub.revision``;
- ``local``: parquet, CSV or JSONL files with the dataset's columns, one per split or one with
  a split column;
- ``sample``: the project's synthetic sample (``pipeline.lib.synthetic_sample``).

Writes ``data/splits/{train,dev,test}.parquet`` with the columns ``id``, ``text``,
``profession_id``, ``profession``, ``gender_id``, ``gender``, and ``data/profile.json``
(counts per split x profession x gender, share of women per profession). Params: ``data``,
``seeds.data``; local files lie in ``data/raw/``, a dependency of the stage. Run from a study
directory: ``python -m pipeline.prepare``.

Everything is read and checked before anything is written: a file that cannot be read
(:mod:`pipeline.lib.tables`), a missing column, a label out of range, an empty or non-text bio, a
null or repeated id stops the stage with one line naming the file, and the previous splits stay
as they were. Two things are worth a warning but not a stop: bios whose exact text is in both
the train split and the dev or test split (leakage), and splits too small to say anything
(:data:`MIN_SPLIT_ROWS`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import write_json, write_parquet
from pipeline.lib.labels import FEMALE, GENDERS, PROFESSIONS
from pipeline.lib.params import DataParams, LocalData, load_stage_params
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.synthetic_sample import generate_sample
from pipeline.lib.tables import check_ids, check_labels, check_texts, read_table

log = logging.getLogger(__name__)

PARAMS = ("data", "seeds.data")
REQUIRED_COLUMNS = ("hard_text", "profession", "gender")
# Below this many bios a split still runs but says little; the stage warns (why, per split).
MIN_SPLIT_ROWS = 30
TOO_SMALL = {
    "train": "too few to fit the LoRA adapter or the TF-IDF baseline",
    "dev": "model selection on it is unreliable (one bio moves dev accuracy by more than 3 points)",
    "test": "every interval will be too wide to tell predictors apart",
}


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


def _read_local(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    return read_table(
        path,
        what="data file",
        columns=columns,
        missing_hint="check data.local in params.yaml",
    )


def load_local(local: LocalData) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read local files: one per split, or one file with a split column.

    Returns the raw frames (index: row in the file) and, per split, where it came from (what
    messages name).
    """
    if local.path is None:
        files = {split: getattr(local, split) for split in paths.SPLITS}
        return {split: _read_local(file, REQUIRED_COLUMNS) for split, file in files.items()}, files
    table = _read_local(local.path, ())
    column = local.split_column
    if column not in table.columns:
        raise SuiteError(
            f"{local.path}: no split column {column!r}; "
            "set data.local.split_column or give one file per split"
        )
    null = table[column].isna().to_numpy()
    if null.any():
        row = int(np.flatnonzero(null)[0])
        raise SuiteError(
            f"{local.path}: null {column} at row {row}; expected {', '.join(paths.SPLITS)}"
        )
    unknown = sorted(set(table[column].astype(str)) - set(paths.SPLITS))
    if unknown:
        raise SuiteError(
            f"{local.path}: unknown split {unknown[0]!r} in column {column!r}; "
            f"allowed: {', '.join(paths.SPLITS)}"
        )
    frames = {
        split: table[table[column].astype(str) == split].drop(columns=column)
        for split in paths.SPLITS
    }
    return frames, {split: f"{local.path} (split {split!r})" for split in paths.SPLITS}


def validate_split(frame: pd.DataFrame, split: str, where: str | None = None) -> pd.DataFrame:
    """Check one raw split and return it with a string ``id`` column (stable row ids if absent).

    ``where`` names the source in messages (a file path; default ``split '<split>'``); rows are
    reported by the frame's index, the row number in the file.
    """
    where = where or f"split {split!r}"
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SuiteError(
            f"{where}: missing column {missing[0]!r}; "
            f"expected columns {', '.join(REQUIRED_COLUMNS)}"
        )
    if frame.empty:
        raise SuiteError(f"{where}: no rows")
    frame = frame.copy()
    for column, labels in (("profession", PROFESSIONS), ("gender", GENDERS)):
        frame[column] = check_labels(frame, where, column, len(labels))
    check_texts(frame, where, "hard_text")
    if "id" in frame.columns:
        frame["id"] = check_ids(frame, where)
    else:
        # Stable ids: the row's position in the source split.
        frame["id"] = [f"{split}-{i:07d}" for i in range(len(frame))]
    return frame.reset_index(drop=True)


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


def load(data: DataParams, seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The raw splits of ``data.source`` and, per split, where it came from."""
    if data.source == "hub":
        if len(data.hub.revision) != 40:
            log.warning("data.hub.revision %r is not a commit sha: pin one", data.hub.revision)
        raw = load_hub(data.hub.name, data.hub.revision)
        return raw, {split: f"{data.hub.name} split {split!r}" for split in paths.SPLITS}
    if data.source == "local":
        assert data.local is not None  # guaranteed by DataParams
        return load_local(data.local)
    raw = generate_sample(data.sample.model_dump(), seed)
    return raw, {split: f"the sample's {split} split" for split in paths.SPLITS}


def check_splits(splits: dict[str, pd.DataFrame], sources: dict[str, str]) -> None:
    """Stop on an id shared by two splits; warn on shared texts and on too small splits."""
    seen: dict[str, str] = {}
    for split, frame in splits.items():
        for bio_id in frame["id"]:
            if bio_id in seen:
                raise SuiteError(
                    f"id {bio_id!r} is in both {sources[seen[bio_id]]} and {sources[split]}; "
                    "ids must be unique across the splits"
                )
        seen.update(dict.fromkeys(frame["id"], split))
    train_texts = set(splits["train"]["text"])
    for split in ("dev", "test"):
        shared = int(splits[split]["text"].isin(train_texts).sum())
        if shared:
            log.warning(
                "%d of %d %s bios have the exact text of a train bio (%s and %s): their scores "
                "measure memory, not generalisation; deduplicate the source to avoid it",
                shared,
                len(splits[split]),
                split,
                sources["train"],
                sources[split],
            )
    for split, frame in splits.items():
        if len(frame) < MIN_SPLIT_ROWS:
            log.warning(
                "the %s split has %d bio%s (%s), under %d: %s",
                split,
                len(frame),
                "" if len(frame) == 1 else "s",
                sources[split],
                MIN_SPLIT_ROWS,
                TOO_SMALL[split],
            )


def prepare(data: DataParams, seed: int) -> dict[str, pd.DataFrame]:
    """Load, validate and subsample every split (the stage's pure core)."""
    raw, sources = load(data, seed)
    splits = {}
    streams = np.random.SeedSequence(seed).spawn(len(paths.SPLITS))
    for split, stream in zip(paths.SPLITS, streams, strict=True):
        frame = validate_split(raw[split], split, sources[split])
        frame = stratified_subsample(
            frame, getattr(data.max_rows, split), np.random.default_rng(stream)
        )
        splits[split] = to_split_frame(frame)
    check_splits(splits, sources)
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
