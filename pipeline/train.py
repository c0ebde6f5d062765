"""``train`` stage: fine-tune GPT-2 with a LoRA adapter to predict a bio's gender.

``GPT2ForSequenceClassification`` (two labels: ``gender_id``, 0 male, 1 female) on the base model
of the study (``models/base``), with a peft LoRA adapter on the layers in ``lora.target_modules``
(GPT-2's ``Conv1D`` layers store weights transposed: ``fan_in_fan_out``). The classification
head (``score``) is trained in full and saved with the adapter; without it a reloaded adapter
would classify with an untrained head.

- **Model selection on dev only**: every ``lora.eval_steps`` optimizer steps the model is scored
  on ``data/splits/dev.parquet``; the best step by ``lora.metric_for_best_model`` is kept
  (optionally stopping after ``lora.early_stopping_patience`` evaluations without a gain). The
  test split is never read.
- **Resume**: every ``lora.checkpoint_steps`` steps a checkpoint (adapter, head, optimizer,
  scheduler, RNG states, best-so-far weights, the train loss summed since the last log) goes to
  ``checkpoints/lora/<fingerprint>/``, a folder DVC does not manage (so ``dvc repro`` does not
  delete it before rerunning the stage). The fingerprint covers the params, seed, data, base
  model and world size, so a run only resumes its own checkpoints. A run killed at any moment
  and started again ends with the same adapter, ``metrics.json`` and ``history.csv`` as an
  uninterrupted one: it continues from the last complete checkpoint, and a checkpoint that
  recorded the end of training (the last step, or an early stop) is not trained further: the
  run goes straight to the selection on dev and the writes. A finished run removes its
  checkpoints.
- **Speed**: length-grouped batches with dynamic padding, GPT-2's GELU fused; CUDA with
  bfloat16 autocast when present, CPU float32 otherwise; unchanged under
  ``torchrun --nproc_per_node=N`` (DDP).

One run per training seed: the seed is the command's argument, one of ``seeds.train`` (dvc.yaml's
``train`` stage runs ``foreach`` seed, as ``train@<seed>``; the stage does not depend on the whole
list, so adding a seed trains that seed only). Writes, atomically, ``models/lora/seed_<n>/``
(adapter safetensors with the head, adapter config, tokenizer, ``metadata.json``),
``results/lora/seed_<n>/history.csv`` (DVC plot) and ``results/lora/seed_<n>/metrics.json`` (DVC
metrics); identical runs write identical bytes. The wall time and whether the run resumed go to
``runs/train@<n>.json``.

Params: ``lora``. Run from a study directory: ``python -m pipeline.train 1234`` or
``torchrun --nproc_per_node=2 -m pipeline.train 1234``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir, write_json, write_text
from pipeline.lib.model_loading import (
    ADAPTER_METADATA_FILE,
    base_model_reference,
    base_model_source,
    build_classifier,
    load_tokenizer,
    peft_deprecation_silenced,
)
from pipeline.lib.params import MAX_SEED, LoraParams, load_stage_params
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.runtime import avoid_per_shape_attention
from pipeline.lib.tables import read_split

log = logging.getLogger(__name__)

PARAMS = ("lora",)  # the seed is the argument (one of seeds.train): see the module docstring
HEAD_MODULES = ("score",)  # GPT-2's classification head, trained in full and saved with LoRA
BEST_FILE = "best-trainable.safetensors"  # best-so-far trainable weights inside a checkpoint
COMPLETE_FILE = "suite-complete.json"  # written last: marks a checkpoint as whole
TRAINER_STATE_FILE = "trainer_state.json"  # transformers' TrainerState inside a checkpoint


@dataclass
class TrainResult:
    """What :func:`train_lora` returns: the best model on dev and how it got there."""

    model: Any  # peft.PeftModelForSequenceClassification, best weights loaded, eval mode
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


def device_name() -> str:
    """``cuda:<name>`` when a GPU is present, else ``cpu``."""
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


def adaptable_layers(model) -> list[str]:
    """Names (last component) of the layers LoRA can adapt: linear and Conv1D, head excluded."""
    from transformers.pytorch_utils import Conv1D

    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear | Conv1D)
    }
    return sorted(names - set(HEAD_MODULES))


def frozen_matmuls_in_bfloat16(model) -> int:
    """Store the frozen GPT-2 projections (``Conv1D``) in bfloat16; return how many.

    Under bfloat16 autocast every one of them is cast to bfloat16 again at every forward pass
    (weight and bias: ``addmm`` is on autocast's bfloat16 list); on an H100 those casts were
    about 470 of a step's 1,314 kernel launches, and the step is launch-bound. Cast once
    instead: the same rounding, so the same numbers. Trainable parameters (LoRA, the head),
    embeddings and layer norms stay float32. CUDA training only.
    """
    from transformers.pytorch_utils import Conv1D

    cast = 0
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        if isinstance(module, Conv1D) and params and not any(p.requires_grad for p in params):
            module.to(torch.bfloat16)
            cast += 1
    return cast


def attach_lora(model, lora: LoraParams):
    """Wrap ``model`` with a LoRA adapter; only the adapter and the head are trainable."""
    from peft import LoraConfig, TaskType, get_peft_model

    known = adaptable_layers(model)
    unknown = [m for m in lora.target_modules if m not in known]
    if unknown:
        raise SuiteError(
            f"lora.target_modules: no layer named {unknown[0]!r} in the base model; "
            f"adaptable layers: {', '.join(known)}"
        )
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        fan_in_fan_out=lora.fan_in_fan_out,
        # task_type SEQ_CLS puts the head (``score``) in modules_to_save: trained in full and
        # saved in the adapter file. Without it a reloaded adapter gets a fresh random head.
        bias="none",
    )
    with peft_deprecation_silenced():
        return get_peft_model(model, config)


def trainable_parameter_count(model) -> int:
    """Parameters that receive gradients (LoRA matrices and the head)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class EncodedBios(torch.utils.data.Dataset):
    """Tokenised bios (no padding: the collator pads each batch to its longest bio)."""

    def __init__(self, frame: pd.DataFrame, tokenizer, max_length: int) -> None:
        encoded = tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)
        self.input_ids: list[list[int]] = encoded["input_ids"]
        self.labels = frame["gender_id"].astype(int).tolist()
        self.lengths = [len(ids) for ids in self.input_ids]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.input_ids[index]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": self.labels[index]}

    def sorted_by_length(self) -> EncodedBios:
        """A copy in decreasing length order, so evaluation batches carry little padding."""
        order = np.argsort(-np.asarray(self.lengths), kind="stable")
        copy = object.__new__(EncodedBios)
        copy.input_ids = [self.input_ids[i] for i in order]
        copy.labels = [self.labels[i] for i in order]
        copy.lengths = [self.lengths[i] for i in order]
        return copy


