"""Raw Bias-in-Bios-shaped data: read local files, check them, put them in the suite's schema.

The ``prepare`` stage and ``python -m pipeline.commands.studies new`` use the same functions, so a
file that ``studies new`` accepts is one ``prepare`` accepts, with the same one-line errors: a file
that cannot be read (:mod:`pipeline.lib.tables`), a missing column, a label out of range, an empty
or non-text bio, a null or repeated id. Three things are worth a warning but not a stop: bios whose
exact text is in both the train split and the dev or test split (leakage), bios repeated within a
split, and splits too small to say anything (:data:`MIN_SPLIT_ROWS`).

Labels may be the dataset's integers or words: a profession's name (``Interior Designer``,
``software_engineer``, ``ATTORNEY``: any case, spaces or underscores) and a gender word or letter
(male/female, M/F, man/woman, any case) are mapped to the suite's ids with one note
(:func:`name_labels`); an unknown word stops with the list of accepted ones. The suite's own split
files (``data/splits/*.parquet``: ``text``, ``profession_id``, ``gender_id``) are accepted back.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd

from pipeline.lib import paths
from pipeline.lib.contract import TABLES
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import GENDERS, PROFESSIONS
from pipeline.lib.params import LocalData
from pipeline.lib.tables import (
    check_ids,
    check_labels,
    check_texts,
    read_table,
    require_columns,
)

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("hard_text", "profession", "gender")
# Below this many bios a split still runs but says little; the stage warns (why, per split).
MIN_SPLIT_ROWS = 30
TOO_SMALL = {
    "train": "too few to train a model or fit the TF-IDF baseline",
    "dev": "model selection on it is unreliable (one bio moves dev accuracy by more than 3 points)",
    "test": "every interval will be too wide to tell predictors apart",
}


# Words accepted for each label column: the normalised word -> the suite's id.
PROFESSION_WORDS = {name: i for i, name in enumerate(PROFESSIONS)}
GENDER_WORDS = {
    word: GENDERS.index(gender)
    for gender, words in (("male", ("male", "m", "man")), ("female", ("female", "f", "woman")))
    for word in words
}
ACCEPTED = {
    "profession": (
        f"an id 0-{len(PROFESSIONS) - 1} or one of the {len(PROFESSIONS)} names "
        f"{', '.join(PROFESSIONS)} (any case, spaces or underscores)"
    ),
    "gender": "0 or 1, male or female, M or F, man or woman (any case)",
}
# The suite's own split files (data/splits/*.parquet) -> the raw columns they carry.
SPLIT_FILE_COLUMNS = {"text": "hard_text", "profession_id": "profession", "gender_id": "gender"}


def read_local_file(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read one local data file (parquet, CSV, JSON lines) that must hold ``columns``.

    A split file the suite wrote (``data/splits/*.parquet``) is read back in the raw columns:
    ``text``, ``profession_id`` and ``gender_id`` become ``hard_text``, ``profession`` and
    ``gender`` (its label names are dropped: the ids are the labels).
    """
    frame = read_table(
        path,
        what="data file",
        columns=columns,
        missing_hint="check data.local in params.yaml",
        check_columns=False,
    )
    if "hard_text" not in frame.columns and set(TABLES["split"].columns) <= set(frame.columns):
        frame = frame.drop(columns=["profession", "gender"]).rename(columns=SPLIT_FILE_COLUMNS)
    require_columns(path, frame.columns, columns)
    return frame


def _is_word(value: Any) -> bool:
    """A label written as a word: text that is not a number (``"3"`` is a label id)."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def _normal(word: str) -> str:
    return re.sub(r"[\s_-]+", "_", word.strip().lower())


def _map_words(frame: pd.DataFrame, where: str, column: str, words: dict[str, int]) -> set[int]:
    """Replace the label words of ``column`` by ids in place; return the ids that were words."""
    if column not in frame.columns:
        return set()
    values = frame[column]
    is_word = values.map(_is_word).to_numpy(dtype=bool)
    if not is_word.any():
        return set()
    normal = values[is_word].map(_normal)
    unknown = ~normal.isin(list(words))
    if unknown.any():
        first = int(np.flatnonzero(unknown.to_numpy())[0])
        n_unknown = int(unknown.sum())
        others = f" (and {n_unknown - 1} more rows)" if n_unknown > 1 else ""
        raise SuiteError(
            f"{where}: unknown {column} {values[is_word].iloc[first]!r} at row "
            f"{normal.index[first]}{others}; write {ACCEPTED[column]}"
        )
    ids = normal.map(words)
    frame[column] = values.astype(object)
    frame.loc[is_word, column] = ids.to_numpy()
    return set(ids)


def name_labels(frames: dict[str, pd.DataFrame], where: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The frames with profession names and gender words mapped to ids; one note if any were.

    An unknown word stops with one line naming it and what is accepted.
    """
    mapped: dict[str, set[int]] = {"profession": set(), "gender": set()}
    out = {}
    for key, frame in frames.items():
        frame = frame.copy()
        mapped["profession"] |= _map_words(frame, where[key], "profession", PROFESSION_WORDS)
        mapped["gender"] |= _map_words(frame, where[key], "gender", GENDER_WORDS)
        out[key] = frame
    parts = [
        f"{len(ids)} {what}{'' if len(ids) == 1 else 's'}"
        for ids, what in (
            (mapped["profession"], "profession name"),
            (mapped["gender"], "gender label"),
        )
        if ids
    ]
    if parts:
        log.info(
            "%s: mapped %s to the suite's ids",
            ", ".join(dict.fromkeys(where.values())),
            " and ".join(parts),
        )
    return out


def split_by_column(
    table: pd.DataFrame, column: str, where: str
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Cut one table into the splits named by its ``column``; ``where`` names it in messages."""
    if column not in table.columns:
        raise SuiteError(
            f"{where}: no split column {column!r}; "
            "set data.local.split_column or give one file per split"
        )
    null = table[column].isna().to_numpy()
    if null.any():
        row = int(np.flatnonzero(null)[0])
        raise SuiteError(f"{where}: null {column} at row {row}; expected {', '.join(paths.SPLITS)}")
    unknown = sorted(set(table[column].astype(str)) - set(paths.SPLITS))
    if unknown:
        raise SuiteError(
            f"{where}: unknown split {unknown[0]!r} in column {column!r}; "
            f"allowed: {', '.join(paths.SPLITS)}"
        )
    frames = {
        split: table[table[column].astype(str) == split].drop(columns=column)
        for split in paths.SPLITS
    }
    return frames, {split: f"{where} (split {split!r})" for split in paths.SPLITS}


def load_local(local: LocalData) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read local files: one per split, or one file with a split column.

    Returns the raw frames (index: row in the file) and, per split, where it came from (what
    messages name).
    """
    if local.path is None:
        files = {split: getattr(local, split) for split in paths.SPLITS}
        frames = {split: read_local_file(file, REQUIRED_COLUMNS) for split, file in files.items()}
        return name_labels(frames, files), files
    table = name_labels({"all": read_local_file(local.path, ())}, {"all": local.path})["all"]
    return split_by_column(table, local.split_column, local.path)


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
        repeated = int(frame["text"].duplicated().sum())
        if repeated:
            log.warning(
                "%d of %d %s bios repeat the exact text of another %s bio (%s): each copy counts "
                "again in every rate; deduplicate the source to avoid it",
                repeated,
                len(frame),
                split,
                split,
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
