"""The session's long builds, run in the background while other tests run.

``python -m tests.background JOB SHARED`` runs one job and writes ``SHARED/JOB.json`` (what the
fixture waiting for it returns) or, if a step fails, ``SHARED/JOB.failed`` with the traceback
and the failing command's output. Jobs:

- ``demo``: what ``make demo`` does in a colleague's fresh clone ("alice", a new git repository
  holding this checkout's files) under ``SHARED/team``: a real ``dvc repro``, then a second
  (no-op) one; then she pushes the outputs and the run cache to the default remote.
- ``tiny``: the tests' tiny GPT-2 (``SHARED/tiny-gpt2``), pretrained on the synthetic sample.

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

from tests.conftest import TINY, copy_checkout, run_cli, tiny_sample


def demo(shared: Path) -> dict:
    """Run the demo in a fresh clone under ``shared/team``; return what the fixture returns."""
    root = shared / "team"
    root.mkdir()
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


def tiny(shared: Path) -> dict:
    """Build the tests' tiny GPT-2 into ``shared/tiny-gpt2``."""
    from pipeline.lib.tiny_gpt2 import save_tiny_model

    out = shared / "tiny-gpt2"
    save_tiny_model(tiny_sample()["train"]["hard_text"].tolist(), TINY, seed=0, out_dir=out)
    return {"path": str(out)}


JOBS = {"demo": demo, "tiny": tiny}


def main(job: str, shared: Path) -> int:
    try:
        result = JOBS[job](shared)
    except BaseException:  # every failure goes to the waiting tests
        (shared / f"{job}.failed").write_text(traceback.format_exc())
        return 1
    partial = shared / f"{job}.json.partial"
    partial.write_text(json.dumps(result))
    partial.replace(shared / f"{job}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
