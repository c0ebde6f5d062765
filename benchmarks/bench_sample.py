"""Benchmark: bios per second of the synthetic sample generator at the seed experiment's scale.

Generates the 129,816 bios of the seed experiment's scale (its 10% train sample of 25,747 bios,
5,000 dev and the 99,069 test bios) with :func:`pipeline.lib.synthetic_sample.generate_sample` in
the current
process and prints the rate. Run it pinned to one core, from the repo root::

    PYTHONPATH=. taskset -c 0 .venv/bin/python benchmarks/bench_sample.py

Target: at least 10,000 bios/s on one core. ``--repeats`` runs it several times (the best
counts); ``--train/--dev/--test`` change the split sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from pipeline.lib.synthetic_sample import generate_sample

SEED_SCALE = {"train": 25_747, "dev": 5_000, "test": 99_069}  # 129,816 bios


def main() -> None:
    """Time generate_sample and print bios/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for split, rows in SEED_SCALE.items():
        parser.add_argument(f"--{split}", type=int, default=rows)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = {split: getattr(args, split) for split in SEED_SCALE}
    bios = sum(sizes.values())
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(f"python {platform.python_version()}, {platform.machine()}, CPU affinity {affinity}")
    best = float("inf")
    for repeat in range(args.repeats):
        started = time.perf_counter()
        sample = generate_sample(sizes, args.seed)
        seconds = time.perf_counter() - started
        best = min(best, seconds)
        rows = sum(len(frame) for frame in sample.values())
        print(f"run {repeat + 1}: {rows:,} bios in {seconds:.2f} s = {rows / seconds:,.0f} bios/s")
    print(f"best: {bios:,} bios in {best:.2f} s = {bios / best:,.0f} bios/s (target >= 10,000)")


if __name__ == "__main__":
    main()