def length_grouped_sampler(batch_size: int, lengths: list[int], seed: int):
    """The training sampler: length-grouped shuffling whose order depends only on (seed, epoch).

    Bios are shuffled, cut into "megabatches" of up to 50 batches and sorted by length within
    each, so that a batch holds bios of similar length and carries little padding.
    """
    return _length_grouped_sampler_class()(batch_size, lengths, seed)


def _length_grouped_sampler_class():
    from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

    class EpochSeededLengthSampler(LengthGroupedSampler):
        """Length-grouped shuffling whose order depends only on (seed, epoch).

        Transformers' sampler draws from the global RNG, so a run resumed in a later epoch would
        see another order than an uninterrupted one; seeding per epoch makes resume exact.
        """

        def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
            super().__init__(batch_size, lengths=lengths)
            self.seed = seed
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            return iter(get_length_grouped_indices(self.lengths, self.batch_size, None, generator))

    return EpochSeededLengthSampler


def _selection_callback_class():
    from safetensors.torch import load_file, save_file
    from transformers import TrainerCallback

    class DevSelection(TrainerCallback):
        """Keep the best weights on dev, stop early, and make checkpoints carry the best weights.

        The best step and the patience count are derived from ``state.log_history`` (restored on
        resume), so the only state to carry is the best weights themselves.
        """

        def __init__(self, lora: LoraParams, resume_from: str | None) -> None:
            self.key = f"eval_{lora.metric_for_best_model}"
            self.greater_is_better = lora.metric_for_best_model == "accuracy"
            self.patience = lora.early_stopping_patience
            self.best_step: int | None = None
            self.best_weights: dict[str, torch.Tensor] | None = None
            self.trainer = None  # set once the trainer exists: its logging state is checkpointed
            self.resumed_logging: dict[str, Any] | None = None
            if resume_from is not None:
                marker = checkpoint_marker(resume_from)
                self.resumed_logging = marker.get("logging")
                if (Path(resume_from) / BEST_FILE).is_file():
                    self.best_weights = load_file(Path(resume_from) / BEST_FILE)
                    self.best_step = int(marker["best_step"])

        def on_train_begin(self, args, state, control, **kwargs):
            # The trainer logs the train loss averaged since its last log. A checkpoint between
            # two logs carried the partial sum (per process); without it the first log after a
            # resume would average fewer steps than an uninterrupted run's.
            saved, trainer = self.resumed_logging, self.trainer
            if saved is None or trainer is None or not hasattr(trainer, "_tr_loss"):
                return control
            sums = saved["loss_sums"]
            if len(sums) == _world_size_now():
                trainer._tr_loss.fill_(sums[_rank_now()])
                trainer._globalstep_last_logged = int(saved["last_logged_step"])
            return control

        def _evaluations(self, state) -> list[tuple[int, float]]:
            return [(e["step"], e[self.key]) for e in state.log_history if self.key in e]

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

        def on_save(self, args, state, control, **kwargs):
            logging_state = None
            if self.trainer is not None and hasattr(self.trainer, "_tr_loss"):
                # Every process calls on_save: gather each one's partial loss sum.
                sums = [float(self.trainer._tr_loss.item())]
                if _world_size_now() > 1:
                    gathered: list[Any] = [None] * _world_size_now()
                    torch.distributed.all_gather_object(gathered, sums[0])
                    sums = [float(value) for value in gathered]
                logging_state = {
                    "last_logged_step": int(self.trainer._globalstep_last_logged),
                    "loss_sums": sums,
                }
            if not state.is_world_process_zero:
                return control
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if self.best_weights is not None:
                save_file(self.best_weights, folder / BEST_FILE)
            marker = {
                "step": state.global_step,
                "best_step": self.best_step,
                # The end of training (last step or early stop): a resume only selects.
                "finished": bool(
                    state.global_step >= state.max_steps or control.should_training_stop
                ),
                "logging": logging_state,
            }
            write_json(marker, folder / COMPLETE_FILE)
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


