"""Benchmark: the suite's prediction path against the naive one, GPT-2 124M, side by side.

Run by hand from the repo root (results go in BENCHMARKS.md, section "Prediction")::

    .venv/bin/python benchmarks/bench_predict.py                      # CPU, a few minutes
    .venv/bin/python benchmarks/bench_predict.py --device cuda --bios 99069 --naive-bios 4096

What runs, on the SAME bios in one process:

(a) naive: what a user writes first: batches in the data's order, every batch padded to
    ``max_length`` (``tokenizer(..., padding="max_length")``), a
    ``GPT2ForSequenceClassification`` forward under ``torch.no_grad()``;
(b) suite, classifier: :func:`pipeline.lib.batch_scoring.predict_probs` with
    :class:`pipeline.predict.ClassifierScorer` (the random_head and LoRA path): length-sorted,
    dynamically padded, ``torch.inference_mode()``;
(c) suite, zero-shot: the same loop with :class:`pipeline.predict.ZeroShotScorer` on
    ``GPT2LMHeadModel`` (prompt + the 4 continuation tokens in one pass; the 50257-wide LM head
    runs only at the ~4 positions per bio that predict a continuation token, so its cost is
    left out of the FLOP count; so are the continuation tokens and the attention scores).

The model is ``GPT2Config()`` (the 124M architecture) with random weights: identical compute to
the real checkpoint, no download. Bios: token lengths drawn from a log-normal with median 70 and
about 2% past 250 tokens (the real test split's shape: median ~70 GPT-2 tokens, a tail past
250), clipped to [8, max_length], random token ids (the hub tokenizer is not reachable here,
and tokenization is not what is measured). Useful tokens = the bios' own tokens.

Roofline: the best of several large matmuls (float32 2048^3 on CPU; bfloat16 8192^3 on CUDA,
since a 2048^3 product reaches only about 40% of an H100's bf16 peak) in the same run;
the model costs about 2 x 85M FLOPs per useful token (its 85M non-embedding weights), so the
roofline in tokens/s is peak FLOP/s / 170M.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel

from pipeline.lib.batch_scoring import ClassifierScorer, Encoded, ZeroShotScorer, predict_probs
from pipeline.lib.model_predictors import DEFAULT_BATCH_SIZE, place
from pipeline.lib.params import parse_key, read_params
from pipeline.lib.runtime import Runtime, make_runtime

REPO = Path(__file__).resolve().parents[1]
# The real study's settings (params.yaml), not defaults of the benchmark's own.
STUDY = read_params(REPO / "params.yaml")


class WordTokenizer:
    """Stand-in for GPT-2's tokenizer for the zero-shot words only (each is one GPT-2 token)."""

    ids: ClassVar[dict[str, list[int]]] = {
        " She": [1375],
        " Her": [2332],
        " He": [679],
        " His": [2399],
    }
    eos_token_id = pad_token_id = 50256
    truncation_side = "right"

    def __call__(self, text: str) -> dict[str, list[int]]:
        """Token ids of one zero-shot word."""
        return {"input_ids": self.ids[text]}


