"""The session's long builds, run in the background while other tests run.

``python -m tests.background JOB SHARED`` runs one job and writes ``SHARED/JOB.json`` (what the
fixture waiting for it returns) or, if a step fails, ``SHARED/JOB.failed`` with the traceback
and the failing command's output. Jobs:

- ``demo``: what ``make demo`` does in a colleague's fresh clone ("alice", a new git repository
  holding this checkout's files) under ``SHARED/team``: a real ``dvc repro``, then a second
  (no-op) one; then she pushes the outputs and the run cache to the default remote. Its
  ``dvc repro`` runs in two calls, ``dvc repro base_model`` (params check, splits, the tiny
  GPT-2) and then ``dvc repro`` (the rest): between them the job publishes the demo's base model
  as the tests' tiny GPT-2, result ``tiny`` (``SHARED/tiny-gpt2``), so the session pretrains one
  tiny model, not two. ``first`` is both calls' output.
- ``occupation``: ``dvc repro`` of the occupation demo (``demo/occupation``) in another fresh
  copy ("bob"), with a snapshot of its files.

A job may publish results before it ends (:data:`RESULTS` says which job makes which).

``tests/conftest.py`` starts each job once per test session, as soon as the collected tests show
that one needs it (under a file lock: with ``pytest -n 2`` both test processes share it).
"""

# isort: off
import pipeline  # noqa: F401  first: pins the CPU kernels before numpy loads (_kernels.py)

# isort: on
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

from pipeline.lib import paths
from tests.conftest import copy_checkout, run_cli

# Which job makes each result a test can wait for (a job's own result is written when it ends).
RESULTS = {"demo": "demo", "tiny": "demo", "occupation": "occupation"}


def publish(shared: Path, name: str, result: dict) -> None:
    """Write result ``name`` (``SHARED/<name>.json``) atomically: the waiting tests read it."""
    partial = shared / f"{name}.json.partial"
    partial.write_text(json.dumps(result))
    partial.replace(shared / f"{name}.json")


def demo(shared: Path) -> dict:
    """Run the demo in a fresh clone under ``shared/team``; return what the fixture returns."""
    root = shared / "team"
    root.mkdir()
    alice = copy_checkout(root / "alice")
    started = time.monotonic()
    first = run_cli(["dvc", "repro", "base_model"], alice / "demo", alice)
    # The demo's tiny GPT-2 is the tests' tiny GPT-2 (the same model params, model.tiny).
    tiny = shared / "tiny-gpt2"
    shutil.copytree(alice / "demo" / paths.BASE_MODEL_DIR, tiny)
    publish(shared, "tiny", {"path": str(tiny)})
    first += run_cli(["dvc", "repro"], alice / "demo", alice)
    first_seconds = time.monotonic() - started
    status = run_cli(["git", "status", "--porcelain"], alice, alice, stdout_only=True)
    started = time.monotonic()
    second = run_cli(["dvc", "repro"], alice / "demo", alice)
    noop_seconds = time.monotonic() - started
    snapshot = root / "snapshot"
    shutil.copytree(alice / "demo", snapshot, ignore=shutil.ignore_patterns(".dvc", "dvc.yaml"))
    rev = run_cli(["git", "rev-parse", "HEAD"], alice, alice).strip()
    # Alice shares her work: outputs and run cache to the default (local-directory) remote.
    run_cli(["dvc", "push", "--run-cache"], alice / "demo", alice)
    return {
        "root": str(root),
        "alice": str(alice),
        "first": first,
        "second": second,
        "first_seconds": first_seconds,
        "noop_seconds": noop_seconds,
        "rev": rev,
        "status": status,
        "snapshot": str(snapshot),
    }


def occupation(shared: Path) -> dict:
    """Run the occupation demo (demo/occupation) in its own fresh copy of this checkout."""
    root = shared / "occupation-study"
    root.mkdir()
    clone = copy_checkout(root / "bob")
    study = clone / "demo" / "occupation"
    started = time.monotonic()
    output = run_cli(["dvc", "repro"], study, clone)
    seconds = time.monotonic() - started
    status = run_cli(["git", "status", "--porcelain"], clone, clone, stdout_only=True)
    snapshot = root / "snapshot"
    shutil.copytree(study, snapshot, ignore=shutil.ignore_patterns(".dvc", "dvc.yaml"))
    return {
        "clone": str(clone),
        "study": str(study),
        "output": output,
        "seconds": seconds,
        "status": status,
        "snapshot": str(snapshot),
    }


JOBS = {"demo": demo, "occupation": occupation}


def main(job: str, shared: Path) -> int:
    try:
        result = JOBS[job](shared)
    except BaseException:  # every failure goes to the waiting tests
        (shared / f"{job}.failed").write_text(traceback.format_exc())
        return 1
    publish(shared, job, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