def _world_size_now() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _rank_now() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def checkpoint_marker(checkpoint: str | Path) -> dict[str, Any]:
    """What :class:`DevSelection` recorded when the checkpoint was complete."""
    return json.loads((Path(checkpoint) / COMPLETE_FILE).read_text())


def remove_checkpoints(folder: Path) -> None:
    """Delete a run's checkpoints.

    Markers go first: a kill midway never leaves a half-deleted checkpoint that looks complete
    (and would be resumed).
    """
    for marker in folder.glob(f"checkpoint-*/{COMPLETE_FILE}"):
        marker.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint in ``folder`` that was written whole (a kill can cut one short)."""
    if not folder.is_dir():
        return None
    complete = [
        child
        for child in folder.glob("checkpoint-*")
        if (child / COMPLETE_FILE).is_file() and child.name.split("-")[-1].isdigit()
    ]
    if not complete:
        return None
    return str(max(complete, key=lambda child: int(child.name.split("-")[-1])))


def world_size() -> int:
    """Processes in this run (``torchrun`` sets WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_data_fits(n_train: int, lora: LoraParams, processes: int) -> None:
    """Stop with one line if one optimizer step needs more bios than the train split has."""
    per_step = lora.batch_size * lora.gradient_accumulation_steps * processes
    if n_train < per_step:
        raise SuiteError(
            f"lora.gradient_accumulation_steps = {lora.gradient_accumulation_steps}: one optimizer "
            f"step needs batch_size ({lora.batch_size}) x gradient_accumulation_steps x "
            f"{processes} process(es) = {per_step} bios but the train split has {n_train}; "
            "lower lora.gradient_accumulation_steps or lora.batch_size"
        )


def train_lora(
    train: pd.DataFrame,
    dev: pd.DataFrame,
    lora: LoraParams,
    seed: int,
    base: tuple[str, str | None],
    checkpoint_dir: Path,
) -> TrainResult:
    """Train a LoRA adapter on ``train``, select on ``dev``, resume from ``checkpoint_dir``.

    Returns the best model on dev (by ``lora.metric_for_best_model``) in eval mode.
    """
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

    processes = world_size()
    check_data_fits(len(train), lora, processes)
    cuda = torch.cuda.is_available()
    if cuda:
        avoid_per_shape_attention()
    name_or_path, revision = base
    # Seed before the head and the LoRA matrices are initialised.
    set_seed(seed)
    tokenizer = load_tokenizer(name_or_path, revision)
    model = build_classifier(name_or_path, revision, tokenizer)
    n_positions = getattr(model.config, "n_positions", None)
    if n_positions is not None and lora.max_length > n_positions:
        raise SuiteError(
            f"lora.max_length = {lora.max_length}: the base model reads at most {n_positions} "
            "tokens; lower lora.max_length"
        )
    model = attach_lora(model, lora)
    if cuda:
        frozen_matmuls_in_bfloat16(model)  # cast once, not at every autocast forward
    trainable = trainable_parameter_count(model)
    log.info("trainable parameters: %s", f"{trainable:,}")

    train_set = EncodedBios(train, tokenizer, lora.max_length)
    dev_set = EncodedBios(dev, tokenizer, lora.max_length).sorted_by_length()
    resume_from = last_complete_checkpoint(checkpoint_dir)
    finished = resume_from is not None and bool(checkpoint_marker(resume_from).get("finished"))
    if resume_from:
        log.info("resuming from %s", resume_from)

    args = TrainingArguments(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=lora.batch_size,
        per_device_eval_batch_size=lora.eval_batch_size,
        gradient_accumulation_steps=lora.gradient_accumulation_steps,
        num_train_epochs=lora.epochs,
        max_steps=lora.max_steps if lora.max_steps is not None else -1,
        learning_rate=lora.learning_rate,
        lr_scheduler_type=lora.lr_scheduler,
        warmup_steps=lora.warmup_ratio,
        weight_decay=lora.weight_decay,
        max_grad_norm=lora.max_grad_norm,
        eval_strategy="steps",
        eval_steps=lora.eval_steps,
        logging_strategy="steps",
        logging_steps=lora.eval_steps,
        save_strategy="steps",
        save_steps=lora.checkpoint_steps,
        save_total_limit=2,  # the newest and, if a kill cut it short, the one before
        seed=seed,
        data_seed=seed,
        bf16=cuda,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        use_cpu=not cuda,
        ddp_backend="gloo" if processes > 1 and not cuda else None,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        report_to="none",
        save_only_model=False,
        # A bar on a terminal; in a log (dvc repro > log) its redraws would be hundreds of lines.
        disable_tqdm=not sys.stderr.isatty(),
    )
    # On CUDA: widths rounded up to a multiple of 32 (a few shapes, not one per width) and
    # attention without cuDNN's per-shape graphs; the CPU pads exactly, as before.
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=32 if cuda else None)
    selection = _selection_callback_class()(lora, resume_from)

    class LengthGroupedTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            return length_grouped_sampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                train_set.lengths,
                seed,
            )

        # Fail safe: stop at the first non-finite loss or gradient, before the optimizer step
        # that would spread it into the weights and before any checkpoint or output is written.
        # (The trainer already reads every step's loss on the host for its NaN filter, which
        # would otherwise hide a diverged loss from the history.)
        def training_step(self, *args, **kwargs):
            loss = super().training_step(*args, **kwargs)
            stop_if_not_finite(loss, "loss", self.state.global_step + 1, self, lora)
            return loss

        def _clip_grad_norm(self, model):
            norm = super()._clip_grad_norm(model)
            stop_if_not_finite(norm, "gradient norm", self.state.global_step + 1, self, lora)
            return norm

    trainer = LengthGroupedTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=_accuracy,
        callbacks=[selection],
    )
    selection.trainer = trainer
    loop_started = time.monotonic()
    if finished:
        # Killed after the last step (during the final evaluation or the writes): training more
        # would add a step; the checkpoint's state and best weights are all that is left to use.
        from transformers import TrainerState

        log.info("%s holds the end of training: selecting on dev only", resume_from)
        trainer.state = TrainerState.load_from_json(str(Path(resume_from) / TRAINER_STATE_FILE))
        trainer.state.is_local_process_zero = trainer.is_local_process_zero()
        trainer.state.is_world_process_zero = trainer.is_world_process_zero()
    else:
        trainer.train(resume_from_checkpoint=resume_from)
    loop_seconds = time.monotonic() - loop_started
    # Before the final evaluation: it logs the best model's scores under the last step.
    history = history_frame(trainer.state.log_history)
    selection.restore_best(trainer.model)
    dev_metrics = trainer.evaluate()
    model = trainer.model.eval()
    return TrainResult(
        model=model,
        tokenizer=tokenizer,
        history=history,
        dev_metrics={
            "accuracy": float(dev_metrics["eval_accuracy"]),
            "loss": float(dev_metrics["eval_loss"]),
            "n": len(dev_set),
        },
        best_step=int(selection.best_step),
        global_step=int(trainer.state.global_step),
        trainable_params=trainable,
        world_size=processes,
        is_main_process=trainer.is_world_process_zero(),
        resumed_from=resume_from,
        loop_seconds=round(loop_seconds, 1),
    )


