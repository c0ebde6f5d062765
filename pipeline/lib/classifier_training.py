"""Training with the Hugging Face ``Trainer``: :func:`train_classifier`, every train stage's core.

:func:`train_classifier` seeds, builds the model the predictor's recipe says
(:mod:`pipeline.lib.trainers`: the base classifier with a LoRA adapter, or with its base frozen
and only the head trainable), tokenises the splits (:mod:`pipeline.lib.train_data`), trains,
selects the best step on dev
(:mod:`pipeline.lib.dev_selection`) and returns it as a :class:`TrainResult`; it writes nothing
but checkpoints. The trainer is used through its public API only: ``TrainingArguments``,
callbacks (``TrainerCallback`` with ``TrainerState`` and ``TrainerControl``), ``state.log_history``
and the methods its documentation says to override (``get_train_dataloader``, ``training_step``,
``log``). The subclass (:func:`_trainer_class`) overrides those three:

- ``get_train_dataloader``: the length-grouped, per-epoch seeded sampler
  (:func:`pipeline.lib.train_data.length_grouped_sampler`) in the data loader the trainer would
  build;
- ``training_step``: stops at a non-finite loss or gradient (:mod:`pipeline.lib.divergence`) and
  hands the loss to :mod:`pipeline.lib.train_loss`;
- ``log``: logs that module's train loss, which survives a resume.

The recipe's settings (the params section named after the predictor, e.g. ``lora``) are a
:class:`~pipeline.lib.predictor_settings.TrainingParams`: the optimisation, the dev selection
and the checkpoints are the same code for every trained predictor.

**Resume**: every ``<name>.checkpoint_steps`` steps the trainer writes a checkpoint and the suite
completes it (:mod:`pipeline.lib.checkpoints`). A run continues from the last complete one; a
checkpoint that recorded the end of training (the last step, or an early stop) is not trained
further: the run goes straight to the selection on dev. Killed at any moment and started again,
a run ends with the same adapter, history and dev scores as an uninterrupted one.

**Device**: the :class:`~pipeline.lib.runtime.Runtime` given (by default
:func:`~pipeline.lib.runtime.make_runtime` ``("auto")``): on CUDA bfloat16 autocast, fused
AdamW, batch widths rounded up to a multiple of 32; on the CPU float32 with exact padding; under
``torchrun`` DDP (gloo on the CPU).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.lib.checkpoints import (
    TRAINER_STATE_FILE,
    checkpoint_marker,
    last_complete_checkpoint,
    mark_complete,
)
from pipeline.lib.dev_selection import dev_accuracy, dev_selection, history_frame
from pipeline.lib.divergence import gradient_norm, stop_if_not_finite
from pipeline.lib.errors import SuiteError
from pipeline.lib.predictor_settings import TrainingParams
from pipeline.lib.runtime import Runtime, make_runtime
from pipeline.lib.tasks import TASKS, Task
from pipeline.lib.train_data import EncodedBios, check_data_fits, length_grouped_sampler
from pipeline.lib.train_loss import train_loss
from pipeline.lib.trainers import Recipe

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train_classifier` returns: the best model on dev and how it got there."""

    model: Any  # the recipe's model (e.g. a peft model), best weights loaded, eval mode
    tokenizer: Any
    history: pd.DataFrame
    dev_metrics: dict[str, float]
    best_step: int
    global_step: int
    trainable_params: int
    world_size: int
    is_main_process: bool
    resumed_from: str | None
    loop_seconds: float  # the training loop alone (dev evaluations and checkpoints included)


