"""The model predictors' loaders: each turns a study's weights into a :class:`Predictor`.

One loader per model predictor of the catalogue (``pipeline/catalogue.yaml``), named
``load_<predictor>`` and registered with :func:`loader`. It reads the predictor's own params key
``predict.<predictor>`` (and the shared ``predict.max_length``) from its context and returns a
scorer of :mod:`pipeline.lib.batch_scoring`; the predict stage does the rest. Adding a predictor::

    @loader
    def load_my_model(ctx: LoadContext) -> Predictor:
        model, tokenizer = ...  # pipeline.lib.model_loading loads weights safely
        return Predictor(
            "my_model", ClassifierScorer(model, tokenizer, ctx.max_length), model="...",
            model_info=describe(model, reference),
        )
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.lib import paths, tasks
from pipeline.lib.batch_scoring import (
    ClassifierScorer,
    Scorer,
    ZeroShotClassScorer,
    ZeroShotScorer,
    predict_probs,
)
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import occupation_name
from pipeline.lib.model_loading import (
    adapter_metadata,
    base_model_reference,
    base_model_source,
    build_classifier,
    describe,
    load_causal_lm,
    load_head_classifier,
    load_lora_classifier,
    load_tokenizer,
    recorded_train_stage,
)
from pipeline.lib.params import OccupationParams, StageParams
from pipeline.lib.prediction_files import class_predictions_frame, predictions_frame
from pipeline.lib.runtime import DEFAULT_BATCH_SIZE as DEFAULT_BATCH_SIZE  # re-exported
from pipeline.lib.runtime import Runtime

log = logging.getLogger(__name__)


def settings_key(predictor: str, task: str = tasks.DEFAULT) -> str:
    """The params key of a predictor's own settings.

    ``predict.<name>``, except where a task has its own settings for it (the occupation
    task's ``occupation.zero_shot``: its prompt and how a name's tokens add up). The
    catalogue's ``settings`` field names the same key for ``dvc.yaml`` (a test checks they
    agree); the predict stage does not read the catalogue.
    """
    if task == "occupation" and predictor in OccupationParams.model_fields:
        return f"occupation.{predictor}"
    return f"predict.{predictor}"


def params_keys(predictor: str, task: str = tasks.DEFAULT) -> tuple[str, ...]:
    """The params a predictor's predict stages read (``dvc.yaml`` lists the same)."""
    shared = ("predict.device", "predict.batch_size", "predict.max_length")
    return (*shared, settings_key(predictor, task))


# --- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predictor:
    """A loaded predictor: its scorer and what to record about the model behind it."""

    name: str
    scorer: Scorer
    model: str  # the predictions' ``model`` column: name or path and revision
    model_info: dict[str, Any] = field(default_factory=dict)  # pipeline.lib.model_loading.describe
    weights: Path | None = (
        None  # the study folder its weights came from (its predictions' identity)
    )


@dataclass(frozen=True)
class LoadContext:
    """What a loader may use: the predict stage's params, the runtime and the study's weights."""

    params: StageParams
    runtime: Runtime
    base_dir: Path = paths.BASE_MODEL_DIR
    seed: int | None = None  # a trained predictor's training seed (its run)
    run_dir: Path | None = None  # a trained run's folder; default: paths.trained_dir(name, seed)
    task: str = tasks.DEFAULT  # what the study predicts (pipeline.lib.tasks)

    @property
    def max_length(self) -> int:
        """Tokens kept per bio (``predict.max_length``)."""
        return self.params["predict.max_length"]

    def own(self, name: str) -> Any:
        """The predictor's own settings (:func:`settings_key`: ``predict.<name>`` mostly)."""
        return self.params[settings_key(name, self.task)]

    @property
    def classes(self) -> int | None:
        """A classifier's class count for a K-class task; None for the gender task (P(female))."""
        return None if self.task == "gender" else tasks.get(self.task).n_classes

    def trained_run(self, name: str) -> tuple[Path, dict[str, Any], int | None]:
        """A trained predictor's run: its folder, its ``metadata.json`` and its seed."""
        if self.run_dir is None and self.seed is None:
            raise SuiteError(f"{name} is trained once per seed: name the run's seed (--seed)")
        run_dir = self.run_dir or paths.trained_dir(name, self.seed)
        trained = adapter_metadata(run_dir)
        return run_dir, trained, self.seed if self.seed is not None else trained.get("seed")


