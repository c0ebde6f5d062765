"""Model selection on the dev split, and the training history it is read from.

Every ``<name>.eval_steps`` optimizer steps (and always at the last one) the trainer scores the
model on dev. The ``DevSelection`` callback (:func:`dev_selection`) keeps a copy of the
trainable weights of the best step by ``<name>.metric_for_best_model`` (the first step that
reached the best value), stops training after ``<name>.early_stopping_patience`` evaluations
without a gain, and loads the best weights back at the end (``restore_best``). The best step and
the patience count are derived from ``state.log_history``, which a checkpoint restores, so the
best weights are the only state a checkpoint must carry for it
(:func:`pipeline.lib.checkpoints.mark_complete`). The test split is never read.

:func:`history_frame` turns the trainer's log history into ``history.csv``'s rows: one per
evaluation step, with the train loss since the previous one, dev accuracy and loss, the learning
rate. :func:`dev_accuracy` is the trainer's ``compute_metrics``.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.lib import paths
from pipeline.lib.checkpoints import saved_best_weights
from pipeline.lib.predictor_settings import TrainingParams

log = logging.getLogger(__name__)


def dev_selection(settings: TrainingParams, resume_from: str | None):
    """A :class:`DevSelection` callback, with the best weights of ``resume_from`` if any."""
    return _dev_selection_class()(settings, resume_from)


@cache
def _dev_selection_class():
    from transformers import TrainerCallback

    class DevSelection(TrainerCallback):
        """Keep the best weights on dev, stop early, restore the best weights at the end."""

        def __init__(self, settings: TrainingParams, resume_from: str | None) -> None:
            self.key = f"eval_{settings.metric_for_best_model}"
            self.greater_is_better = settings.metric_for_best_model == "accuracy"
            self.patience = settings.early_stopping_patience
            self.best_step: int | None = None
            self.best_weights: dict[str, torch.Tensor] | None = None
            saved = saved_best_weights(resume_from) if resume_from is not None else None
            if saved is not None:
                self.best_step, self.best_weights = saved

        def _evaluations(self, state) -> list[tuple[int, float]]:
            return [(e["step"], e[self.key]) for e in self._logged(state)]

        def _logged(self, state) -> list[dict[str, Any]]:
            return [entry for entry in state.log_history if self.key in entry]

        def best_scores(self, state) -> dict[str, Any]:
            """The dev scores logged at the best step: the best weights' scores on dev.

            The same weights on the same dev batches: scoring dev again after
            :meth:`restore_best` would give the same numbers, at the cost of a pass over dev.
            """
            found = [e for e in self._logged(state) if e["step"] == self.best_step]
            if not found:
                raise RuntimeError(f"no dev evaluation logged at the best step {self.best_step}")
            return found[-1]

        def on_step_end(self, args, state, control, **kwargs):
            # Always score the last step, so a run shorter than eval_steps still selects.
            if state.global_step >= state.max_steps:
                control.should_evaluate = True
            return control

        def on_evaluate(self, args, state, control, model=None, **kwargs):
            evaluations = self._evaluations(state)
            values = [value for _, value in evaluations]
            best_value = max(values) if self.greater_is_better else min(values)
            best_index = values.index(best_value)  # the first step that reached it
            best_step = evaluations[best_index][0]
            if best_step == state.global_step and best_step != self.best_step:
                self.best_step = best_step
                self.best_weights = {
                    name: param.detach().to("cpu", copy=True).contiguous()
                    for name, param in model.named_parameters()
                    if param.requires_grad
                }
            if self.patience is not None and len(values) - 1 - best_index >= self.patience:
                log.info("early stopping: no dev gain in %d evaluations", self.patience)
                control.should_training_stop = True
            return control

        def restore_best(self, model) -> None:
            """Load the best weights on dev into ``model``."""
            if self.best_weights is None:
                raise RuntimeError("no evaluation on dev happened; cannot select a model")
            params = dict(model.named_parameters())
            with torch.no_grad():
                for name, value in self.best_weights.items():
                    params[name].copy_(value.to(params[name].device))

    return DevSelection


def dev_accuracy(eval_pred) -> dict[str, float]:
    """The trainer's ``compute_metrics``: the share of dev bios whose gender is predicted."""
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def history_frame(log_history: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per evaluation step: train loss since the last one, dev accuracy and loss, LR."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        step = int(entry.get("step", 0))
        row = rows.setdefault(step, {"step": step})
        if "eval_accuracy" in entry:
            row["dev_accuracy"] = entry["eval_accuracy"]
            row["dev_loss"] = entry["eval_loss"]
            row["epoch"] = entry.get("epoch")
        if "loss" in entry:
            row["train_loss"] = entry["loss"]
            row["learning_rate"] = entry.get("learning_rate")
    frame = pd.DataFrame([r for r in rows.values() if "dev_accuracy" in r])
    frame = frame.reindex(columns=list(paths.HISTORY_COLUMNS))
    # A final evaluation that is not also a logging step repeats an earlier row's step at most.
    return frame.drop_duplicates("step", keep="last").sort_values("step", ignore_index=True)
