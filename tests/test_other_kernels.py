"""Every kind of demo stage gives Alice's bytes under other CPU kernels (real DVC, offline)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import _kernels
from pipeline.lib import catalogue, paths
from pipeline.lib.io import read_parquet_metadata
from tests.conftest import (
    copy_checkout,
    run_cli,
    stage_env,
    stages_run,
    wait_for,
)
from tests.team import (
    FIRST,
    SEEDS,
    UNSEEDED,
    outputs,
    seed_chains,
)

pytestmark = pytest.mark.slow


def cpu_has_avx512() -> bool:
    try:
        return " avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def other_kernels() -> dict[str, str]:
    """Kernel settings unlike the ones Alice's run had, in every library and the thread count.

    OpenBLAS (numpy, scipy) and torch: AVX2 where Alice's environment left AVX-512 (the
    default on an AVX-512 CPU), AVX-512 where it set AVX2; on a CPU without AVX-512, the
    older AVX (Sandy Bridge) kernels and torch's scalar ones, which any x86-64 CPU runs.
    """
    if not cpu_has_avx512():
        print("this CPU has no AVX-512: comparing its AVX2 kernels with AVX and scalar ones")
        return {"OPENBLAS_CORETYPE": "Sandybridge", "ATEN_CPU_CAPABILITY": "default"}
    alice_blas = os.environ.get("OPENBLAS_CORETYPE", "SkylakeX").lower()
    alice_torch = os.environ.get("ATEN_CPU_CAPABILITY", "avx512").lower()
    return {
        "OPENBLAS_CORETYPE": "SkylakeX" if alice_blas in {"haswell", "zen"} else "Haswell",
        "ATEN_CPU_CAPABILITY": "avx512" if alice_torch == "avx2" else "avx2",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


@pytest.mark.skipif(not _kernels._cpu_runs_avx2(), reason="this CPU runs no pinned kernels")
def test_every_kind_of_stage_gives_the_same_bytes_under_other_cpu_kernels(tmp_path):
    # Ivan's machine runs other linear-algebra kernels and thread counts than Alice's. In his
    # own fresh clone he runs every kind of stage of the demo (one training seed of three: each
    # seed runs the same code), takes the other two seeds' files from Alice and runs the
    # analysis: every output is Alice's, byte for byte, and DVC finds the committed lock up to
    # date. (His stages run while Alice's demo run is still going: the test waits for hers only
    # to compare, and for the two seeds it does not train.) The base model's 300 pretraining
    # steps are Alice's too (the session's tiny GPT-2, published as soon as she has it): the
    # base_model stage's code runs under both kernels in the test below, at fewer steps.
    ivan = copy_checkout(tmp_path / "ivan")
    demo = ivan / "demo"
    kernels = other_kernels()
    print(f"the session's environment: {[os.environ.get(k) for k in kernels]}; Ivan's: {kernels}")
    shutil.copytree(wait_for("tiny")["path"], demo / paths.BASE_MODEL_DIR)
    stages = [
        "check_params",
        "prepare",
        "probe",
        "erase",
        *(catalogue.predict_stage(m) for m in UNSEEDED),
        *(f"baselines@{b}" for b in catalogue.names("baseline")),
        *seed_chains(SEEDS[0]),
        "analyze",
    ]
    # The commands DVC runs for them, in its order; run in one interpreter (tests/run_stages.py)
    # so that torch and transformers load once, not once per stage.
    dry = run_cli(["dvc", "repro", "--dry", "--force", "--single-item", *stages], demo, ivan)
    assert stages_run(dry) == set(stages)
    commands = re.findall(r"^> (python -m .+)$", dry, flags=re.MULTILINE)
    assert len(commands) == len(stages), dry
    assert commands[-1] == "python -m analysis.analyze --task gender", dry
    env = {**stage_env(ivan), **kernels}

    def run_stages(*commands: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tests.run_stages", *commands],
            cwd=demo,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-4000:]

    run_stages(*commands[:-1])  # every stage but the analysis
    alice = wait_for("demo")
    snapshot = Path(alice["snapshot"])
    lock = yaml.safe_load((demo / "dvc.lock").read_text())["stages"]
    for seed in SEEDS[1:]:  # the two seeds he did not train: their outputs, as Alice made them
        for stage in seed_chains(seed):
            for out in lock[stage]["outs"]:
                copy = shutil.copytree if (snapshot / out["path"]).is_dir() else shutil.copy2
                (demo / out["path"]).parent.mkdir(parents=True, exist_ok=True)
                copy(snapshot / out["path"], demo / out["path"])
    run_stages(commands[-1])
    for name in ("zero_shot", FIRST, "tfidf_logreg"):  # what each prediction file records
        meta = read_parquet_metadata(demo / paths.predictions_path(name))
        assert meta["cpu_kernels"] == _kernels.PINNED_NAME
    ours, alices = outputs(demo), outputs(snapshot)
    assert ours.keys() == alices.keys()
    differ = sorted(name for name in ours if ours[name] != alices[name])
    assert not differ, f"other bytes under {kernels}: {differ}"
    # DVC agrees: recording what his workspace holds rewrites the committed lock with the same
    # bytes (every output and dependency hashes as it says), and nothing is left to run.
    run_cli(["dvc", "commit", "--force"], demo, ivan)
    status = run_cli(["dvc", "status"], demo, ivan)
    assert "Data and pipelines are up to date" in status, status
    changed = run_cli(["git", "status", "--porcelain"], ivan, ivan, stdout_only=True)
    assert changed == "", changed


@pytest.mark.skipif(not _kernels._cpu_runs_avx2(), reason="this CPU runs no pinned kernels")
def test_the_base_model_stage_gives_the_same_bytes_under_other_cpu_kernels(tmp_path):
    # The stage Ivan takes from Alice above: the tokenizer and the tiny GPT-2's pretraining,
    # here at 30 steps (the demo's 300 are the same code), in two fresh copies of the demo's
    # prepared splits, one under the session's kernels and one under other ones.
    first = copy_checkout(tmp_path / "first") / "demo"
    params = yaml.safe_load((first / "params.yaml").read_text())
    params["model"]["tiny"]["pretrain_steps"] = 30
    (first / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_cli(["dvc", "repro", "prepare"], first, first.parent)
    second = Path(shutil.copytree(first.parent, tmp_path / "second", symlinks=True)) / "demo"
    for study, kernels in ((first, {}), (second, other_kernels())):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.base_model"],
            cwd=study,
            env={**stage_env(study.parent), **kernels},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-4000:]
    ours, theirs = (
        {
            str(file.relative_to(study)): file.read_bytes()
            for file in sorted((study / paths.BASE_MODEL_DIR).rglob("*"))
            if file.is_file()
        }
        for study in (first, second)
    )
    assert "model.safetensors" in {Path(name).name for name in ours}
    assert ours == theirs, sorted(name for name in ours if ours[name] != theirs.get(name))