Loader = Callable[[LoadContext], Predictor]
LOADERS: dict[str, Loader] = {}


def loader(function: Loader) -> Loader:
    """Register ``load_<name>`` as the loader of predictor ``<name>``.

    Its settings ``predict.<name>`` reach it typed (``ctx.own(name)``), with the schema declared
    in :mod:`pipeline.lib.predictor_settings` (none there: ``predict.<name>: {}``).
    """
    name = function.__name__.removeprefix("load_")
    if name in LOADERS:
        raise ValueError(f"two loaders for predictor {name!r}")
    LOADERS[name] = function
    return function


def load_predictor(name: str, ctx: LoadContext) -> Predictor:
    """Load predictor ``name``; one line naming the known ones if it has no loader."""
    if name not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise SuiteError(f"no loader for predictor {name!r}; model predictors: {known}")
    return LOADERS[name](ctx)


def place(model: Any, runtime: Runtime) -> Any:
    """The model on the runtime's device, in its inference dtype (bfloat16 on CUDA), eval mode."""
    model = model.to(runtime.device)
    if runtime.inference_dtype is not None:
        model = model.to(dtype=runtime.inference_dtype)
    return model.eval()


def _label(name_or_path: str, revision: str | None) -> str:
    return f"{name_or_path}@{revision}" if revision else name_or_path


@loader
def load_zero_shot(ctx: LoadContext) -> Predictor:
    """The unmodified causal LM, scoring female against male continuations."""
    name_or_path, revision = base_model_source(ctx.base_dir)
    tokenizer = load_tokenizer(name_or_path, revision)
    model = place(load_causal_lm(name_or_path, revision), ctx.runtime)
    settings = ctx.own("zero_shot")
    if ctx.task == "gender":
        scorer: Scorer = ZeroShotScorer(model, tokenizer, settings, ctx.max_length)
    else:  # each class's name in words after the prompt (pipeline.lib.labels.occupation_name)
        names = [occupation_name(name) for name in tasks.get(ctx.task).classes]
        scorer = ZeroShotClassScorer(
            model, tokenizer, settings.template, names, ctx.max_length, length=settings.length
        )
    return Predictor(
        name="zero_shot",
        scorer=scorer,
        model=_label(name_or_path, revision),
        model_info=describe(model, base_model_reference(ctx.base_dir)),
        weights=ctx.base_dir,
    )


@loader
def load_random_head(ctx: LoadContext) -> Predictor:
    """The base model with an untrained, seeded classification head: a chance-level reference."""
    name_or_path, revision = base_model_source(ctx.base_dir)
    tokenizer = load_tokenizer(name_or_path, revision)
    # The head is the only new weight: seeding right before loading makes it reproducible.
    torch.manual_seed(ctx.own("random_head").seed)
    classes = tasks.get(ctx.task).classes
    model = place(build_classifier(name_or_path, revision, tokenizer, classes), ctx.runtime)
    return Predictor(
        name="random_head",
        scorer=ClassifierScorer(model, tokenizer, ctx.max_length, classes=ctx.classes),
        model=f"{_label(name_or_path, revision)} + random head",
        model_info=describe(model, base_model_reference(ctx.base_dir)),
        weights=ctx.base_dir,
    )


