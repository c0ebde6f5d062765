"""Benchmark: the demo's LoRA run of seed 1235 with and without subnormal floats flushed to zero.

Run by hand from the repo root after ``make demo`` (results in BENCHMARKS.md, section
"Subnormal floats")::

    .venv/bin/python benchmarks/bench_denormals.py --repeats 2     # a few minutes on 2 cores

Each repeat trains the demo's ``train@lora-1235`` twice in fresh interpreters, alternately with
``torch.set_flush_denormal(True)`` (the suite's default on the CPU,
``pipeline.lib.runtime.flush_denormals``) and with it switched off, in a scratch copy of the
demo study (its splits, its tiny GPT-2 and its params), so that the machine's noise falls on
both alike. Prints each mode's median seconds, their ratio, and whether the two modes' trained
adapters are the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo"

RUN = r"""
import sys
import pipeline  # pins the CPU kernels before torch loads
import torch
from pipeline.lib import runtime
if sys.argv[1] == "off":  # the suite switches it on in make_runtime: keep it off
    runtime.flush_denormals = lambda: torch.set_flush_denormal(False)
sys.argv = ["pipeline.train", "lora", "1235", "--task", "gender"]
import runpy
runpy.run_module("pipeline.train", run_name="__main__")
"""


def adapter_digest(study: Path) -> str:
    folder = study / "models" / "lora" / "seed_1235"
    digest = hashlib.sha256()
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not (DEMO / "models" / "base").is_dir():
        sys.exit("run `make demo` first: the benchmark trains on the demo's splits and model")
    seconds: dict[str, list[float]] = {"on": [], "off": []}
    digests: dict[str, set[str]] = {"on": set(), "off": set()}
    with tempfile.TemporaryDirectory() as scratch:
        study = Path(scratch)
        shutil.copy(DEMO / "params.yaml", study / "params.yaml")
        shutil.copytree(DEMO / "data", study / "data")
        shutil.copytree(DEMO / "models" / "base", study / "models" / "base")
        for _ in range(args.repeats):
            for mode in ("on", "off"):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-c", RUN, mode],
                    cwd=study,
                    env={"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)},
                    check=True,
                    capture_output=True,
                )
                seconds[mode].append(time.perf_counter() - started)
                digests[mode].add(adapter_digest(study))
    on, off = (statistics.median(seconds[m]) for m in ("on", "off"))
    print(f"flush on : median {on:6.1f} s  {[round(s, 1) for s in seconds['on']]}")
    print(f"flush off: median {off:6.1f} s  {[round(s, 1) for s in seconds['off']]}")
    print(f"off / on : {off / on:.1f}x")
    same = digests["on"] == digests["off"] and len(digests["on"]) == 1
    print(f"adapters : {'the same bytes' if same else 'DIFFER'} ({digests})")


if __name__ == "__main__":
    main()
