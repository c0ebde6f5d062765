"""The ``train`` stage's checkpoints: which run they belong to, when one is whole, what it adds.

Every ``<name>.checkpoint_steps`` optimizer steps the trainer writes a checkpoint (adapter, head,
optimizer, scheduler, RNG states, ``trainer_state.json``) to
``checkpoints/<name>/<fingerprint>/checkpoint-<step>/``; the suite then adds its own part
(:func:`mark_complete`): the best-so-far trainable weights on dev (``best-trainable.safetensors``)
and, written last, a marker (``suite-complete.json``) with the best step, whether training had
ended and the train loss summed since the last log. A checkpoint without its marker was cut
short by a kill and is never resumed (:func:`last_complete_checkpoint`).

The fingerprint (:func:`checkpoint_fingerprint`) covers the predictor and its params, the seed,
the train and dev splits, the base model and the number of processes, so a run only resumes its own
checkpoints. ``checkpoints/`` is not a DVC output (DVC deletes a stage's outputs before it reruns
the stage); a finished run removes its checkpoints (:func:`remove_checkpoints`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from pipeline.lib import paths
from pipeline.lib.io import write_json
from pipeline.lib.predictor_settings import TrainingParams

BEST_FILE = "best-trainable.safetensors"  # best-so-far trainable weights inside a checkpoint
COMPLETE_FILE = "suite-complete.json"  # written last: marks a checkpoint as whole
TRAINER_STATE_FILE = "trainer_state.json"  # transformers' TrainerState inside a checkpoint


def checkpoint_fingerprint(
    recipe: tuple[str, TrainingParams],
    seed: int,
    base_dir: Path,
    processes: int,
    task: str = "gender",
) -> str:
    """Identify a training run: predictor, params, seed, data, base model, world size, task."""
    name, settings = recipe
    digest = hashlib.sha256()
    digest.update(json.dumps({name: settings.model_dump(mode="json"), "seed": seed}).encode())
    if task != "gender":  # a 28-way head must never resume from a 2-way one (same data)
        digest.update(f"task={task}".encode())
    digest.update(f"world_size={processes}".encode())
    files = [paths.split_path("train"), paths.split_path("dev")]
    files += sorted(p for p in Path(base_dir).rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def mark_complete(
    folder: Path, marker: dict[str, Any], best_weights: dict[str, torch.Tensor] | None
) -> None:
    """Add the suite's part to a checkpoint the trainer wrote: best weights, then the marker.

    ``marker`` holds ``step``, ``best_step``, ``finished`` (training had ended: a resume only
    selects) and ``logging`` (the train loss summed since the last log, per process).
    """
    from safetensors.torch import save_file

    if best_weights is not None:
        save_file(best_weights, folder / BEST_FILE)
    write_json(marker, folder / COMPLETE_FILE)


def checkpoint_marker(checkpoint: str | Path) -> dict[str, Any]:
    """What :func:`mark_complete` recorded when the checkpoint was complete."""
    return json.loads((Path(checkpoint) / COMPLETE_FILE).read_text())


def saved_best_weights(checkpoint: str | Path) -> tuple[int, dict[str, torch.Tensor]] | None:
    """``(best_step, weights)`` saved in a complete checkpoint; None before any evaluation."""
    from safetensors.torch import load_file

    file = Path(checkpoint) / BEST_FILE
    if not file.is_file():
        return None
    return int(checkpoint_marker(checkpoint)["best_step"]), load_file(file)


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


def remove_checkpoints(folder: Path) -> None:
    """Delete a run's checkpoints.

    Markers go first: a kill midway never leaves a half-deleted checkpoint that looks complete
    (and would be resumed).
    """
    for marker in folder.glob(f"checkpoint-*/{COMPLETE_FILE}"):
        marker.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
