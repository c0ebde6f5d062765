"""Training that fails safe: a diverged run stops with one line and replaces nothing.

- During training: :func:`stop_if_not_finite` stops at the first non-finite loss or gradient
  norm (:func:`gradient_norm`), which the trainer checks after every micro-batch's backward
  pass: before the optimizer step that would spread it into the weights and before any
  checkpoint or output is written. (The trainer's own NaN filter would otherwise hide a diverged
  loss from the history.)
- After training: :func:`check_finite_result` stops unless every number about to be written (dev
  scores, the history, the trained weights) is finite; it runs before the first write, so the
  previous adapter, history and metrics stay as they were.

Both raise :class:`~pipeline.lib.errors.SuiteError` naming the step, the learning rate and the
fix; the stage's ``main`` turns it into one line.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.predictor_settings import TrainingParams

RecipeSettings = tuple[str, TrainingParams]  # a trained predictor's name and its settings


class TrainedRun(Protocol):
    """What :func:`check_finite_result` reads of a run (``classifier_training.TrainResult``)."""

    model: Any
    history: pd.DataFrame
    dev_metrics: dict[str, float]


def stop_if_not_finite(value, what: str, step: int, trainer, recipe: RecipeSettings) -> None:
    """Stop training with one line if ``value`` (a loss or a gradient norm) is not finite."""
    if value is None or bool(torch.isfinite(torch.as_tensor(value)).all()):
        return
    name, settings = recipe
    try:
        rate = float(trainer.lr_scheduler.get_last_lr()[0])
    except (AttributeError, IndexError, TypeError):
        rate = settings.learning_rate
    for callback in trainer.callback_handler.callbacks:  # end the progress bar's line first
        bar = getattr(callback, "training_bar", None)
        if bar is not None:
            bar.close()
            callback.training_bar = None
    raise SuiteError(
        f"training diverged: non-finite {what} at optimizer step {step} (scheduled learning rate "
        f"{rate:.3g}; {name}.learning_rate = {settings.learning_rate:g}); nothing was written: "
        f"{_previous_outputs(name, trainer.args.seed)}; lower {name}.learning_rate or "
        f"{name}.max_grad_norm, or check the base model"
    )


def gradient_norm(model) -> torch.Tensor:
    """The norm of all of ``model``'s gradients together, as gradient clipping measures it.

    Not finite if any gradient is not (a NaN or an infinity anywhere).
    """
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6: a few fused kernels
        return torch.nn.utils.get_total_norm(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def _previous_outputs(name: str, seed: int) -> str:
    """What a refused run left as it was, for its one line."""
    return (
        f"{paths.trained_dir(name, seed)}, {paths.train_history(name, seed)} and "
        f"{paths.train_metrics(name, seed)} are still the previous run's"
    )


def check_finite_result(result: TrainedRun, recipe: RecipeSettings, seed: int) -> None:
    """Stop with one line unless every number about to be written is finite.

    Runs before the first write, so a run that ends with NaN weights, a NaN on dev or a NaN in
    its history replaces nothing: the previous weights, history and metrics stay as they were.
    (A blank train loss or learning rate in the history is a step that logged none; an infinite
    one, or any missing dev score, is divergence.)
    """
    problems = [
        f"dev {name} is {value}"
        for name, value in result.dev_metrics.items()
        if not np.isfinite(float(value))
    ]
    numbers = result.history.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    dev = result.history[["dev_accuracy", "dev_loss"]].apply(pd.to_numeric, errors="coerce")
    bad = np.isinf(numbers).any(axis=1) | ~np.isfinite(dev.to_numpy(np.float64)).all(axis=1)
    if bad.any():
        step = result.history["step"].iloc[int(np.flatnonzero(bad)[0])]
        problems.append(f"a non-finite dev score or loss in the history at step {step}")
    for name, param in result.model.named_parameters():
        if param.requires_grad and not bool(torch.isfinite(param.detach()).all()):
            problems.append(f"trained weight {name} is not finite")
            break
    if problems:
        name, settings = recipe
        raise SuiteError(
            f"training diverged: {problems[0]} ({name}.learning_rate = "
            f"{settings.learning_rate:g}); nothing was written: {_previous_outputs(name, seed)}; "
            f"lower {name}.learning_rate"
        )
