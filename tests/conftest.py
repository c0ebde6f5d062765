"""Shared fixtures: the synthetic sample, a tiny GPT-2 built once per session, study folders."""

from __future__ import annotations

# isort: off
import pipeline  # noqa: F401  first: pins the CPU kernels before numpy loads (_kernels.py)

# isort: on
import contextlib
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.lib.params import TinyModelParams
from pipeline.lib.synthetic_sample import generate_sample

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


def tiny_sample() -> dict[str, pd.DataFrame]:
    """A small synthetic sample in the hub dataset's raw columns (the same every call)."""
    return generate_sample({"train": 1500, "dev": 300, "test": 400}, seed=7)


@pytest.fixture(scope="session")
def sample_raw() -> dict[str, pd.DataFrame]:
    """A small synthetic sample in the hub dataset's raw columns."""
    return tiny_sample()


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The tiny GPT-2 (model.tiny of the demo), built once per test session: the demo run's base
    model, published as soon as its base_model stage is done (tests/background.py)."""
    return Path(wait_for("tiny")["path"])


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


# --- the session's long builds (demo run, tiny model), shared by every test process -------------

SHARED_ENV = "SUITE_TEST_SHARED"  # a folder every process of one test session shares
BACKGROUND_TIMEOUT = 1800  # seconds a test waits for a background build
_OWNS_SHARED = pytest.StashKey[bool]()  # this process made the shared folder (and removes it)
_BACKGROUND: list[subprocess.Popen] = []  # the background builds this process started


def shared_dir() -> Path:
    """The folder this test session's processes share (set up by :func:`pytest_configure`)."""
    return Path(os.environ[SHARED_ENV])


def pytest_configure(config) -> None:
    # The controlling process (not an xdist worker) makes the session's shared folder; workers
    # inherit it through the environment. Threads that wait for work sleep instead of spinning,
    # so that two test processes (and the background demo run) share the 2 cores well; it
    # changes no computed bit (the pinned thread count does not change).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if not hasattr(config, "workerinput") and SHARED_ENV not in os.environ:
        os.environ[SHARED_ENV] = tempfile.mkdtemp(prefix="bios-lora-tests-")
        config.stash[_OWNS_SHARED] = True


def pytest_unconfigure(config) -> None:
    if not config.stash.get(_OWNS_SHARED, False):
        # an xdist worker: a build it started may still feed the other one; let it finish
        for child in _BACKGROUND:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=BACKGROUND_TIMEOUT)
        return
    # the session's owner: stop a build still running (a session cut short), then clean up
    for pid_file in shared_dir().glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    for child in _BACKGROUND:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=60)
    shutil.rmtree(shared_dir(), ignore_errors=True)
    os.environ.pop(SHARED_ENV, None)


# The results of the session's long builds (tests/background.py) and the fixture that each one
# feeds: the job making it starts when the collected tests show that one needs it.
BACKGROUND = {
    "tiny": "tiny_model_dir",
    "demo": "demo_pipeline",
    "occupation": "occupation_pipeline",
}


def start(job: str) -> None:
    """Start a background job of the session, unless a process already has."""
    from filelock import FileLock

    shared = shared_dir()
    with FileLock(shared / f"{job}.lock"):
        if (shared / f"{job}.pid").exists():
            return
        with open(shared / f"{job}.log", "w") as log:  # the child keeps its own handle
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.background", job, str(shared)],
                cwd=REPO,
                env=stage_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _BACKGROUND.append(child)  # reaped by pytest_unconfigure
        (shared / f"{job}.pid").write_text(str(child.pid))


