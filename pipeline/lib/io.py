"""Atomic writes: an interrupted stage never leaves a file or folder that looks complete.

A write goes to a hidden temporary beside its target, ``.<name>.<pid>.<random>.tmp``, renamed
over the target when complete. A write killed mid-way (SIGKILL, power cut) leaves that
temporary behind; the next write of the same target removes the leftovers of writers that are
no longer running (git ignores them meanwhile: ``.gitignore``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _process_running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a temporary's writer may still be busy)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries that killed writes of ``target`` left beside it; return them.

    Only temporaries of this very target whose writing process is gone are removed (names made
    by an older version of this module, without a process id, count as gone), so a write of the
    same file running in another process right now is left alone. (Process ids are this
    machine's: two machines writing one output over a shared filesystem at the same moment are a
    conflict anyway.)
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    name = re.escape(target.name)
    ours = re.compile(rf"\.{name}\.(?:(\d+)\.)?[A-Za-z0-9_]+\.tmp")
    removed = []
    for child in target.parent.iterdir():
        match = ours.fullmatch(child.name)
        if match is None or (match.group(1) and _process_running(int(match.group(1)))):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with suppress(FileNotFoundError):
                child.unlink()
        removed.append(child)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _share(path: Path, mode: int) -> None:
    """Give a finished temporary the permissions a plain write would (mkstemp makes 0600)."""
    os.chmod(path, mode & ~_umask())


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` keeps its old content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():
            _share(tmp, 0o666)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path`` whole.

    The swap takes two renames (old aside, new in); a kill between them leaves the previous
    folder as ``.<name>.old``, which the next write of ``path`` puts back before starting.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.parent / f".{target.name}.old"
    if old.exists() and not target.exists():
        os.replace(old, target)  # an interrupted swap: the previous folder was set aside
    shutil.rmtree(old, ignore_errors=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _share(tmp, 0o777)  # mkdtemp makes 0700; what is inside was made with the umask
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
    """Return the ``suite`` metadata that :func:`write_parquet` stored, or ``{}``.

    Unchecked: readers of suite files use :func:`pipeline.lib.tables.read_suite_metadata`.
    """
    raw = (pq.read_schema(path).metadata or {}).get(b"suite")
    return json.loads(raw) if raw else {}
