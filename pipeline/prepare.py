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
(:data:`pipeline.lib.raw_data.MIN_SPLIT_ROWS`).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd

from pipeline.lib import contract, paths, tasks
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import write_json, write_parquet
from pipeline.lib.labels import FEMALE, GENDERS, PROFESSIONS
from pipeline.lib.params import DataParams, load_stage_params
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.raw_data import (
    check_splits,
    load_local,
    to_split_frame,
    validate_split,
)
from pipeline.lib.synthetic_sample import generate_sample

log = logging.getLogger(__name__)

PARAMS = ("data", "seeds.data")


def load_hub(name: str, revision: str | None) -> dict[str, pd.DataFrame]:
    """Download every split of the hub dataset (needs internet); revision ``None``: the latest."""
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


def load(
    data: DataParams, seed: int, task: str = tasks.DEFAULT
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The raw splits of ``data.source`` and, per split, where it came from."""
    if data.source == "hub":
        if data.hub.revision is None:
            log.warning(
                "data.hub.revision is null: loading the latest revision of %s, which is not "
                "reproducible; pin a commit sha",
                data.hub.name,
            )
        elif len(data.hub.revision) != 40:
            log.warning("data.hub.revision %r is not a commit sha: pin one", data.hub.revision)
        raw = load_hub(data.hub.name, data.hub.revision)
        return raw, {split: f"{data.hub.name} split {split!r}" for split in paths.SPLITS}
    if data.source == "local":
        assert data.local is not None  # guaranteed by DataParams
        return load_local(data.local)
    # The occupation task's sample plants the proxy its question is about (synthetic_sample).
    raw = generate_sample(data.sample.model_dump(), seed, task=task)
    return raw, {split: f"the sample's {split} split" for split in paths.SPLITS}


def prepare(data: DataParams, seed: int, task: str = tasks.DEFAULT) -> dict[str, pd.DataFrame]:
    """Load, validate and subsample every split (the stage's pure core)."""
    raw, sources = load(data, seed, task)
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
    parser = argparse.ArgumentParser(description="Load, check and subsample the splits.")
    tasks.add_argument(parser)
    task = parser.parse_args().task
    params = load_stage_params(PARAMS)
    data = params["data"]
    with run_log("prepare"):
        splits = prepare(data, params["seeds.data"], task)
        meta = run_metadata("prepare", params)
        if task != tasks.DEFAULT:  # the synthetic sample differs by task
            meta["task"] = task
        for split, frame in splits.items():
            write_parquet(frame, paths.split_path(split), metadata=meta)
            log.info("wrote %s: %d rows", paths.split_path(split), len(frame))
        made = profile(splits, data.source)
        write_json(contract.checked(contract.Profile, made, paths.PROFILE), paths.PROFILE)


if __name__ == "__main__":
    run_main(main)
