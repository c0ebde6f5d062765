"""Where models run: device, precision and process rank, decided once per process.

Both stages that run a model take their :class:`Runtime` from :func:`make_runtime`: ``predict``
(``predict.device``) and ``train`` (always ``auto``). ``auto`` picks CUDA when present, else the
CPU. On CUDA, prediction runs with bfloat16 WEIGHTS (not autocast over float32 weights: half the
memory traffic, no per-op casts), training in bfloat16 autocast; batches are padded to a
multiple of 32 tokens (a few shapes instead of one per width) and attention avoids cuDNN's fused
kernel, which builds a graph per new shape (measured on an H100: the first pass over a shape ran
3-5x slower). The CPU runs float32 with exact dynamic padding, so two CPU runs give identical
bytes. Under ``torchrun`` each process takes its rank and the GPU of its local rank, and the
process group is joined here (NCCL on CUDA, gloo on CPU).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from pipeline.lib.errors import SuiteError

# Bios per batch when a stage's batch_size param is null. On CPU a batch of ~30 length-sorted
# bios (a few thousand tokens) already keeps the matmuls near peak; a GPU needs far more rows.
DEFAULT_BATCH_SIZE = {"cpu": 32, "cuda": 256}


@dataclass(frozen=True)
class Runtime:
    """Device, precision and this process's place among ``world_size`` processes."""

    device: torch.device
    autocast_dtype: torch.dtype | None = None  # training on CUDA: bfloat16 autocast
    rank: int = 0
    world_size: int = 1
    inference_dtype: torch.dtype | None = None  # prediction: weights cast to it (bf16 on CUDA)
    pad_multiple: int = 1  # batch widths rounded up to a multiple of this (32 on CUDA)

    @property
    def description(self) -> str:
        """The device as recorded with results (independent of the process count)."""
        if self.inference_dtype is not None:
            precision = f"{str(self.inference_dtype).removeprefix('torch.')} weights"
        else:
            precision = "bfloat16 autocast" if self.autocast_dtype else "float32"
        return f"{self.device.type} ({precision})"

    @property
    def device_name(self) -> str:
        """The device by name, as the train stage records it: ``cuda:<GPU name>`` or ``cpu``."""
        if self.is_cuda:
            return f"cuda:{torch.cuda.get_device_name(self.device)}"
        return "cpu"

    @property
    def is_cuda(self) -> bool:
        """Whether this process runs on a GPU."""
        return self.device.type == "cuda"

    @property
    def is_main_process(self) -> bool:
        """Rank 0: the one process that writes a stage's outputs."""
        return self.rank == 0

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        """A host array on this device: through pinned memory without waiting, on CUDA."""
        tensor = torch.from_numpy(array)
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor

    def width(self, longest: int) -> int:
        """The padded width of a batch whose longest row has ``longest`` tokens."""
        return -(-longest // self.pad_multiple) * self.pad_multiple

    def autocast(self):
        """The autocast context of this device (a no-op on CPU)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


CPU = Runtime(torch.device("cpu"))


def avoid_per_shape_attention() -> None:
    """Attention through flash / memory-efficient SDPA, never cuDNN's (a graph per new shape)."""
    torch.backends.cuda.enable_cudnn_sdp(False)


def flush_denormals() -> None:
    """Treat subnormal floats as zero on the CPU (flush-to-zero and denormals-are-zero).

    A training run can drift into numbers below float32's normal range (about 1e-38), and x86
    CPUs compute with those through a microcode path tens of times slower. Switched on after
    by-hand timings of the demo's LoRA run of seed 1235 (75 to 190 s instead of about 15 s)
    that the side-by-side benchmark did not reproduce (about 17 s either way: BENCHMARKS.md).
    Those numbers are far below anything a weight or a probability can resolve; on the demo
    every output is byte-identical either way (the committed lock, and the benchmark's adapters).
    """
    torch.set_flush_denormal(True)


def make_runtime(device: Literal["auto", "cpu", "cuda"]) -> Runtime:
    """Pick the device (and join the process group under ``torchrun``)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if device == "cuda" and not torch.cuda.is_available():
        raise SuiteError("predict.device = 'cuda' but no CUDA device is visible; use auto or cpu")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu")
    if world_size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        avoid_per_shape_attention()
    else:
        flush_denormals()
    return Runtime(
        device=chosen,
        autocast_dtype=torch.bfloat16 if use_cuda else None,
        rank=rank,
        world_size=world_size,
        inference_dtype=torch.bfloat16 if use_cuda else None,
        pad_multiple=32 if use_cuda else 1,
    )


def shutdown(runtime: Runtime) -> None:
    """Leave the process group, if this process joined one."""
    if runtime.world_size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
