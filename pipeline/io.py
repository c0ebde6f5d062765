"""Atomic writes: an interrupted stage never leaves a file or folder that looks complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` keeps its old content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` whole."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = target.parent / f".{target.name}.old"
    try:
        yield tmp
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` as stable, human-readable JSON (sorted keys, trailing newline), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_parquet(
    frame: pd.DataFrame, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> None:
    """Write ``frame`` without its index, atomically and byte-for-byte reproducibly.

    ``metadata`` (params, seeds, versions, git revision...) is stored as JSON under the schema key
    ``suite``; read it back with :func:`read_parquet_metadata`.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        extra = {b"suite": json.dumps(metadata, sort_keys=True).encode()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the ``suite`` metadata that :func:`write_parquet` stored, or ``{}``."""
    raw = (pq.read_schema(path).metadata or {}).get(b"suite")
    return json.loads(raw) if raw else {}