def train_classifier(
    train: pd.DataFrame,
    dev: pd.DataFrame,
    recipe: Recipe,
    settings: TrainingParams,
    seed: int,
    base: tuple[str, str | None],
    checkpoint_dir: Path,
    *,
    runtime: Runtime | None = None,
    task: Task = TASKS["gender"],
) -> TrainResult:
    """Train ``recipe``'s model on ``train``, select on ``dev``, resume from ``checkpoint_dir``.

    ``settings``: the recipe's params section; ``task``: what the classifier predicts (its
    label column and classes). Returns the best model on dev (by
    ``<name>.metric_for_best_model``) in eval mode.
    """
    from transformers import set_seed

    runtime = runtime if runtime is not None else make_runtime("auto")
    check_data_fits(len(train), settings, runtime.world_size, recipe.name)
    set_seed(seed)  # before the head (and any adapter) is initialised
    model, tokenizer = recipe.build(base, settings, runtime, task.classes)
    if settings.max_length > getattr(model.config, "n_positions", settings.max_length):
        raise SuiteError(
            f"{recipe.name}.max_length = {settings.max_length}: the base model reads at most "
            f"{model.config.n_positions} tokens; lower {recipe.name}.max_length"
        )
    train_set = EncodedBios(train, tokenizer, settings.max_length, task.label_column)
    dev_set = EncodedBios(dev, tokenizer, settings.max_length, task.label_column)
    dev_set = dev_set.sorted_by_length()
    resume_from = last_complete_checkpoint(checkpoint_dir)
    if resume_from:
        log.info("resuming from %s", resume_from)
    trainer = _build_trainer(
        model,
        tokenizer,
        train_set,
        dev_set,
        (recipe.name, settings),
        seed,
        checkpoint_dir,
        runtime,
        resume_from,
    )
    loop_started = time.monotonic()
    _train_or_load_end(trainer, resume_from)
    loop_seconds = time.monotonic() - loop_started
    history = history_frame(trainer.state.log_history)
    trainer.suite_selection.restore_best(trainer.model)
    dev_metrics = trainer.suite_selection.best_scores(trainer.state)
    return TrainResult(
        model=trainer.model.eval(),
        tokenizer=tokenizer,
        history=history,
        dev_metrics={
            "accuracy": float(dev_metrics["eval_accuracy"]),
            "loss": float(dev_metrics["eval_loss"]),
            "n": len(dev_set),
        },
        best_step=int(trainer.suite_selection.best_step),
        global_step=int(trainer.state.global_step),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        world_size=runtime.world_size,
        is_main_process=runtime.is_main_process,
        resumed_from=resume_from,
        loop_seconds=round(loop_seconds, 1),
    )


def _train_or_load_end(trainer, resume_from: str | None) -> None:
    """Train (from ``resume_from`` if given), or take the end of training it recorded."""
    if resume_from is None or not checkpoint_marker(resume_from).get("finished"):
        trainer.train(resume_from_checkpoint=resume_from)
        return
    # Killed after the last step (during the final evaluation or the writes): training more
    # would add a step; the checkpoint's state and best weights are all that is left to use.
    from transformers import TrainerState

    log.info("%s holds the end of training: selecting on dev only", resume_from)
    trainer.state = TrainerState.load_from_json(str(Path(resume_from) / TRAINER_STATE_FILE))
    trainer.state.is_local_process_zero = trainer.is_local_process_zero()
    trainer.state.is_world_process_zero = trainer.is_world_process_zero()


