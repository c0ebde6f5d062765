"""What made a results file: params, seeds, library versions, device and git revision.

Nothing time-dependent goes in, so two clean runs of the same revision write identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from typing import Any

from pydantic import BaseModel

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
    "fairlearn",
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


def git_revision() -> dict[str, Any]:
    """The commit of the working directory and whether tracked files differ from it."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"git_revision": "unknown", "git_dirty": None}
    return {"git_revision": rev, "git_dirty": bool(dirty)}


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def params_hash(params: dict[str, Any]) -> str:
    """A short, stable hash of a stage's params (the identity of a run)."""
    blob = json.dumps({k: _plain(v) for k, v in params.items()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_metadata(
    stage: str, params: dict[str, Any], seeds: dict[str, int], device: str = "cpu"
) -> dict[str, Any]:
    """Everything a results file records about the run that made it."""
    plain = {k: _plain(v) for k, v in params.items()}
    return {
        "stage": stage,
        "params": plain,
        "params_hash": params_hash(plain),
        "seeds": seeds,
        "device": device,
        "versions": library_versions(),
        **git_revision(),
    }
