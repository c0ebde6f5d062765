"""Nothing lost, nothing left behind: killed writes, failed stages under DVC, the error edge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir, remove_stale_temporaries, write_json
from tests.conftest import REPO, copy_checkout, demo_params, dvc, stage_env, write_params

# A process that starts an atomic write of ARGV[1] and is SIGKILLed halfway through it.
KILLED_WRITE = """
import os, signal, sys
from pipeline.lib.io import atomic_dir, atomic_path
target = sys.argv[1]
if sys.argv[2] == "file":
    with atomic_path(target) as tmp:
        tmp.write_text("half")
        os.kill(os.getpid(), signal.SIGKILL)
with atomic_dir(target) as tmp:
    (tmp / "weights").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_write(target: Path, kind: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(target), kind], env=stage_env(), timeout=120
    )
    assert result.returncode == -signal.SIGKILL


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path, kind):
    target = tmp_path / ("metrics.json" if kind == "file" else "lora")
    neighbour = tmp_path / "summary.json"
    killed_write(target, kind)
    killed_write(neighbour, "file")  # another target's leftover: not this write's business
    assert not target.exists()  # never a target that looks complete
    left = [name for name in hidden(tmp_path) if name.startswith(f".{target.name}.")]
    assert len(left) == 1 and left[0].endswith(".tmp"), hidden(tmp_path)
    # git ignores the leftovers meanwhile (git status stays clean)
    shown = f"demo/data/splits/{left[0]}"
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", shown], cwd=REPO)
    assert ignored.returncode == 0

    if kind == "file":
        write_json({"ok": 1}, target)
        assert json.loads(target.read_text()) == {"ok": 1}
    else:
        with atomic_dir(target) as tmp:
            (tmp / "weights").write_text("whole")
        assert (target / "weights").read_text() == "whole"
    assert [name for name in hidden(tmp_path) if name.startswith(f".{target.name}.")] == []
    assert len([n for n in hidden(tmp_path) if n.startswith(".summary.json.")]) == 1


def test_a_running_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "test.parquet"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".test.parquet.{sleeper.pid}.abc123de.tmp"
        live.write_text("busy")
        dead = tmp_path / ".test.parquet.zyx987ab.tmp"  # an older name, without a process id
        dead.write_text("stale")
        assert remove_stale_temporaries(target) == [dead]
        assert live.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temporaries(target) == [live]


def test_a_swap_killed_between_its_renames_gets_the_previous_folder_back(tmp_path):
    target = tmp_path / "analysis"
    aside = tmp_path / ".analysis.old"  # what a kill between the two renames leaves
    aside.mkdir()
    (aside / "report.md").write_text("previous")
    with atomic_dir(target) as tmp:
        assert (target / "report.md").read_text() == "previous"  # restored before writing
        (tmp / "report.md").write_text("new")
    assert (target / "report.md").read_text() == "new"
    assert hidden(tmp_path) == []


def test_under_dvc_the_error_line_ends_with_the_recovery_command(capsys, monkeypatch):
    def fails() -> None:
        raise SuiteError("data/raw/train.csv: empty file (0 bytes), expected a CSV file")

    monkeypatch.delenv("DVC_STAGE", raising=False)
    with pytest.raises(SystemExit):
        run_main(fails)
    assert capsys.readouterr().err == (
        "error: data/raw/train.csv: empty file (0 bytes), expected a CSV file\n"
    )
    monkeypatch.setenv("DVC_STAGE", "predict@lora")
    with pytest.raises(SystemExit) as stopped:
        run_main(fails)
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.endswith(
        "expected a CSV file; DVC removed this stage's previous outputs before running it: "
        "`dvc checkout predict@lora` restores them\n"
    )


def test_a_stage_failing_under_dvc_says_how_to_restore_what_dvc_removed(tmp_path):
    # DVC deletes a stage's outputs before running it, so a stage that stops on bad input leaves
    # none; its one error line names the command that restores them from DVC's cache.
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    write_params(demo, demo_params({"data": {"sample": {"train": 300, "dev": 60, "test": 60}}}))
    first = dvc(["repro", "prepare"], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    outputs = [*(paths.split_path(split) for split in paths.SPLITS), paths.PROFILE]
    before = {file: (demo / file).read_bytes() for file in outputs}

    (demo / "data/raw/train.csv").write_bytes(b"hard_text,profession,gender\nShe is,3\n")
    local = {"train": "data/raw/train.csv", "dev": "data/raw/train.csv"}
    local |= {"test": "data/raw/train.csv", "path": None, "split_column": "split"}
    write_params(demo, demo_params({"data": {"source": "local", "local": local}}))
    failed = dvc(["repro", "prepare"], demo, clone)
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: data/raw/train.csv: not a CSV file (could not parse line 2: expected 3 fields, "
        "saw 2); read as comma-separated: no comma, semicolon or tab splits its first lines "
        "into the same number of fields; DVC removed this stage's previous outputs before "
        "running it: "
        "`dvc checkout prepare` restores them"
    ], failed.stderr
    assert not any((demo / file).exists() for file in outputs)  # DVC's doing, as documented

    restored = dvc(["checkout", "prepare"], demo, clone)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert {file: (demo / file).read_bytes() for file in outputs} == before
    os.remove(demo / "data/raw/train.csv")
