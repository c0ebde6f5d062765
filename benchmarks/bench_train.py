"""Training throughput of LoRA on GPT-2 124M: the suite's training setup versus the naive HF one.

Every arm trains the GPT-2 124M architecture (random weights, no download; LoRA r 8 on c_attn
and c_proj plus the head, as in params.yaml; each arm its own copy of the same initial weights)
on the same pool of bios whose token lengths are drawn like Bias in Bios (lognormal, median ~70
tokens, a tail past 250; random token ids), with the same optimizer step:

- ``naive``: the stock model, every batch padded to ``max_length``, bios in random order (the
  HF default of ``padding="max_length"`` with a random sampler);
- ``grouped``: the stock model, length-grouped batches (the train stage's sampler,
  ``pipeline.lib.train_data.length_grouped_sampler``, built on transformers'
  ``get_length_grouped_indices``) padded only to their longest bio: what the batching alone
  gives;
- ``suite``: grouped batches on the model as ``pipeline.train`` builds it (GPT-2's Python GELU
  swapped for the fused kernel, ``pipeline.lib.model_loading.fuse_gelu``).

Each arm plans one epoch over a pool the size of a real train split (the batching only shows
its effect there: length grouping sorts within "megabatches" of up to 50 batches, so a pool of a
few batches is barely grouped and its longest bio sets the width of a batch in four). Timing
every step of such an epoch takes hours on a CPU, so by default each arm times a stratified
sample of its epoch: its batches are ordered by padded width and cut into ``--steps`` strata of
equal count, one batch drawn at random from each is timed, and the epoch's time is estimated as
the sum over strata of (batches in the stratum x the timed step). On a GPU every step is timed
(``--steps 0``). The arms run interleaved step by step after a warm-up step each (so load from
other processes hits all alike); the script prints bios/s, useful (non-pad) tokens/s, the
padding each plan carries, and the ratio. Run by hand::

    python benchmarks/bench_train.py                   # CPU: 8 timed steps per arm, ~4 minutes
    python benchmarks/bench_train.py --bios 8192 --batch-size 32 --steps 0   # GPU, every step
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import platform
import time
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification

from pipeline.lib.lora_model import (
    attach_lora,
    frozen_matmuls_in_bfloat16,
    trainable_parameter_count,
)
from pipeline.lib.model_loading import fuse_gelu
from pipeline.lib.params import parse_key, read_params
from pipeline.lib.predictor_settings import LoraParams
from pipeline.lib.runtime import avoid_per_shape_attention
from pipeline.lib.train_data import length_grouped_sampler

# The real study's LoRA settings (params.yaml): the seed experiment's setup.
SEED_SETUP: LoraParams = parse_key(
    read_params(Path(__file__).resolve().parents[1] / "params.yaml"), "lora"
)


def draw_lengths(n: int, max_length: int, rng: np.random.Generator) -> np.ndarray:
    # Median exp(4.25) ~ 70 tokens; sigma 0.55 puts ~1% of bios past 250.
    lengths = np.round(rng.lognormal(mean=4.25, sigma=0.55, size=n)).astype(int)
    return np.clip(lengths, 8, max_length)


def batches(lengths: np.ndarray, batch_size: int, grouped: bool, seed: int) -> list[np.ndarray]:
    if grouped:
        order = np.asarray(list(length_grouped_sampler(batch_size, lengths.tolist(), seed)))
    else:
        order = np.random.default_rng(seed).permutation(len(lengths))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def timed_sample(
    plan: list[np.ndarray], widths: np.ndarray, steps: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``(batch index, batches it stands for)``: one batch per width stratum, or every batch."""
    if steps <= 0 or steps >= len(plan):
        return [(index, 1) for index in range(len(plan))]
    by_width = np.argsort(widths, kind="stable")
    return [(int(rng.choice(stratum)), len(stratum)) for stratum in np.array_split(by_width, steps)]


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


