"""One set of CPU kernels for every run, so outputs do not depend on the machine's vector unit.

numpy's and scipy's OpenBLAS and torch's CPU kernels pick their code path from the processor
(and from ``OPENBLAS_CORETYPE`` / ``ATEN_CPU_CAPABILITY`` where a machine sets them): on an
AVX-512 CPU they run AVX-512 kernels, elsewhere AVX2 ones. The two sum in other orders, so the
same logistic regression gave probabilities 1.7e-14 apart and the same LoRA training adapters
4.6e-5 apart (issue 26), and a colleague's rerun hashed differently from the team's DVC cache.

So the suite runs one kernel set everywhere: AVX2 with FMA, which every x86-64 CPU made since
about 2015 runs, AVX-512 ones included. :func:`pin` sets it in this process's environment (child
processes inherit it) and must run before numpy, scipy or torch load: ``pipeline/__init__.py``
calls it first, so every stage (``python -m pipeline.<stage>``) and every importer of the suite
gets it. :func:`check` reads back what the libraries actually loaded (threadpoolctl, torch) and
refuses to write outputs computed with other kernels.

``SUITE_NATIVE_KERNELS=1`` leaves each library its own choice (a little faster on AVX-512;
outputs then depend on the machine, and the run records ``native``). This module imports
nothing heavy: it runs before numpy does.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

#: The pinned kernel set: the variable each library reads at load time, and its value.
PINNED: dict[str, str] = {
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's OpenBLAS: AVX2 + FMA kernels
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels (softmax, norms, sums)
    "MKL_CBWR": "AVX2,STRICT",  # torch's BLAS (MKL): the AVX2 path, same bits for any thread count
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # torch's oneDNN primitives
    # Threads split sums into per-thread partial sums, so their number changes the bits too
    # (torch's reductions, OpenBLAS's level-2 routines): two on every machine.
    "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
}
#: What a results file records for pinned kernels (a constant: it must not name the machine).
PINNED_NAME = "x86-64 AVX2, 2 threads (pinned)"
#: Set to 1 to keep each library's own kernels (outputs then depend on the CPU).
OPT_OUT = "SUITE_NATIVE_KERNELS"
#: What OpenBLAS and torch report when the pinned kernels are in use.
EXPECTED_OPENBLAS = "Haswell"
EXPECTED_TORCH = "AVX2"

_state: str | None = None  # set by pin(): PINNED_NAME, "native" or "unpinned: <why>"


def _cpu_runs_avx2() -> bool:
    """Whether this CPU runs the pinned kernels (x86-64 with AVX2 and FMA)."""
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: every x86-64 Mac or PC still in use has AVX2
        return True
    return " avx2" in flags and " fma" in flags


def pin() -> str:
    """Pin the CPU kernels for this process and its children; return what a run records.

    Idempotent. Must run before numpy, scipy or torch load (each reads its variable once).
    """
    global _state
    if _state is not None:
        return _state
    if os.environ.get(OPT_OUT) == "1":
        _state = "native"
    elif not _cpu_runs_avx2():
        _state = f"unpinned: this CPU ({platform.machine()}) runs no x86-64 AVX2 kernels"
    else:
        os.environ.update(PINNED)
        _state = PINNED_NAME
    return _state


def state() -> str:
    """What this process's runs record as their CPU kernels (pins them if nobody has yet)."""
    return pin()


def loaded_kernels() -> dict[str, str]:
    """The kernels the loaded libraries actually run: OpenBLAS's core type(s), torch's ISA."""
    found: dict[str, str] = {}
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("internal_api") == "openblas":
                found[f"openblas:{pool['prefix']}"] = str(pool.get("architecture", "?"))
    if "torch" in sys.modules:
        import torch

        found["torch"] = torch.backends.cpu.get_cpu_capability()
    return found


def check() -> None:
    """Refuse to go on when pinned kernels were asked for but another set is loaded.

    That happens when numpy, scipy or torch was imported before ``pipeline`` (say, by a script
    that embeds the suite): import ``pipeline`` first.

    Raises:
        RuntimeError: naming the library and the kernel it loaded.
    """
    if pin() != PINNED_NAME:
        return
    for library, kernel in loaded_kernels().items():
        expected = EXPECTED_TORCH if library == "torch" else EXPECTED_OPENBLAS
        if kernel.lower() != expected.lower():
            raise RuntimeError(
                f"{library.split(':')[0]} runs {kernel} kernels, not the pinned {expected}: "
                "it was loaded before `pipeline` pinned them; import pipeline first "
                f"(or set {OPT_OUT}=1 to accept machine-dependent outputs)"
            )