def _trained_predictor(
    name: str,
    ctx: LoadContext,
    load: Callable[[Path], tuple[Any, Any]],
    what: str,
    info: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Predictor:
    """One seed's run of trained predictor ``name``: ``load(run folder)`` gives its model.

    ``what`` names the trained part in the predictions' ``model`` column; ``info`` (from the
    run's ``metadata.json``) adds to its ``model_info``, before the trainable-parameter count.
    """
    run_dir, trained, seed = ctx.trained_run(name)
    made_for = trained.get("task", "gender")
    if made_for != ctx.task:
        raise SuiteError(
            f"{run_dir}: trained for the {made_for} task, but this study's task is {ctx.task}; "
            "run its train stage again (dvc repro "
            f"{recorded_train_stage(trained) or f'train@{name}-{seed or 0}'})"
        )
    model, tokenizer = load(run_dir)
    model = place(model, ctx.runtime)  # loaded (and merged) in float32, then cast
    base = trained["base"]
    return Predictor(
        name=paths.run_name(name, seed) if seed is not None else name,
        scorer=ClassifierScorer(model, tokenizer, ctx.max_length, classes=ctx.classes),
        model=f"{_label(base['name_or_path'], base['revision'])} + {what} ({run_dir})",
        model_info={
            "training_seed": seed,
            **describe(model, {**base, "source": base.get("source")}),
            **(info(trained) if info is not None else {}),
            "trainable_params": trained.get("trainable_params"),
        },
        # The folder actually read (a seed's run when only --seed names it): without it the
        # predictions would record no weights and never be found stale after a retrain.
        weights=run_dir,
    )


@loader
def load_lora(ctx: LoadContext) -> Predictor:
    """The base model with the trained LoRA adapter and head of one seed's run."""
    merge = ctx.own("lora").merge_adapter
    return _trained_predictor(
        "lora",
        ctx,
        lambda run_dir: load_lora_classifier(run_dir, "cpu", merge=merge),
        "LoRA adapter",
        lambda trained: {"lora_r": trained.get("lora", {}).get("r")},
    )


@loader
def load_head_only(ctx: LoadContext) -> Predictor:
    """The frozen base model with the classification head trained in one seed's run."""
    return _trained_predictor("head_only", ctx, load_head_classifier, "trained head")


@loader
def load_leace_head_only(ctx: LoadContext) -> Predictor:
    """The frozen base, gender erased by the run's LEACE eraser, and the head trained on that."""
    return _trained_predictor(
        "leace_head_only",
        ctx,
        lambda run_dir: load_head_classifier(run_dir, erased=True),
        "LEACE eraser + trained head",
    )


@dataclass(frozen=True)
class PredictResult:
    """Predictions in the shared schema (``None`` on ranks other than 0) and run facts."""

    frame: pd.DataFrame | None
    n_truncated: int


def predict_frame(
    ids: Sequence[Any],
    texts: Sequence[str],
    predictor: Predictor,
    runtime: Runtime,
    batch_size: int,
    identity: str = "",
    progress: bool = True,
) -> PredictResult:
    """Predict every text with a loaded predictor; the frame is in the shared schema.

    ``identity`` fills the ``params_hash`` column (the hash of the params that made the run);
    ``progress`` shows a progress bar.
    """
    encoded = predictor.scorer.encode(texts)
    n_truncated = int(encoded.truncated.sum())
    if n_truncated:
        log.info(
            "%s: %d of %d bios truncated to predict.max_length",
            predictor.name,
            n_truncated,
            len(texts),
        )
    prob = predict_probs(
        encoded, predictor.scorer, runtime, batch_size, desc=predictor.name, progress=progress
    )
    if prob is None:
        return PredictResult(None, n_truncated)
    # Rounding noise can leave a sigmoid a hair outside [0, 1] in low precision.
    prob = np.clip(prob, 0.0, 1.0)
    make = predictions_frame if prob.ndim == 1 else class_predictions_frame  # K classes
    frame = make(
        ids,
        prob,
        predictor=predictor.name,
        model=predictor.model,
        params_hash=identity,
    )
    return PredictResult(frame, n_truncated)
