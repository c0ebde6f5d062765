"""``train`` stage: one training seed's run of a trained predictor (``lora``, ``head_only``).

``GPT2ForSequenceClassification`` (the task's labels, ``--task``: ``gender_id``, 0 male, 1
female; or ``profession_id``, 28 occupations, :mod:`pipeline.lib.tasks`) on the base model
of the study (``models/base``), built by the predictor's recipe (:mod:`pipeline.lib.trainers`):
``lora`` adds a peft LoRA adapter on the layers in ``lora.target_modules`` and trains it with
the classification head (``score``); ``head_only`` freezes the base and trains the head alone.
The training is :func:`pipeline.lib.classifier_training.train_classifier`, the same for every
recipe; this module is the stage around it: the params, the arguments, the checks before
writing, the writes. Below, ``<name>`` is the predictor and its params section.

- **Model selection on dev only**: every ``<name>.eval_steps`` optimizer steps the model is
  scored on ``data/splits/dev.parquet``; the best step by ``<name>.metric_for_best_model`` is
  kept (optionally stopping after ``<name>.early_stopping_patience`` evaluations without a
  gain). The test split is never read.
- **Resume**: every ``<name>.checkpoint_steps`` steps a checkpoint goes to
  ``checkpoints/<name>/<fingerprint>/``, a folder DVC does not manage (so ``dvc repro`` does not
  delete it before rerunning the stage; :mod:`pipeline.lib.checkpoints`). A run killed at any
  moment and started again ends with the same weights, ``metrics.json`` and ``history.csv`` as
  an uninterrupted one. A finished run removes its checkpoints.
- **Fails safe**: a non-finite loss, gradient, dev score or weight stops the run with one line
  before anything is written (:mod:`pipeline.lib.divergence`).
- **Device**: decided once by :func:`pipeline.lib.runtime.make_runtime`: CUDA with bfloat16
  autocast when present, CPU float32 otherwise; unchanged under ``torchrun --nproc_per_node=N``
  (DDP), where rank 0 writes.

One run per trained predictor and training seed: both are the command's arguments, the seed
one of ``seeds.train`` (dvc.yaml's ``train`` stage runs over the catalogue's ``trained`` x
``seeds.train``, as ``train@<name>-<seed>``; the stage does not depend on the whole list, so
adding a seed trains that seed only). Writes, atomically, ``models/<name>/seed_<n>/`` (the
trained weights as the recipe saves them, tokenizer, ``metadata.json``),
``results/training/<name>/seed_<n>/history.csv`` (DVC plot) and its ``metrics.json``
(DVC metrics); identical runs write identical bytes. The wall time and whether the run resumed
go to ``runs/train@<name>-<n>.json``.

Params: ``<name>``. Run from a study directory: ``python -m pipeline.train lora 1234`` or
``torchrun --nproc_per_node=2 -m pipeline.train lora 1234``.
"""

from __future__ import annotations

import argparse
import json
import logging
from contextlib import suppress
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pipeline.lib import catalogue, contract, paths, tasks
from pipeline.lib.checkpoints import checkpoint_fingerprint, remove_checkpoints
from pipeline.lib.classifier_training import TrainResult, train_classifier
from pipeline.lib.divergence import check_finite_result
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir, write_json, write_text
from pipeline.lib.model_loading import (
    ADAPTER_METADATA_FILE,
    base_model_reference,
    base_model_source,
)
from pipeline.lib.params import MAX_SEED, StageParams, load_stage_params
from pipeline.lib.predictor_settings import TrainingParams
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.runtime import Runtime, make_runtime, shutdown
from pipeline.lib.tables import read_split
from pipeline.lib.tasks import Task
from pipeline.lib.trainers import Recipe, get_recipe

log = logging.getLogger(__name__)


def params_keys(name: str) -> tuple[str, ...]:
    """The params the run of trained predictor ``name`` reads: its recipe section ``<name>``.

    The seed is an argument (one of seeds.train): see the module docstring.
    """
    return (name,)


def parse_run(argv: list[str] | None = None) -> tuple[str, int]:
    """The trained predictor and the training seed (0..2^32-1, as numpy and torch take)."""
    name, seed, _ = parse_args(argv)
    return name, seed


def parse_args(argv: list[str] | None = None) -> tuple[str, int, Task]:
    """The trained predictor, the training seed and the study's task (``--task``)."""
    parser = argparse.ArgumentParser(description="Train one run of a trained predictor.")
    parser.add_argument("predictor", help="a trained predictor of the catalogue (e.g. lora)")
    parser.add_argument("seed", help="the training seed (one of seeds.train)")
    tasks.add_argument(parser)
    args = parser.parse_args(argv)
    get_recipe(args.predictor)  # one line naming the trained predictors if it is not one
    if args.predictor not in catalogue.seeded_names(args.task):
        known = ", ".join(catalogue.seeded_names(args.task))
        raise SuiteError(
            f"{args.predictor} is not a trained predictor of the {args.task} task ({known}); "
            "this study's dvc.yaml was made for another task: run `make pipelines`"
        )
    value = args.seed
    # isascii: str.isdigit also accepts digits int() refuses, such as a superscript two
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_SEED:
        raise SuiteError(
            f"training seed {value!r}: expected an integer in 0..2^32-1 (0..{MAX_SEED}); "
            "use one of seeds.train"
        )
    return args.predictor, int(value), tasks.get(args.task)


