"""The train loss in ``history.csv``, kept by the suite so that a resumed run logs the same one.

Every ``<name>.eval_steps`` optimizer steps the trainer logs the train loss averaged over the steps
since its previous log (and over the processes). Its running sum lives inside the trainer, and a
checkpoint does not save it: a run resumed from a checkpoint between two logs would average
fewer steps at its first log than an uninterrupted run, and its ``history.csv`` would differ.

The ``TrainLoss`` callback (:func:`train_loss`) keeps that sum itself, through the trainer's
public hooks only (:mod:`pipeline.lib.classifier_training` overrides them):

- the trainer's ``training_step`` hands it each micro-batch's loss (``add``);
- the trainer's ``log`` replaces the logged ``loss`` with ``mean_since_last_log``;
- ``saved_state`` (every process's sum, gathered, and the step of the last log) goes into each
  checkpoint's marker (:func:`pipeline.lib.checkpoints.mark_complete`), and ``on_train_begin``
  restores it when the run resumes from that checkpoint.

The arithmetic is the trainer's own (a float32 sum on the training device, the mean over the
processes, divided by the steps since the last log), so an uninterrupted run logs exactly the
numbers the trainer would.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch

from pipeline.lib.runtime import Runtime


def train_loss(runtime: Runtime, saved: dict[str, Any] | None):
    """A ``TrainLoss`` callback; ``saved`` is the resumed checkpoint's ``saved_state``, or None."""
    return _train_loss_class()(runtime, saved)


@cache
def _train_loss_class():
    from transformers import TrainerCallback
    from transformers.trainer_pt_utils import nested_gather

    class TrainLoss(TrainerCallback):
        """The train loss summed since the last log, per process, and the step of that log."""

        def __init__(self, runtime: Runtime, saved: dict[str, Any] | None) -> None:
            self.runtime = runtime
            self.saved = saved
            self.sum: torch.Tensor | None = None
            self.last_logged_step = 0
            self.parallel_mode = None

        def on_train_begin(self, args, state, control, **kwargs):
            # state.global_step is the resumed checkpoint's step here (0 on a fresh start).
            self.sum = torch.tensor(0.0, device=args.device)
            self.last_logged_step = state.global_step
            self.parallel_mode = args.parallel_mode
            saved = self.saved
            if saved is not None and len(saved["loss_sums"]) == self.runtime.world_size:
                self.sum.fill_(saved["loss_sums"][self.runtime.rank])
                self.last_logged_step = int(saved["last_logged_step"])
            return control

        def add(self, loss: torch.Tensor) -> None:
            """Add one micro-batch's loss (as ``training_step`` returns it)."""
            self.sum += loss

        def mean_since_last_log(self, global_step: int) -> float:
            """The loss to log at ``global_step``, averaged over steps and processes; resets."""
            total = nested_gather(self.sum, self.parallel_mode).mean().item()
            self.sum.zero_()
            steps = global_step - self.last_logged_step
            self.last_logged_step = global_step
            return total / steps

        def saved_state(self) -> dict[str, Any] | None:
            """What a checkpoint keeps: every process's sum, the step of the last log.

            Every process must call it (the sums are gathered); None before training began.
            """
            if self.sum is None:
                return None
            sums = [float(self.sum.item())]
            if self.runtime.world_size > 1:
                gathered: list[Any] = [None] * self.runtime.world_size
                torch.distributed.all_gather_object(gathered, sums[0])
                sums = [float(value) for value in gathered]
            return {"last_logged_step": self.last_logged_step, "loss_sums": sums}

    return TrainLoss