def wait_for(result: str) -> dict:
    """Start the background job making ``result`` if need be, wait for it, return the result."""
    from tests.background import RESULTS

    job = RESULTS[result]
    start(job)
    shared = shared_dir()
    deadline = time.monotonic() + BACKGROUND_TIMEOUT
    while not (shared / f"{result}.json").exists():
        if (shared / f"{job}.failed").exists():
            failed = (shared / f"{job}.failed").read_text()[-4000:]
            pytest.fail(f"the {job} build failed:\n{failed}")
        if time.monotonic() > deadline:
            pytest.fail(f"the {job} build took over {BACKGROUND_TIMEOUT} s; see {shared}/{job}.log")
        time.sleep(0.5)
    return json.loads((shared / f"{result}.json").read_text())


def _file(item) -> str:
    return item.nodeid.split("::")[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    # Once the tests to run are known: start each background build that one of them needs, and
    # order the test files (`make test` keeps this order: --no-loadscope-reorder; xdist would
    # otherwise send the files with the most tests first). A file stays in one piece, so its
    # module fixtures are built once.
    needs = {
        job: {id(item) for item in items if fixture in item.fixturenames}
        for job, fixture in BACKGROUND.items()
    }
    from tests.background import RESULTS

    for result, users in needs.items():
        if users and not config.option.collectonly:
            start(RESULTS[result])
    # The suite is CPU-bound on 2 cores (the builds and the tests keep both busy), so what decides
    # its length is the end: the files needing the demo run first (the builds have the cores
    # while they wait), then those needing the tiny model, then the rest; within each, files
    # with `slow` tests first. The short files come last, so the two processes end together
    # (with xdist's order, the rank-4 experiment's file ran alone for the last 90 s).
    file_rank: dict[str, tuple[int, int]] = {}
    for item in items:
        built = id(item) in needs["demo"] or id(item) in needs["occupation"]
        rank = 0 if built else 1 if id(item) in needs["tiny"] else 2
        slow = item.get_closest_marker("slow") is not None
        build, fast = file_rank.get(_file(item), (2, 1))
        file_rank[_file(item)] = (min(build, rank), min(fast, 0 if slow else 1))
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (file_rank[_file(item)], order[id(item)]))


# How much lower the tests' own CPU priority is than the background builds': every test waiting
# for the demo run waits on its critical path, so it gets the cores first.
TEST_NICENESS = 5


def pytest_collection_finish(session) -> None:
    # After the background builds started (pytest_collection_modifyitems): from here on this
    # process and the stages its tests run yield the CPU to them.
    if not session.config.option.collectonly and hasattr(os, "nice"):
        os.nice(TEST_NICENESS)


@pytest.fixture(scope="session")
def demo_pipeline() -> dict:
    """The demo exactly as ``make demo`` runs it, with real ``dvc repro`` in a fresh copy ("alice").

    Built once per test session, in the background (:mod:`tests.background`), and shared by every
    test process. The copy is a new git repository holding this checkout's files, committed: a
    colleague's fresh clone; its outputs and run cache are pushed to the default remote. Returns
    the clone, DVC's output of the first and of a second (no-op) repro, their wall times, the
    commit they ran at, ``status``: ``git status --porcelain`` right after the run, and
    ``snapshot``: a read-only copy of the demo study's files after the first run (without its
    DVC cache; the dashboard tests read it).
    """
    result = wait_for("demo")
    for key in ("root", "alice", "snapshot"):
        result[key] = Path(result[key])
    return result


@pytest.fixture(scope="session")
def occupation_pipeline() -> dict:
    """The occupation demo (``demo/occupation``) run with real ``dvc repro`` in a fresh copy.

    Built once per test session in the background; returns the copy (``clone``), the study
    folder in it, DVC's output, the wall time, ``git status --porcelain`` after the run and a
    read-only ``snapshot`` of the study's files.
    """
    result = wait_for("occupation")
    for key in ("clone", "study", "snapshot"):
        result[key] = Path(result[key])
    return result


@pytest.fixture(scope="session")
def team(demo_pipeline) -> dict:
    """Alice's run (her tree is clean: the committed lock names it), pushed with the run cache."""
    return demo_pipeline