def main() -> None:
    """Read params and splits, train one run, and write its weights, history and metrics."""
    name, seed, task = parse_args()
    recipe = get_recipe(name)  # checked by parse_args
    params = load_stage_params(params_keys(name))
    settings = params[name]
    columns = ("id", "text", task.label_column)
    train = read_split(paths.split_path("train"), columns)
    dev = read_split(paths.split_path("dev"), columns)
    base = base_model_source(paths.BASE_MODEL_DIR)
    reference = base_model_reference(paths.BASE_MODEL_DIR)
    runtime = make_runtime("auto")
    checkpoint_dir = paths.checkpoints_dir(name) / checkpoint_fingerprint(
        (name, settings), seed, paths.BASE_MODEL_DIR, runtime.world_size, task.name
    )
    with run_log(catalogue.train_stage(name, seed)) as record:
        result = train_classifier(
            train, dev, recipe, settings, seed, base, checkpoint_dir, runtime=runtime, task=task
        )
        record.update(
            resumed_from_checkpoint=result.resumed_from is not None,
            processes=runtime.world_size,
            loop_seconds=result.loop_seconds,  # timings live in the git-ignored run log only
            steps=result.global_step,
            train_bios=len(train),
            epochs=settings.epochs,
        )
        if result.is_main_process:
            metrics = run_metrics(result)
            metadata = run_metadata_file(
                result, params, name, seed, len(train), base, reference["source"], runtime
            )
            if task.name != "gender":  # what its head predicts (its loader builds that head)
                metadata["task"] = task.name
            write_outputs(result, recipe, settings, seed, metrics, metadata)
            remove_checkpoints(checkpoint_dir)
            for folder in (paths.checkpoints_dir(name), paths.CHECKPOINTS_DIR):
                with suppress(OSError):  # only if no other run's checkpoints are left
                    folder.rmdir()
            log.info(
                "dev accuracy %.4f at step %d (of %d)",
                result.dev_metrics["accuracy"],
                result.best_step,
                result.global_step,
            )
    if runtime.world_size > 1:
        torch.distributed.barrier()  # every process waits for rank 0's writes
    shutdown(runtime)


def run_metrics(result: TrainResult) -> dict[str, Any]:
    """``metrics.json``: the dev scores of the selected step and how training went."""
    return {
        "dev_accuracy": result.dev_metrics["accuracy"],
        "dev_loss": result.dev_metrics["loss"],
        "best_step": result.best_step,
        "steps": result.global_step,
        "trainable_params": result.trainable_params,
    }


def run_metadata_file(
    result: TrainResult,
    params: StageParams,
    name: str,
    seed: int,
    train_bios: int,
    base: tuple[str, str | None],
    base_source: str,
    runtime: Runtime,
) -> dict[str, Any]:
    """``metadata.json`` beside the weights: the metrics, the data, the base model, the run."""
    return {
        **run_metrics(result),
        "dev_bios": result.dev_metrics["n"],
        "train_bios": train_bios,
        "base": {
            "source": base_source,
            "name_or_path": base[0],
            "revision": base[1],
            "local": Path(base[0]).exists(),
        },
        name: params[name].model_dump(mode="json"),
        "seed": seed,
        "run": {
            **run_metadata(catalogue.train_stage(name, seed), params, runtime.device_name),
            "seeds": {"seeds.train": seed},
            "world_size": result.world_size,
        },
    }


def write_outputs(
    result: TrainResult,
    recipe: Recipe,
    settings: TrainingParams,
    seed: int,
    metrics: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Write the weights (with ``metadata``), ``history.csv`` and ``metrics.json``.

    Everything is checked and serialised BEFORE the first write, so that a diverged or failing
    run replaces none of the previous weights, history and metrics; the three writes that follow
    are renames of complete, finite files.
    """
    name = recipe.name
    check_finite_result(result, (name, settings), seed)
    history_file, metrics_file = paths.train_history(name, seed), paths.train_metrics(name, seed)
    # What the readers (analyze, the dashboard) will check: the same contract, before writing.
    contract.check_table(result.history, contract.TABLES["history"], history_file, exact=True)
    contract.validate(contract.TrainMetrics, metrics, metrics_file)
    history_text = _format_history(result.history)
    json.dumps(metrics, allow_nan=False)
    json.dumps(metadata, allow_nan=False)
    save_run(result, recipe, paths.trained_dir(name, seed), metadata)
    write_text(history_text, history_file)
    write_json(metrics, metrics_file)


def save_run(result: TrainResult, recipe: Recipe, out_dir: Path, metadata: dict[str, Any]) -> None:
    """Write the trained weights (the recipe's), tokenizer and metadata into ``out_dir``."""
    with atomic_dir(out_dir) as tmp:
        recipe.save(result.model, tmp)
        result.tokenizer.save_pretrained(tmp)
        (tmp / ADAPTER_METADATA_FILE).write_text(
            json.dumps(metadata, indent=2, sort_keys=True) + "\n"
        )


def _format_history(history: pd.DataFrame) -> str:
    return history.to_csv(index=False, float_format="%.10g", na_rep="")


if __name__ == "__main__":
    run_main(main)
