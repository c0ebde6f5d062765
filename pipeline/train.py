"""``train`` stage: fine-tune GPT-2 with a LoRA adapter to predict a bio's gender.

``GPT2ForSequenceClassification`` (two labels: ``gender_id``, 0 male, 1 female) on the base model
of the study (``models/base``), with a peft LoRA adapter on the layers in ``lora.target_modules``;
the classification head (``score``) is trained in full and saved with the adapter. The work is
:func:`pipeline.lib.lora_training.train_lora`; this module is the stage around it: the params,
the seed argument, the checks before writing, the writes.

- **Model selection on dev only**: every ``lora.eval_steps`` optimizer steps the model is scored
  on ``data/splits/dev.parquet``; the best step by ``lora.metric_for_best_model`` is kept
  (optionally stopping after ``lora.early_stopping_patience`` evaluations without a gain). The
  test split is never read.
- **Resume**: every ``lora.checkpoint_steps`` steps a checkpoint goes to
  ``checkpoints/lora/<fingerprint>/``, a folder DVC does not manage (so ``dvc repro`` does not
  delete it before rerunning the stage; :mod:`pipeline.lib.checkpoints`). A run killed at any
  moment and started again ends with the same adapter, ``metrics.json`` and ``history.csv`` as an
  uninterrupted one. A finished run removes its checkpoints.
- **Fails safe**: a non-finite loss, gradient, dev score or weight stops the run with one line
  before anything is written (:mod:`pipeline.lib.divergence`).
- **Device**: decided once by :func:`pipeline.lib.runtime.make_runtime`: CUDA with bfloat16
  autocast when present, CPU float32 otherwise; unchanged under ``torchrun --nproc_per_node=N``
  (DDP), where rank 0 writes.

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
import json
import logging
from contextlib import suppress
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pipeline.lib import paths
from pipeline.lib.checkpoints import checkpoint_fingerprint, remove_checkpoints
from pipeline.lib.divergence import check_finite_result
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir, write_json, write_text
from pipeline.lib.lora_training import TrainResult, train_lora
from pipeline.lib.model_loading import (
    ADAPTER_METADATA_FILE,
    base_model_reference,
    base_model_source,
)
from pipeline.lib.params import MAX_SEED, LoraParams, StageParams, load_stage_params
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.runtime import Runtime, make_runtime, shutdown
from pipeline.lib.tables import read_split

log = logging.getLogger(__name__)

PARAMS = ("lora",)  # the seed is the argument (one of seeds.train): see the module docstring


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
    runtime = make_runtime("auto")
    checkpoint_dir = paths.LORA_CHECKPOINTS_DIR / checkpoint_fingerprint(
        lora, seed, paths.BASE_MODEL_DIR, runtime.world_size
    )
    with run_log(f"train@{seed}") as record:
        result = train_lora(train, dev, lora, seed, base, checkpoint_dir, runtime=runtime)
        record.update(
            resumed_from_checkpoint=result.resumed_from is not None,
            processes=runtime.world_size,
            loop_seconds=result.loop_seconds,  # timings live in the git-ignored run log only
            steps=result.global_step,
            train_bios=len(train),
            epochs=lora.epochs,
        )
        if result.is_main_process:
            metrics = run_metrics(result)
            metadata = adapter_metadata(
                result, params, seed, len(train), base, reference["source"], runtime
            )
            write_outputs(result, lora, seed, metrics, metadata)
            remove_checkpoints(checkpoint_dir)
            with suppress(OSError):  # only if no other run's checkpoints are left
                paths.LORA_CHECKPOINTS_DIR.rmdir()
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


def adapter_metadata(
    result: TrainResult,
    params: StageParams,
    seed: int,
    train_bios: int,
    base: tuple[str, str | None],
    base_source: str,
    runtime: Runtime,
) -> dict[str, Any]:
    """``metadata.json`` beside the adapter: the metrics, the data, the base model, the run."""
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
        "lora": params["lora"].model_dump(mode="json"),
        "seed": seed,
        "run": {
            **run_metadata(f"train@{seed}", params, runtime.device_name),
            "seeds": {"seeds.train": seed},
            "world_size": result.world_size,
        },
    }


def write_outputs(
    result: TrainResult,
    lora: LoraParams,
    seed: int,
    metrics: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Write the adapter (with ``metadata``), ``history.csv`` and ``metrics.json``.

    Everything is checked and serialised BEFORE the first write, so that a diverged or failing
    run replaces none of the previous adapter, history and metrics; the three writes that follow
    are renames of complete, finite files.
    """
    check_finite_result(result, lora, seed)
    history_text = _format_history(result.history)
    json.dumps(metrics, allow_nan=False)
    json.dumps(metadata, allow_nan=False)
    save_adapter(result, paths.lora_dir(seed), metadata)
    write_text(history_text, paths.lora_history(seed))
    write_json(metrics, paths.lora_metrics(seed))


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


if __name__ == "__main__":
    run_main(main)