def stop_if_not_finite(value, what: str, step: int, trainer, lora: LoraParams) -> None:
    """Stop training with one line if ``value`` (a loss or a gradient norm) is not finite."""
    if value is None or bool(torch.isfinite(torch.as_tensor(value)).all()):
        return
    try:
        rate = float(trainer.lr_scheduler.get_last_lr()[0])
    except (AttributeError, IndexError, TypeError):
        rate = lora.learning_rate
    for callback in trainer.callback_handler.callbacks:  # end the progress bar's line first
        bar = getattr(callback, "training_bar", None)
        if bar is not None:
            bar.close()
            callback.training_bar = None
    raise SuiteError(
        f"training diverged: non-finite {what} at optimizer step {step} (scheduled learning rate "
        f"{rate:.3g}; lora.learning_rate = {lora.learning_rate:g}); nothing was written: "
        f"{_previous_outputs(trainer.args.seed)}; lower lora.learning_rate or lora.max_grad_norm, "
        "or check the base model"
    )


def _previous_outputs(seed: int) -> str:
    """What a refused run left as it was, for its one line."""
    return (
        f"{paths.lora_dir(seed)}, {paths.lora_history(seed)} and {paths.lora_metrics(seed)} are "
        "still the previous run's"
    )


def check_finite_result(result: TrainResult, lora: LoraParams, seed: int) -> None:
    """Stop with one line unless every number about to be written is finite.

    Runs before the first write, so a run that ends with NaN weights, a NaN on dev or a NaN in
    its history replaces nothing: the previous adapter, history and metrics stay as they were.
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
        raise SuiteError(
            f"training diverged: {problems[0]} (lora.learning_rate = {lora.learning_rate:g}); "
            f"nothing was written: {_previous_outputs(seed)}; lower lora.learning_rate"
        )


def _accuracy(eval_pred) -> dict[str, float]:
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
    frame = frame.reindex(columns=list(paths.LORA_HISTORY_COLUMNS))
    # A final evaluation that is not also a logging step repeats an earlier row's step at most.
    return frame.drop_duplicates("step", keep="last").sort_values("step", ignore_index=True)


def checkpoint_fingerprint(lora: LoraParams, seed: int, base_dir: Path, processes: int) -> str:
    """Identify a training run: params, seed, data, base model and world size."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"lora": lora.model_dump(mode="json"), "seed": seed}).encode())
    digest.update(f"world_size={processes}".encode())
    files = [paths.split_path("train"), paths.split_path("dev")]
    files += sorted(p for p in Path(base_dir).rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def save_adapter(result: TrainResult, out_dir: Path, metadata: dict[str, Any]) -> None:
    """Write the adapter (with its head), tokenizer and metadata into ``out_dir`` atomically."""
    with atomic_dir(out_dir) as tmp:
        result.model.save_pretrained(tmp, safe_serialization=True)
        result.tokenizer.save_pretrained(tmp)
        (tmp / ADAPTER_METADATA_FILE).write_text(
            json.dumps(metadata, indent=2, sort_keys=True) + "\n"
        )
        # peft keeps target_modules as a set, written in hash order (random per process).
        config_file = tmp / "adapter_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if isinstance(config.get("target_modules"), list):
            config["target_modules"] = sorted(config["target_modules"])
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _format_history(history: pd.DataFrame) -> str:
    return history.to_csv(index=False, float_format="%.10g", na_rep="")


def parse_seed(argv: list[str] | None = None) -> int:
    """The training seed from the command line: an integer in 0..2^32-1, as numpy and torch take."""
    parser = argparse.ArgumentParser(description="Train one LoRA run.")
    parser.add_argument("seed", help="the training seed (one of seeds.train)")
    value = parser.parse_args(argv).seed
    # isascii: str.isdigit also accepts digits int() refuses, such as a superscript two
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_SEED:
        raise SuiteError(
            f"training seed {value!r}: expected an integer in 0..2^32-1 (0..{MAX_SEED}); "
            "use one of seeds.train"
        )
    return int(value)


def main() -> None:
    """Read params and splits, train one seed's run, and write its adapter, history, metrics."""
    seed = parse_seed()
    params = load_stage_params(PARAMS)
    lora = params["lora"]
    columns = ("id", "text", "gender_id")
    train = read_split(paths.split_path("train"), columns)
    dev = read_split(paths.split_path("dev"), columns)
    base = base_model_source(paths.BASE_MODEL_DIR)
    reference = base_model_reference(paths.BASE_MODEL_DIR)
    processes = world_size()
    checkpoint_dir = paths.LORA_CHECKPOINTS_DIR / checkpoint_fingerprint(
        lora, seed, paths.BASE_MODEL_DIR, processes
    )
    with run_log(f"train@{seed}") as record:
        result = train_lora(train, dev, lora, seed, base, checkpoint_dir)
        record.update(
            resumed_from_checkpoint=result.resumed_from is not None,
            processes=processes,
            loop_seconds=result.loop_seconds,  # timings live in the git-ignored run log only
            steps=result.global_step,
            train_bios=len(train),
            epochs=lora.epochs,
        )
        if result.is_main_process:
            metrics = {
                "dev_accuracy": result.dev_metrics["accuracy"],
                "dev_loss": result.dev_metrics["loss"],
                "best_step": result.best_step,
                "steps": result.global_step,
                "trainable_params": result.trainable_params,
            }
            metadata = {
                **metrics,
                "dev_bios": result.dev_metrics["n"],
                "train_bios": len(train),
                "base": {
                    "source": reference["source"],
                    "name_or_path": base[0],
                    "revision": base[1],
                    "local": Path(base[0]).exists(),
                },
                "lora": lora.model_dump(mode="json"),
                "seed": seed,
                "run": {
                    **run_metadata(f"train@{seed}", params, device_name()),
                    "seeds": {"seeds.train": seed},
                    "world_size": result.world_size,
                },
            }
            # Everything is checked and serialised BEFORE the first write, so that a diverged
            # or failing run replaces none of the previous adapter, history and metrics; the
            # three writes that follow are renames of complete, finite files.
            check_finite_result(result, lora, seed)
            history_text = _format_history(result.history)
            json.dumps(metrics, allow_nan=False)
            json.dumps(metadata, allow_nan=False)
            save_adapter(result, paths.lora_dir(seed), metadata)
            write_text(history_text, paths.lora_history(seed))
            write_json(metrics, paths.lora_metrics(seed))
            remove_checkpoints(checkpoint_dir)
            with suppress(OSError):  # only if no other run's checkpoints are left
                paths.LORA_CHECKPOINTS_DIR.rmdir()
            log.info(
                "dev accuracy %.4f at step %d (of %d)",
                result.dev_metrics["accuracy"],
                result.best_step,
                result.global_step,
            )
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    run_main(main)
