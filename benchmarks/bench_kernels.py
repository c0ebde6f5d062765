"""Benchmark: what the pinned CPU kernels cost, against each library's own choice, side by side.

Run by hand from the repo root (results go in BENCHMARKS.md, section "Pinned CPU kernels")::

    .venv/bin/python benchmarks/bench_kernels.py            # about a minute on 2 cores

Two workloads, each run in fresh interpreters alternately (pinned, native, pinned, native...)
so that the machine's noise falls on both alike; the kernels are chosen when numpy and torch
load, so one process cannot measure both:

- ``train``: 40 optimizer steps of the demo's tiny GPT-2 (2 layers, 128 wide) for sequence
  classification, batch 16 x 128 tokens, float32: the pretraining and LoRA stages' arithmetic;
- ``tfidf``: the TF-IDF + logistic regression baseline fitted on 3,000 synthetic bios.

``pinned`` is the suite's default (AVX2, 2 threads: ``pipeline/_kernels.py``); ``native`` is
``SUITE_NATIVE_KERNELS=1`` (AVX-512 where the CPU has it, the machine's thread count). Prints
the median seconds of each and the ratio pinned / native, and the kernels each run loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKLOAD = r"""
import json, sys, time
import pipeline
from pipeline import _kernels
import numpy as np, torch
which = sys.argv[1]
if which == "train":
    from transformers import GPT2Config, GPT2ForSequenceClassification
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=2048, n_layer=2, n_head=4, n_embd=128, n_positions=512,
                        num_labels=2, pad_token_id=0)
    model = GPT2ForSequenceClassification(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(1, 2048, (16, 128), generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(1))
    start = time.perf_counter()
    for _ in range(40):
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(); loss.backward(); opt.step()
else:
    from pipeline.lib.synthetic_sample import generate_sample
    from pipeline.lib.baseline_predictors import TfidfParams, fit_tfidf_logreg
    import yaml
    frame = generate_sample({"train": 3000}, seed=0)["train"]
    train = frame.rename(columns={"hard_text": "text", "gender": "label"})
    params = yaml.safe_load(open("demo/params.yaml"))["baselines"]["tfidf_logreg"]
    start = time.perf_counter()
    fit_tfidf_logreg(train, TfidfParams.model_validate(params))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "state": _kernels.state(),
                  "loaded": _kernels.loaded_kernels(), "threads": torch.get_num_threads()}))
"""


def run(which: str, native: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SUITE_NATIVE_KERNELS", None)
    if native:
        env["SUITE_NATIVE_KERNELS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, which],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for which in ("train", "tfidf"):
        times: dict[str, list[float]] = {"pinned": [], "native": []}
        seen = {}
        for _ in range(args.repeats):
            for mode in ("pinned", "native"):
                result = run(which, native=mode == "native")
                times[mode].append(result["seconds"])
                seen[mode] = (result["state"], result["loaded"], result["threads"])
        pinned, native = (statistics.median(times[m]) for m in ("pinned", "native"))
        print(f"{which}: pinned {pinned:.2f} s, native {native:.2f} s, ratio {pinned / native:.2f}")
        for mode, facts in seen.items():
            print(f"  {mode}: {facts}")


if __name__ == "__main__":
    main()