def training_arguments(settings: TrainingParams, seed: int, checkpoint_dir: Path, runtime: Runtime):
    """The trainer's settings: the recipe's params, the seed, the checkpoints, the device."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps if settings.max_steps is not None else -1,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        eval_strategy="steps",
        eval_steps=settings.eval_steps,
        logging_strategy="steps",
        logging_steps=settings.eval_steps,
        save_strategy="steps",
        save_steps=settings.checkpoint_steps,
        save_total_limit=2,  # the newest and, if a kill cut it short, the one before
        seed=seed,
        data_seed=seed,  # the training sampler's seed
        bf16=runtime.autocast_dtype is not None,
        optim="adamw_torch_fused" if runtime.is_cuda else "adamw_torch",
        use_cpu=not runtime.is_cuda,
        ddp_backend="gloo" if runtime.world_size > 1 and not runtime.is_cuda else None,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        report_to="none",
        save_only_model=False,
        # A bar on a terminal; in a log (dvc repro > log) its redraws would be hundreds of lines.
        disable_tqdm=not sys.stderr.isatty(),
    )


def _build_trainer(
    model,
    tokenizer,
    train_set: EncodedBios,
    dev_set: EncodedBios,
    recipe: tuple[str, TrainingParams],
    seed: int,
    checkpoint_dir: Path,
    runtime: Runtime,
    resume_from: str | None,
):
    """The trainer with the suite's callbacks: dev selection, the train loss, checkpoints.

    ``recipe``: the predictor's name (its params section, for messages) and its settings.
    """
    from transformers import DataCollatorWithPadding

    settings = recipe[1]
    # On CUDA: widths rounded up to a multiple of 32 (a few shapes, not one per width); the CPU
    # pads exactly.
    pad_multiple = runtime.pad_multiple if runtime.pad_multiple > 1 else None
    selection = dev_selection(settings, resume_from)
    saved_loss = checkpoint_marker(resume_from).get("logging") if resume_from else None
    loss = train_loss(runtime, saved_loss)
    return _trainer_class()(
        model=model,
        args=training_arguments(settings, seed, checkpoint_dir, runtime),
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_multiple),
        processing_class=tokenizer,
        compute_metrics=dev_accuracy,
        callbacks=[selection, loss, _checkpoint_completion_class()(selection, loss)],
        suite_selection=selection,
        suite_loss=loss,
        suite_recipe=recipe,
    )


@cache
def _trainer_class():
    from torch.utils.data import DataLoader
    from transformers import Trainer

    class SuiteTrainer(Trainer):
        """The trainer with the suite's batches, its train loss and a stop at divergence."""

        def __init__(self, *args, suite_selection, suite_loss, suite_recipe, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.suite_selection = suite_selection  # the DevSelection callback
            self.suite_loss = suite_loss  # the TrainLoss callback
            self.suite_recipe = suite_recipe  # (name, settings), for the divergence message

        def get_train_dataloader(self):
            # What the trainer builds, with the suite's sampler (no workers: nothing to seed).
            args = self.args
            sampler = length_grouped_sampler(
                args.train_batch_size * args.gradient_accumulation_steps,
                self.train_dataset.lengths,
                args.data_seed,
            )
            loader = DataLoader(
                self.train_dataset,
                batch_size=args.train_batch_size,
                sampler=sampler,
                collate_fn=self.data_collator,
                num_workers=args.dataloader_num_workers,
                pin_memory=args.dataloader_pin_memory,
                drop_last=args.dataloader_drop_last,
            )
            return self.accelerator.prepare(loader)

        def training_step(self, *args, **kwargs):
            loss = super().training_step(*args, **kwargs)
            # Fail safe: stop at the first non-finite loss or gradient, before the optimizer
            # step that would spread it into the weights and before any checkpoint is written.
            step = self.state.global_step + 1
            stop_if_not_finite(loss, "loss", step, self, self.suite_recipe)
            stop_if_not_finite(
                gradient_norm(self.model), "gradient norm", step, self, self.suite_recipe
            )
            self.suite_loss.add(loss)
            return loss

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if "loss" in logs:  # the train loss since the last log: the suite's, resume-proof
                logs["loss"] = self.suite_loss.mean_since_last_log(self.state.global_step)
            super().log(logs, start_time)

    return SuiteTrainer


@cache
def _checkpoint_completion_class():
    from transformers import TrainerCallback

    class CheckpointCompletion(TrainerCallback):
        """After the trainer saves a checkpoint: add the best weights and the marker."""

        def __init__(self, selection, loss) -> None:
            self.selection = selection
            self.loss = loss

        def on_save(self, args, state, control, **kwargs):
            logging_state = self.loss.saved_state()  # every process: the sums are gathered
            if not state.is_world_process_zero:
                return control
            marker = {
                "step": state.global_step,
                "best_step": self.selection.best_step,
                # The end of training (last step or early stop): a resume only selects.
                "finished": bool(
                    state.global_step >= state.max_steps or control.should_training_stop
                ),
                "logging": logging_state,
            }
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            mark_complete(folder, marker, self.selection.best_weights)
            return control

    return CheckpointCompletion
