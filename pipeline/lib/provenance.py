"""What made a result, in two parts: stable facts inside the outputs, the run's log beside them.

- :func:`run_metadata` (stored IN each output: parquet schema metadata, a ``run`` key in JSON):
  the stage, its params (seeds included), their hash, the device and the library versions.
  All of it is a function of the stage's inputs and environment, so the same inputs, params and
  code give the same output bytes, and a rerun that changes nothing leaves every later stage
  up to date.
- :func:`run_log` (a sidecar ``runs/<stage>.json``, git-ignored, depended on by no stage): the
  git revision, whether tracked files differed from it, the UTC times and the wall seconds.
  These change at every run or commit; inside the outputs they would invalidate every
  downstream stage after a comment edit. Which code made a shared result is what git already
  knows: the commit whose ``dvc.lock`` names the output's hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pipeline import _kernels
from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.io import write_json
from pipeline.lib.params import changed_since_read

LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "datasets",
    "tokenizers",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "statsmodels",
    "scikit-learn",
)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that can change a number."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return value


def params_hash(params: dict[str, Any]) -> str:
    """A short, stable hash of a stage's params (the identity of a run)."""
    blob = json.dumps({k: _plain(v) for k, v in params.items()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _seeds(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every seed among the params by dotted key (``seeds.train``, ``predict.random_head.seed``)."""
    found: dict[str, Any] = {}
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(_seeds(value, f"{dotted}."))
        elif "seed" in key:
            found[dotted] = value
    return found


def run_metadata(stage: str, params: Any, device: str = "cpu") -> dict[str, Any]:
    """The stable facts about a run that its outputs carry (no time, no git revision).

    ``params`` is the stage's :class:`pipeline.lib.params.StageParams` (or a plain dict of them);
    ``seeds`` repeats the seeds among them.
    """
    plain = _plain(params)
    plain = {k: _plain(v) for k, v in plain.items()}
    _kernels.check()
    return {
        "stage": stage,
        "params": plain,
        "params_hash": params_hash(plain),
        "seeds": _seeds(plain),
        "device": device,
        "cpu_kernels": _kernels.state(),
        "versions": library_versions(),
    }


def git_state(cwd: str | Path | None = None) -> dict[str, Any]:
    """The commit checked out and whether tracked files other than DVC's locks differ from it.

    DVC rewrites ``dvc.lock`` while it runs a pipeline; that is DVC's record of the run, not a
    change to its inputs, so it does not make the tree dirty here.
    """
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=cwd
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":/"],
            capture_output=True,
            text=True,
            check=True,
            cwd=cwd,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"git_revision": "unknown", "git_dirty": None}
    changed = [line for line in changed if Path(line[3:].strip('"')).name != "dvc.lock"]
    return {"git_revision": rev, "git_dirty": bool(changed)}


@contextmanager
def run_log(stage: str, **facts: Any) -> Iterator[dict[str, Any]]:
    """Time a stage and, if it succeeds, write ``runs/<stage>.json`` (git-ignored).

    Yields a dict the stage may add facts to (e.g. ``resumed_from_checkpoint``).
    """
    record: dict[str, Any] = {"stage": stage, **facts, **git_state()}
    started = time.monotonic()
    record["started_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    yield record
    changed = changed_since_read()
    if changed:
        raise SuiteError(
            f"params.yaml changed while {stage} ran ({changed}; e.g. a concurrent `dvc exp run "
            "-S` or an edit): its outputs were made with the values read at the start, which "
            "DVC would not record; run it again once nothing else edits params.yaml"
        )
    record["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    record["wall_seconds"] = round(time.monotonic() - started, 1)
    if int(os.environ.get("RANK", "0")) == 0:  # one log per run, not one per process
        write_json(record, paths.run_log_path(stage))
