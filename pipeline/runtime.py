"""Where models run: device, precision and process rank, decided once per process.

``predict.device: auto`` picks CUDA when present (bfloat16 autocast), else CPU in float32.
Under ``torchrun`` each process takes its rank and the GPU of its local rank, and the process
group is joined here (NCCL on CUDA, gloo on CPU).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import torch

from pipeline.errors import SuiteError


@dataclass(frozen=True)
class Runtime:
    """Device, precision and this process's place among ``world_size`` processes."""

    device: torch.device
    autocast_dtype: torch.dtype | None = None  # bfloat16 on CUDA, None (float32) on CPU
    rank: int = 0
    world_size: int = 1

    @property
    def description(self) -> str:
        """The device as recorded with results (independent of the process count)."""
        precision = "bfloat16 autocast" if self.autocast_dtype else "float32"
        return f"{self.device.type} ({precision})"

    def autocast(self):
        """The autocast context of this device (a no-op on CPU)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


CPU = Runtime(torch.device("cpu"))


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
    return Runtime(
        device=chosen,
        autocast_dtype=torch.bfloat16 if use_cuda else None,
        rank=rank,
        world_size=world_size,
    )


def shutdown(runtime: Runtime) -> None:
    """Leave the process group, if this process joined one."""
    if runtime.world_size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
