"""The DVC pipeline itself: declared paths match the code, and `dvc repro` runs for real."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from pipeline import paths
from tests.conftest import REPO, copy_checkout, stage_env


def dvc(args: list[str], cwd: Path, code_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["dvc", *args],
        cwd=cwd,
        env=stage_env(code_root),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_dvc_yaml_declares_the_paths_the_code_writes():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages["prepare"]["outs"] == [str(paths.split_path(s)) for s in paths.SPLITS]
    assert stages["prepare"]["metrics"] == [str(paths.PROFILE)]
    assert stages["base_model"]["outs"] == [str(paths.BASE_MODEL_DIR)]
    train = stages["train"]
    assert train["outs"] == [str(paths.LORA_DIR)]
    assert train["metrics"] == [str(paths.LORA_METRICS)]
    assert [next(iter(p)) for p in train["plots"]] == [str(paths.LORA_HISTORY)]
    assert set(train["deps"][1:]) == {
        str(paths.BASE_MODEL_DIR),
        str(paths.split_path("train")),
        str(paths.split_path("dev")),
    }
    assert train["params"] == ["lora", "seeds.train"]
    # Checkpoints must survive DVC deleting the outs of a stage it is about to rerun.
    declared = [*train["outs"], *train["metrics"], *(next(iter(p)) for p in train["plots"])]
    assert not any(
        Path(p) in (paths.LORA_CHECKPOINTS_DIR, *paths.LORA_CHECKPOINTS_DIR.parents)
        or paths.LORA_CHECKPOINTS_DIR.is_relative_to(p)
        for p in declared
    )
    assert (REPO / "demo/dvc.yaml").resolve() == (REPO / "dvc.yaml").resolve()


def test_demo_prepare_repro_twice_second_is_noop(tmp_path):
    clone = copy_checkout(tmp_path / "clone")
    demo = clone / "demo"
    first = dvc(["repro", "prepare"], demo, clone)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Running stage 'prepare'" in first.stdout
    assert (demo / paths.split_path("test")).is_file()
    started = time.monotonic()
    second = dvc(["repro", "prepare"], demo, clone)
    assert second.returncode == 0, second.stderr
    assert "Running stage" not in second.stdout
    assert "didn't change, skipping" in second.stdout
    assert time.monotonic() - started < 30
    status = dvc(["status", "prepare"], demo, clone)
    assert "up to date" in status.stdout
