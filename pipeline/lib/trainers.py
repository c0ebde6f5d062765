"""The trained predictors' recipes: what the ``train`` stage builds, trains and saves for each.

One :class:`Recipe` per entry of the catalogue's ``trained`` section, registered under the
entry's name with :func:`recipe`. The training itself (optimisation, dev selection, resume,
divergence checks) is the same for all of them (:mod:`pipeline.lib.classifier_training`); a
recipe says only

- ``build``: the model to train, from the study's base model, with its trainable weights
  initialised (the RNGs are seeded just before) and everything else frozen;
- ``save``: how the trained weights go into the run's folder, which the predictor's loader
  (:mod:`pipeline.lib.model_predictors`) reads back.

Its settings are the params section of the same name, with the schema in
:data:`pipeline.lib.predictor_settings.TRAIN`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.lib.erasure import ERASER_TENSORS
from pipeline.lib.errors import SuiteError
from pipeline.lib.model_loading import HEAD_FILE, build_classifier, load_tokenizer
from pipeline.lib.predictor_settings import ErasedHeadParams, HeadOnlyParams, LoraParams
from pipeline.lib.runtime import Runtime

Base = tuple[str, str | None]  # the base model: name or path, revision


@dataclass(frozen=True)
class Recipe:
    """How one trained predictor is built before training and saved after it."""

    name: str
    # (base, settings, runtime, the task's class names) -> (model, tokenizer)
    build: Callable[[Base, Any, Runtime, Sequence[str]], tuple[Any, Any]]
    save: Callable[[Any, Path], None]  # the trained model's weights into a run folder


RECIPES: dict[str, Recipe] = {}


def recipe(save: Callable[[Any, Path], None]) -> Callable[[Callable], Callable]:
    """Register ``build_<name>`` (with ``save``) as the recipe of trained predictor ``<name>``."""

    def register(build: Callable) -> Callable:
        name = build.__name__.removeprefix("build_")
        if name in RECIPES:
            raise ValueError(f"two recipes for trained predictor {name!r}")
        RECIPES[name] = Recipe(name=name, build=build, save=save)
        return build

    return register


def get_recipe(name: str) -> Recipe:
    """The recipe of ``name``; one line naming the trained predictors if it has none."""
    if name not in RECIPES:
        known = ", ".join(sorted(RECIPES))
        raise SuiteError(f"no training recipe for {name!r}; trained predictors: {known}")
    return RECIPES[name]


def _save_adapter(model: Any, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    # peft keeps target_modules as a set, written in hash order (random per process).
    config_file = folder / "adapter_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


@recipe(save=_save_adapter)
def build_lora(
    base: Base, settings: LoraParams, runtime: Runtime, classes: Sequence[str]
) -> tuple[Any, Any]:
    """The base classifier with a LoRA adapter; the adapter and the head are trained."""
    from pipeline.lib.lora_model import lora_classifier

    return lora_classifier(base, settings, runtime, classes)


def _save_head_weight(weight: Any, folder: Path) -> None:
    from safetensors.torch import save_file

    weight = weight.detach().to("cpu", copy=True).contiguous()
    save_file({"score.weight": weight}, str(folder / HEAD_FILE))


def _save_head(model: Any, folder: Path) -> None:
    _save_head_weight(model.score.weight, folder)


@recipe(save=_save_head)
def build_head_only(
    base: Base, settings: HeadOnlyParams, runtime: Runtime, classes: Sequence[str]
) -> tuple[Any, Any]:
    """The base classifier with every base weight frozen: only the head (``score``) is trained.

    The head reads the last real token's final hidden state, as in the LoRA classifier, so the
    two differ only in what is trained. The base's dropout is off (set to 0): the head learns
    from the same representation it is scored on, the frozen base's. Nothing in the base
    changes, so the run saves the head alone (``head.safetensors``, ``classes x width``
    numbers).
    """
    import torch

    name_or_path, revision = base
    tokenizer = load_tokenizer(name_or_path, revision)
    model = build_classifier(name_or_path, revision, tokenizer, classes)
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith("score."))
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model, tokenizer


def _save_erased_head(model: Any, folder: Path) -> None:
    from pipeline.lib.erasure import save_eraser

    _save_head_weight(model.score.linear.weight, folder)
    save_eraser({name: getattr(model.score, name) for name in ERASER_TENSORS}, folder)


@recipe(save=_save_erased_head)
def build_leace_head_only(
    base: Base, settings: ErasedHeadParams, runtime: Runtime, classes: Sequence[str]
) -> tuple[Any, Any]:
    """head_only's model with the LEACE eraser of the frozen base's representation before the head.

    The eraser (``models/erasers/base``, fitted by the erase stage on the train split) is frozen;
    the head is initialised as head_only's (same seed, same draw), so the two runs of a seed
    differ only in the eraser. The run saves the head and a copy of the eraser: its folder is
    all its loader reads.
    """
    from pipeline.lib import paths
    from pipeline.lib.erasure import erased_head, load_eraser

    model, tokenizer = build_head_only(base, settings, runtime, classes)
    eraser = load_eraser(paths.eraser_dir(paths.BASE_REPRESENTATION))
    return erased_head(model, eraser), tokenizer