def make_step(model, optimizer, tokens, pad_id, device, multiple: int = 1):
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device == "cuda"
        else contextlib.nullcontext()
    )

    def step(index_batch: np.ndarray, pad_to: int | None) -> float:
        """One optimizer step; returns its seconds."""
        seqs = [tokens[i] for i in index_batch]
        width = pad_to or -(-max(len(s) for s in seqs) // multiple) * multiple
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
        return time.perf_counter() - started

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bios", type=int, default=25_747, help="pool size: one epoch per arm")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=SEED_SETUP.max_length)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per arm, one per width stratum (0: all; default 8 on CPU, 0 on GPU)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0, help="profile N steps of the suite arm")
    parser.add_argument(
        "--bf16-frozen", action="store_true", help="suite arm on CUDA: frozen Conv1D in bf16"
    )
    args = parser.parse_args()
    steps = args.steps if args.steps is not None else (0 if args.device == "cuda" else 8)
    cuda = args.device == "cuda"
    if cuda:
        avoid_per_shape_attention()  # as pipeline.train does on CUDA

    rng = np.random.default_rng(args.seed)
    config = GPT2Config(num_labels=2, pad_token_id=50256)
    torch.manual_seed(args.seed)
    stock = GPT2ForSequenceClassification(config)
    lengths = draw_lengths(args.bios, args.max_length, rng)
    tokens = [rng.integers(0, 50256, size=n) for n in lengths]
    print(
        f"device {args.device} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), torch {torch.__version__}; "
        f"{args.bios} bios, batch {args.batch_size}, max_length {args.max_length}; lengths median "
        f"{int(np.median(lengths))}, mean {lengths.mean():.1f}, p99 "
        f"{int(np.percentile(lengths, 99))}, max {lengths.max()}"
    )
    arms = {}
    for name, fused, grouped, pad_to in (
        ("naive", False, False, args.max_length),
        ("grouped", False, True, None),
        ("suite", True, True, None),
    ):
        model = copy.deepcopy(stock) if not fused else fuse_gelu(copy.deepcopy(stock))
        model = attach_lora(model, SEED_SETUP).to(args.device).train()
        if fused and cuda and args.bf16_frozen:
            frozen_matmuls_in_bfloat16(model)
        trainable = [p for p in model.parameters() if p.requires_grad]
        # The suite arm as pipeline.train runs on CUDA: fused AdamW, widths to a multiple of 32.
        optimizer = torch.optim.AdamW(trainable, lr=2e-5, fused=bool(fused and cuda) or None)
        multiple = 32 if fused and cuda else 1
        plan = batches(lengths, args.batch_size, grouped, args.seed)
        widths = np.array([pad_to or -(-lengths[b].max() // multiple) * multiple for b in plan])
        sizes = np.array([len(b) for b in plan])
        # The same batches for both grouped arms, so that they differ only in the model.
        sample = timed_sample(plan, widths, steps, np.random.default_rng([args.seed, grouped]))
        step = make_step(model, optimizer, tokens, config.pad_token_id, args.device, multiple)
        arms[name] = (plan, pad_to, sample, step)
        print(
            f"{name:7s} plan: {len(plan)} batches, mean padded width {widths.mean():.1f}, "
            f"useful share of the padded tokens {lengths.sum() / (widths * sizes).sum():.1%}; "
            f"timing {len(sample)} of them; trainable params {trainable_parameter_count(model):,}"
        )
    for plan, pad_to, sample, step in arms.values():
        # Warm-up (allocator, kernels). On CUDA every timed batch first, once: kernels and
        # attention set up per (batch, width) shape, and the first arm to meet a shape would
        # otherwise pay for all three (3-5x on an H100, see BENCHMARKS.md).
        warm = [index for index, _ in sample] if args.device == "cuda" else [sample[0][0]]
        for index in warm:
            step(plan[index], pad_to)
    # Interleave the arms step by step, so that load from other processes hits all alike.
    epoch_seconds = dict.fromkeys(arms, 0.0)
    for position in range(max(len(arm[2]) for arm in arms.values())):
        for name, (plan, pad_to, sample, step) in arms.items():
            if position < len(sample):
                index, weight = sample[position]
                epoch_seconds[name] += weight * step(plan[index], pad_to)
    results = {}
    for name, seconds in epoch_seconds.items():
        results[name] = args.bios / seconds
        print(
            f"{name:7s} {args.bios / seconds:8.2f} bios/s  {lengths.sum() / seconds:10.1f} "
            f"useful tokens/s  (epoch of {args.bios} bios: {seconds:.0f} s"
            f"{', estimated' if len(arms[name][2]) < len(arms[name][0]) else ''})"
        )
    print(
        f"ratio grouped / naive: {results['grouped'] / results['naive']:.2f}x (batching alone); "
        f"suite / naive: {results['suite'] / results['naive']:.2f}x"
    )
    if args.profile:
        profile_steps(arms["suite"], args.profile, cuda)


def profile_steps(arm, count: int, cuda: bool) -> None:
    """Where a training step's time goes: torch.profiler over ``count`` suite-arm steps."""
    from torch.profiler import ProfilerActivity, profile

    plan, pad_to, sample, step = arm
    indices = [index for index, _ in sample][:count]
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    started = time.perf_counter()
    with profile(activities=activities) as prof:
        for index in indices:
            step(plan[index], pad_to)
    wall = time.perf_counter() - started
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    launches = sum(e.count for e in events if "LaunchKernel" in e.key)
    per_step = 1000 * wall / len(indices)
    line = f"profile: {len(indices)} steps in {wall:.2f} s ({per_step:.1f} ms a step)"
    if cuda:
        busy = sum(getattr(e, "self_device_time_total", 0) for e in events) / 1e6
        line += (
            f"; GPU kernels busy {busy:.2f} s ({busy / wall:.0%} of the wall time); "
            f"{launches / len(indices):.0f} kernel launches a step"
        )
    print(line)


if __name__ == "__main__":
    main()
