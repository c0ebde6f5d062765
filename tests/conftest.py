"""Shared fixtures: the synthetic sample, a tiny GPT-2 built once per session, study folders."""

from __future__ import annotations

# isort: off
import pipeline  # noqa: F401  first: pins the CPU kernels before numpy loads (_kernels.py)

# isort: on
import copy
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.lib.params import TinyModelParams
from pipeline.lib.synthetic_sample import generate_sample
from pipeline.lib.tiny_gpt2 import save_tiny_model

REPO = Path(__file__).resolve().parents[1]
# The demo's params: complete (every setting of every section), the base of every test study.
DEMO_PARAMS: dict = yaml.safe_load((REPO / "demo" / "params.yaml").read_text())

# The demo's tiny GPT-2: small enough to build in seconds, pretrained enough that its zero-shot
# guesses beat chance.
TINY = TinyModelParams.model_validate(DEMO_PARAMS["model"]["tiny"])


def demo_params(extra: dict | None = None) -> dict:
    """A deep copy of the demo's params with ``extra`` merged in, key by key."""
    return merge_params(copy.deepcopy(DEMO_PARAMS), copy.deepcopy(extra or {}))


def stage_env(code_root: Path = REPO) -> dict[str, str]:
    """Environment for running a stage as a subprocess: this checkout's code first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code_root)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["HF_HUB_OFFLINE"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def dvc(args: list[str], cwd: Path, code_root: Path = REPO) -> subprocess.CompletedProcess:
    """Run ``dvc ARGS`` in ``cwd`` with this checkout's code; return it (never raises)."""
    return subprocess.run(
        ["dvc", *args],
        cwd=cwd,
        env=stage_env(code_root),
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_module(module: str, cwd: Path, *args: str, code_root: Path = REPO):
    """Run ``python -m module`` in ``cwd``; return the CompletedProcess (never raises)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=stage_env(code_root),
        capture_output=True,
        text=True,
        timeout=600,
    )


def study_predictors(study: Path) -> list[str]:
    """Every predictor of a study in report order, a seeded one as one run per training seed."""
    from pipeline.lib import catalogue, paths

    seeds = yaml.safe_load((study / "params.yaml").read_text())["seeds"]["train"]
    return [
        run
        for spec in catalogue.predictors()
        for run in ([paths.run_name(spec.name, s) for s in seeds] if spec.seeded else [spec.name])
    ]


def write_params(study: Path, params: dict) -> None:
    """Write a params.yaml into a study folder."""
    study.mkdir(parents=True, exist_ok=True)
    (study / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def sample_raw() -> dict[str, pd.DataFrame]:
    """A small synthetic sample in the hub dataset's raw columns."""
    return generate_sample({"train": 1500, "dev": 300, "test": 400}, seed=7)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, sample_raw) -> Path:
    """A tiny GPT-2 model folder, built once per test session."""
    out = tmp_path_factory.mktemp("tiny") / "tiny-gpt2"
    save_tiny_model(sample_raw["train"]["hard_text"].tolist(), TINY, seed=0, out_dir=out)
    return out


@pytest.fixture(scope="session")
def tiny_study_template(tmp_path_factory, sample_raw, tiny_model_dir) -> Path:
    """A prepared study folder (read-only template): params, splits and the tiny base model.

    Use :func:`tiny_study` for a private, writable copy.
    """
    from pipeline.lib import paths
    from pipeline.lib.io import write_json, write_parquet
    from pipeline.lib.params import DataParams
    from pipeline.prepare import prepare, profile

    study = tmp_path_factory.mktemp("study") / "study"
    sizes = {split: len(frame) for split, frame in sample_raw.items()}
    params = demo_params(
        {
            "seeds": {"data": 7, "model": 0, "train": [0], "bootstrap": 0},
            "data": {"sample": sizes},
        }
    )
    write_params(study, params)
    data = DataParams.model_validate(params["data"])
    splits = prepare(data, seed=7)
    for split, frame in splits.items():
        write_parquet(frame, study / paths.split_path(split))
    write_json(profile(splits, "sample"), study / paths.PROFILE)
    shutil.copytree(tiny_model_dir, study / paths.BASE_MODEL_DIR)
    return study


@pytest.fixture
def tiny_study(tmp_path, tiny_study_template) -> Path:
    """A private copy of the prepared tiny study, to run stages in."""
    return Path(shutil.copytree(tiny_study_template, tmp_path / "study", symlinks=True))


def copy_checkout(dest: Path) -> Path:
    """Copy this checkout's tracked and untracked-unignored files into a fresh git repo.

    It stands for a colleague's clone of the working tree as it is now (committed or not).
    """
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / name.decode()
        target = dest / name.decode()
        if not src.exists() and not src.is_symlink():
            continue  # deleted but not yet staged
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=dest, check=True)
    return dest


GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]


def merge_params(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in, key by key (nested)."""
    for key, value in extra.items():
        base[key] = merge_params(base.get(key) or {}, value) if isinstance(value, dict) else value
    return base


def git_commit(repo: Path, message: str) -> None:
    """Stage everything and commit it."""
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", message], cwd=repo, check=True)


def run_cli(
    args: list[str], cwd: Path, code_root: Path, check: bool = True, stdout_only: bool = False
) -> str:
    """Run a command (dvc, git...) with this checkout's code; return stdout (+ stderr)."""
    result = subprocess.run(
        args, cwd=cwd, env=stage_env(code_root), capture_output=True, text=True, timeout=1800
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout if stdout_only else result.stdout + result.stderr


def stages_run(output: str) -> set[str]:
    """The stages DVC says it ran (not those skipped or restored from the run cache)."""
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="session")
def demo_pipeline(tmp_path_factory) -> dict:
    """The demo exactly as ``make demo`` runs it, with real ``dvc repro`` in a fresh copy ("alice").

    The copy is a new git repository holding this checkout's files, committed: a colleague's
    fresh clone. Returns the clone, DVC's output of the first and of a second (no-op) repro,
    their wall times, the commit they ran at, ``status``: ``git status --porcelain`` right after
    the run, and ``snapshot``: a read-only copy of the demo study's files after the first run
    (without its DVC cache; the dashboard tests read it).
    """
    root = tmp_path_factory.mktemp("team")
    alice = copy_checkout(root / "alice")
    started = time.monotonic()
    first = run_cli(["dvc", "repro"], alice / "demo", alice)
    first_seconds = time.monotonic() - started
    status = run_cli(["git", "status", "--porcelain"], alice, alice, stdout_only=True)
    started = time.monotonic()
    second = run_cli(["dvc", "repro"], alice / "demo", alice)
    noop_seconds = time.monotonic() - started
    snapshot = root / "snapshot"
    shutil.copytree(alice / "demo", snapshot, ignore=shutil.ignore_patterns(".dvc", "dvc.yaml"))
    rev = run_cli(["git", "rev-parse", "HEAD"], alice, alice).strip()
    return {
        "root": root,
        "alice": alice,
        "first": first,
        "second": second,
        "first_seconds": first_seconds,
        "noop_seconds": noop_seconds,
        "rev": rev,
        "status": status,
        "snapshot": snapshot,
    }
