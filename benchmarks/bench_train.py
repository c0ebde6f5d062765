"""Training throughput of LoRA on GPT-2 124M: the suite's batching versus the naive HF setup.

Both arms train the same model (GPT-2 124M architecture, random weights, no download; LoRA r 8 on
c_attn and c_proj plus the head, as in params.yaml) on the same pool of bios whose token lengths
are drawn like Bias in Bios (lognormal, median ~70 tokens, a tail past 250; random token ids),
with the same optimizer step:

- ``naive``: every batch padded to ``max_length``, bios in random order (the HF default of
  ``padding="max_length"`` with a random sampler);
- ``suite``: length-grouped batches (transformers' ``get_length_grouped_indices``, the sampler of
  ``pipeline.train``) padded only to their longest bio.

Each arm runs one epoch over the pool after one warm-up step, the two arms interleaved step by
step (so load from other processes hits both alike), and prints bios/s, useful
(non-pad) tokens/s and the ratio. Run by hand::

    python benchmarks/bench_train.py                   # CPU: 64 bios, a few minutes
    python benchmarks/bench_train.py --bios 8192       # GPU (CUDA, bfloat16 autocast)
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time

import numpy as np
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification
from transformers.trainer_pt_utils import get_length_grouped_indices

from pipeline.train import LoraParams, attach_lora, trainable_parameter_count


def draw_lengths(n: int, max_length: int, rng: np.random.Generator) -> np.ndarray:
    # Median exp(4.25) ~ 70 tokens; sigma 0.55 puts ~1% of bios past 250.
    lengths = np.round(rng.lognormal(mean=4.25, sigma=0.55, size=n)).astype(int)
    return np.clip(lengths, 8, max_length)


def batches(lengths: np.ndarray, batch_size: int, grouped: bool, seed: int) -> list[np.ndarray]:
    if grouped:
        generator = torch.Generator().manual_seed(seed)
        grouped_order = get_length_grouped_indices(lengths.tolist(), batch_size, None, generator)
        order = np.asarray(grouped_order)
    else:
        order = np.random.default_rng(seed).permutation(len(lengths))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def make_batch(ids: list[np.ndarray], width: int, pad_id: int, device: str) -> dict:
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.from_numpy(seq)
        mask[row, : len(seq)] = 1
    labels = torch.randint(0, 2, (len(ids),))
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }


def make_step(model, optimizer, tokens, pad_id, device):
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device == "cuda"
        else contextlib.nullcontext()
    )

    def step(index_batch: np.ndarray, pad_to: int | None) -> tuple[float, int]:
        """One optimizer step; returns (seconds, useful tokens)."""
        seqs = [tokens[i] for i in index_batch]
        width = pad_to or max(len(s) for s in seqs)
        batch = make_batch(seqs, width, pad_id, device)
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started, sum(len(s) for s in seqs)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bios", type=int, default=64, help="pool size (one epoch per arm)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=LoraParams().max_length)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = GPT2Config(num_labels=2, pad_token_id=50256)
    model = attach_lora(GPT2ForSequenceClassification(config), LoraParams()).to(args.device)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-5)
    lengths = draw_lengths(args.bios, args.max_length, rng)
    tokens = [rng.integers(0, 50256, size=n) for n in lengths]
    print(
        f"device {args.device} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), torch {torch.__version__}; "
        f"trainable params {trainable_parameter_count(model):,}; {args.bios} bios, batch "
        f"{args.batch_size}, max_length {args.max_length}; lengths median "
        f"{int(np.median(lengths))}, p99 {int(np.percentile(lengths, 99))}, max {lengths.max()}"
    )
    step = make_step(model, optimizer, tokens, config.pad_token_id, args.device)
    plans = {
        "naive": (batches(lengths, args.batch_size, False, args.seed), args.max_length),
        "suite": (batches(lengths, args.batch_size, True, args.seed), None),
    }
    for plan, pad_to in plans.values():
        step(plan[0], pad_to)  # warm-up (allocator, kernels)
    # Interleave the arms step by step, so that load from other processes hits both alike.
    totals = {name: [0.0, 0, 0] for name in plans}
    for index in range(len(plans["naive"][0])):
        for name, (plan, pad_to) in plans.items():
            seconds, useful = step(plan[index], pad_to)
            totals[name][0] += seconds
            totals[name][1] += len(plan[index])
            totals[name][2] += useful
    results = {}
    for name, (seconds, bios, useful) in totals.items():
        results[name] = bios / seconds
        print(
            f"{name:6s} {bios / seconds:8.2f} bios/s  {useful / seconds:10.1f} useful tokens/s  "
            f"({seconds:.1f} s for {bios} bios)"
        )
    print(f"ratio suite / naive: {results['suite'] / results['naive']:.2f}x")


if __name__ == "__main__":
    main()
