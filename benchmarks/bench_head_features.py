"""Benchmark: head-type predictors scored from one shared representation pass, side by side.

Every head-type predictor of a study (``random_head``, each seed's ``head_only`` and
``leace_head_only``) puts a head on the SAME representation: the frozen base's final hidden
state at a bio's last real token. Today each one's predict stage runs the whole base over every
test bio again. This measures, on a built demo study and in one process:

(a) today: each run loaded as its predict stage loads it (:func:`load_predictor`) and scored
    with :func:`predict_probs` (a full forward of the base per run);
(b) shared: ONE representation pass of the base over the bios
    (:func:`pipeline.lib.erasure.representations`, the erase stage's code), then each run's
    head (with its LEACE eraser where it has one) applied to those rows.

It prints both times, their ratio, and how far (b)'s probabilities are from (a)'s (the largest
absolute difference, and how many predicted labels differ): the numbers a representation cache
(a DVC output read by the head-type stages) would rest on. Process start-up and imports (about
5 s per stage process on 2 cores) are not in either time; the cache would also spare them the
transformers import.

Run by hand from the repo root on a built demo (``make demo``)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_head_features.py [--study demo/occupation]
"""

# isort: off
import pipeline  # noqa: F401  first: pins the CPU kernels before numpy loads (_kernels.py)

# isort: on
import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from pipeline.lib import catalogue, paths, tasks
from pipeline.lib.erasure import representations
from pipeline.lib.model_predictors import (
    DEFAULT_BATCH_SIZE,
    LoadContext,
    load_predictor,
    params_keys,
    predict_probs,
)
from pipeline.lib.params import PARAMS_FILE, StageParams, read_params
from pipeline.lib.prediction_files import THRESHOLD
from pipeline.lib.runtime import make_runtime
from pipeline.lib.tables import read_split

HEAD_TYPES = ("random_head", "head_only", "leace_head_only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="demo", help="a built study folder (default: demo)")
    args = parser.parse_args()
    study = Path(args.study).resolve()
    os.chdir(study)
    raw = read_params(study / PARAMS_FILE)
    task = raw.get("task", tasks.DEFAULT)
    seeds = raw["seeds"]["train"]
    runs = [
        (name, seed)
        for name in HEAD_TYPES
        if name in catalogue.names(task=task)
        for seed in ([None] if not catalogue.spec(name, task).seeded else seeds)
    ]
    test = read_split(paths.split_path("test"), ("id", "text"))
    texts = test["text"].tolist()
    runtime = make_runtime("cpu")
    predictors = []
    for name, seed in runs:
        params = StageParams(raw, params_keys(name, task), str(study / PARAMS_FILE))
        context = LoadContext(params, runtime, seed=seed, task=task)
        predictors.append((name, seed, load_predictor(name, context)))
    batch = raw["predict"]["batch_size"] or DEFAULT_BATCH_SIZE["cpu"]
    max_length = raw["predict"]["max_length"]
    print(f"study {study.name} ({task}): {len(texts)} test bios, {len(runs)} head-type runs")

    started = time.perf_counter()
    today = {}
    for name, seed, predictor in predictors:
        scorer = predictor.scorer
        today[(name, seed)] = predict_probs(
            scorer.encode(texts), scorer, runtime, batch, progress=False
        )
    seconds_today = time.perf_counter() - started

    started = time.perf_counter()
    first = predictors[0][2].scorer
    rows = representations(
        first.model, first.tokenizer, texts, max_length, runtime, batch, desc="representation"
    )
    features = torch.as_tensor(rows, dtype=torch.float32)
    shared = {}
    with torch.inference_mode():
        for name, seed, predictor in predictors:
            # as ClassifierScorer.score: float32 softmax of the head's logits
            probs = predictor.scorer.model.score(features).float().softmax(-1).double().numpy()
            shared[(name, seed)] = probs[:, 1] if predictor.scorer.classes is None else probs
    seconds_shared = time.perf_counter() - started

    def labels(probs: np.ndarray) -> np.ndarray:
        return (probs >= THRESHOLD) if probs.ndim == 1 else probs.argmax(-1)

    worst, flipped = 0.0, 0
    for key, probs in today.items():
        worst = max(worst, float(np.abs(probs - shared[key]).max()))
        flipped += int((labels(probs) != labels(shared[key])).sum())
    print(f"(a) today, a base forward per run: {seconds_today:7.1f} s")
    print(f"(b) one representation pass + heads: {seconds_shared:7.1f} s")
    print(f"ratio (a) / (b): {seconds_today / seconds_shared:.1f}x")
    print(f"largest |P(a) - P(b)|: {worst:.2e}; predicted labels that differ: {flipped}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
        f"seeds {yaml.safe_dump(seeds, default_flow_style=True).strip()}"
    )


if __name__ == "__main__":
    main()