def bio_lengths(n: int, max_length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # log-normal, median 70; sigma 0.62 puts ~2% of bios past 250 tokens.
    lengths = np.exp(rng.normal(np.log(70), 0.62, size=n)).round().astype(int)
    return np.clip(lengths, 8, max_length)


def peak_flops(
    device: torch.device, dtype: torch.dtype, size: int = 2048, reps: int = 5
) -> tuple[float, float]:
    """Best matmul FLOP/s per wall second and per CPU second (per thread, x threads)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best_wall = best_cpu = float("inf")
    for _ in range(reps + 1):
        (_, wall, cpu) = timed(lambda: (a @ b).sum().item())
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return 2 * size**3 / best_wall, 2 * size**3 / best_cpu


def naive(model, ids: list[list[int]], batch_size: int, max_length: int, runtime: Runtime):
    out = []
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            input_ids = torch.full((len(batch), max_length), 50256)
            mask = torch.zeros((len(batch), max_length), dtype=torch.long)
            for row, tokens in enumerate(batch):
                input_ids[row, : len(tokens)] = torch.tensor(tokens)
                mask[row, : len(tokens)] = 1
            with runtime.autocast():
                logits = model(
                    input_ids=input_ids.to(runtime.device), attention_mask=mask.to(runtime.device)
                ).logits
            out.append(logits.float().softmax(-1)[:, 1].cpu().numpy())
    return np.concatenate(out)


def timed(fn):
    """Return ``(result, wall seconds, CPU seconds / threads)``.

    Wall seconds are what a user waits; CPU seconds are blind to other processes taking the
    cores on a shared machine.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    cpu_s = (time.process_time() - cpu) / torch.get_num_threads()
    return result, time.perf_counter() - wall, cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bios", type=int, default=192, help="bios for the suite's path")
    parser.add_argument("--naive-bios", type=int, default=None, help="bios for (a); = --bios")
    parser.add_argument("--batch-size", type=int, default=None, help="default: per device")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    batch_size = args.batch_size or DEFAULT_BATCH_SIZE[device.type]
    # The suite's own runtime and placement: on CUDA bfloat16 weights, widths padded to a
    # multiple of 32, attention without cuDNN's per-shape graphs. The naive arm keeps float32
    # weights under bfloat16 autocast (the path before), on the same random weights.
    runtime = make_runtime(args.device)
    torch.manual_seed(args.seed)
    config = GPT2Config(pad_token_id=50256, num_labels=2)
    naive_classifier = GPT2ForSequenceClassification(config).to(device).eval()
    classifier = place(copy.deepcopy(naive_classifier), runtime)
    lm = place(GPT2LMHeadModel(GPT2Config()), runtime)
    non_embedding = sum(
        p.numel() for n, p in classifier.named_parameters() if not n.startswith("transformer.w")
    ) - sum(p.numel() for p in classifier.score.parameters())
    flops_per_token = 2 * non_embedding

    rng = np.random.default_rng(args.seed)
    lengths = bio_lengths(args.bios, args.max_length, args.seed)
    ids = [rng.integers(0, 50000, size=n).tolist() for n in lengths]
    encoded = Encoded(ids, np.zeros(len(ids), dtype=bool))
    n_naive = args.naive_bios or args.bios
    naive_ids = ids[:n_naive]

    classifier_scorer = ClassifierScorer(classifier, WordTokenizer(), args.max_length)
    zero_shot_scorer = ZeroShotScorer(
        lm, WordTokenizer(), parse_key(STUDY, "predict.zero_shot"), args.max_length
    )
    # Warm up kernels and allocator on one small batch of each path.
    warm = Encoded(ids[:4], np.zeros(4, dtype=bool))
    predict_probs(warm, classifier_scorer, runtime, batch_size)
    predict_probs(warm, zero_shot_scorer, runtime, batch_size)
    naive(naive_classifier, ids[:2], 2, args.max_length, runtime)

    dtype = torch.bfloat16 if cuda else torch.float32
    matmul_size = 8192 if cuda else 2048
    peak_before = peak_flops(device, dtype, matmul_size)
    naive_probs, naive_s, naive_cpu = timed(
        lambda: naive(naive_classifier, naive_ids, batch_size, args.max_length, runtime)
    )
    suite_probs, suite_s, suite_cpu = timed(
        lambda: predict_probs(encoded, classifier_scorer, runtime, batch_size)
    )
    _, zero_shot_s, zero_shot_cpu = timed(
        lambda: predict_probs(encoded, zero_shot_scorer, runtime, batch_size)
    )
    peak_after = peak_flops(device, dtype, matmul_size)
    peak = max(peak_before[0], peak_after[0])
    peak_cpu = max(peak_before[1], peak_after[1])

    agree = np.abs(naive_probs - suite_probs[:n_naive]).max()
    roofline_tokens = peak / flops_per_token
    useful = lengths.sum()
    rows = [
        ("(a) naive: unsorted, padded to max_length", n_naive, lengths[:n_naive].sum(), naive_s),
        ("(b) suite: classifier (random_head/LoRA)", len(ids), useful, suite_s),
        ("(c) suite: zero-shot", len(ids), useful, zero_shot_s),
    ]
    cpu_seconds = [naive_cpu, suite_cpu, zero_shot_cpu]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, ", end="")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    if cuda:
        print(f"gpu: {torch.cuda.get_device_name(device)}")
    print(
        f"bios: {len(ids)} (naive: {n_naive}), tokens median {int(np.median(lengths))}, "
        f"mean {lengths.mean():.0f}, max {lengths.max()}, share > 250: "
        f"{(lengths > 250).mean():.3f}; batch {batch_size}, max_length {args.max_length}"
    )
    print(
        f"peak matmul: {peak / 1e9:.1f} GFLOP/s ({dtype} {matmul_size}^3; "
        f"before {peak_before[0] / 1e9:.1f}, after {peak_after[0] / 1e9:.1f}); "
        f"per CPU-second {peak_cpu / 1e9:.1f}; "
        f"model {flops_per_token / 1e6:.0f} MFLOP/token -> roofline {roofline_tokens:,.0f} tokens/s"
    )
    header = f"{'path':44s} {'bios/s':>8s} {'useful tok/s':>13s} {'roofline':>9s}"
    print(f"{header} {'per CPU-s':>10s}")
    rates = {}
    for (name, n, tokens, seconds), cpu_s in zip(rows, cpu_seconds, strict=True):
        rates[name] = tokens / seconds
        print(
            f"{name:44s} {n / seconds:8.2f} {tokens / seconds:13,.0f} "
            f"{tokens / seconds / roofline_tokens:9.0%} "
            f"{tokens / cpu_s * flops_per_token / peak_cpu:10.0%}"
        )
    print(
        "(roofline: wall-clock rate / best matmul rate; per CPU-s: the same with both measured "
        "in this process's CPU seconds, which discounts other processes sharing the cores)"
    )
    ratio = rates[rows[1][0]] / rates[rows[0][0]]
    print(f"ratio (b)/(a) useful tokens/s: {ratio:.1f}x; max |prob (a) - prob (b)| = {agree:.1e}")
    per_bio = (suite_s + zero_shot_s) / len(ids)
    print(f"zero-shot + classifier over 99,069 bios at this rate: {per_bio * 99069:,.0f} s")


if __name__ == "__main__":
    main()
