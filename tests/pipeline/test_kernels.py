"""The pinned CPU kernels (pipeline/_kernels.py), each case in a fresh interpreter.

Which kernels numpy's OpenBLAS and torch run is decided when they load, so every case starts a
new Python with the environment a colleague's machine might have. The end-to-end proof (the
demo's stages under two kernel settings, byte for byte) is in tests/test_reproducibility.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline import _kernels
from tests.conftest import REPO, stage_env

pytestmark = pytest.mark.skipif(
    not _kernels._cpu_runs_avx2(), reason="this CPU runs no x86-64 AVX2 kernels: nothing to pin"
)

REPORT = """
import hashlib, json, sys
{imports}
from pipeline import _kernels
import numpy, torch
x = numpy.random.default_rng(0).normal(size=(300, 300))
y = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
print(json.dumps({{
    "state": _kernels.state(),
    "loaded": {{k.split(":")[0]: v for k, v in _kernels.loaded_kernels().items()}},
    "threads": torch.get_num_threads(),
    "gemm": hashlib.sha256((x @ x).tobytes()).hexdigest(),
    "softmax": hashlib.sha256(torch.softmax(y @ y, dim=1).numpy().tobytes()).hexdigest(),
}}))
"""


def fresh(env_extra: dict[str, str], imports: str = "import pipeline") -> dict:
    """Run REPORT in a new interpreter with ``env_extra`` on top of the test environment."""
    env = {**stage_env(), **env_extra}
    done = subprocess.run(
        [sys.executable, "-c", REPORT.format(imports=imports)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


# A colleague's machine: its own OpenBLAS core type, torch ISA and thread count.
AVX2_ENV = {"OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}
OTHER_ENV = {"OPENBLAS_CORETYPE": "Sandybridge", "ATEN_CPU_CAPABILITY": "default"}


def test_importing_the_suite_pins_the_same_kernels_whatever_the_environment_says():
    runs = [fresh(AVX2_ENV), fresh(OTHER_ENV)]
    for run in runs:
        assert run["state"] == _kernels.PINNED_NAME
        assert run["loaded"] == {"openblas": "Haswell", "torch": "AVX2"}
        assert run["threads"] == 2
    # the same bits from numpy's BLAS and from torch, although the machines' settings differ
    assert runs[0]["gemm"] == runs[1]["gemm"]
    assert runs[0]["softmax"] == runs[1]["softmax"]


def test_without_the_pin_the_settings_change_the_bits():
    # The control: the same arithmetic, each library left to the environment's kernels. If
    # this ever gives equal bits, the test above proves nothing on this machine.
    native = {_kernels.OPT_OUT: "1"}
    runs = [fresh({**AVX2_ENV, **native}), fresh({**OTHER_ENV, **native})]
    assert runs[0]["state"] == runs[1]["state"] == "native"
    assert runs[0]["loaded"]["openblas"] == "Haswell"
    assert runs[1]["loaded"]["openblas"] == "Sandybridge"
    assert runs[0]["gemm"] != runs[1]["gemm"]


def test_numpy_loaded_before_the_suite_is_refused_with_one_line():
    # numpy already runs its own kernels when pipeline is imported too late: the run must not
    # write outputs that claim the pinned ones.
    env = {**stage_env(), "OPENBLAS_CORETYPE": "Sandybridge"}
    code = "import numpy\nimport pipeline\nfrom pipeline import _kernels\n_kernels.check()"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "runs Sandybridge kernels, not the pinned Haswell" in last
    assert "import pipeline first" in last
