"""The model the ``train`` stage fine-tunes: the base classifier with a LoRA adapter attached.

:func:`lora_classifier` loads the base model of the study as ``GPT2ForSequenceClassification``
(two labels, :func:`pipeline.lib.model_loading.build_classifier`) and wraps it with a peft LoRA
adapter on the layers in ``lora.target_modules`` (:func:`attach_lora`; GPT-2's ``Conv1D`` layers
store weights transposed: ``fan_in_fan_out``). Only the adapter and the classification head
(``score``) are trainable; the head is trained in full and saved with the adapter, since without
it a reloaded adapter would classify with an untrained head. On CUDA the frozen projections are
stored in bfloat16 once (:func:`frozen_matmuls_in_bfloat16`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import GENDERS
from pipeline.lib.model_loading import build_classifier, load_tokenizer, peft_deprecation_silenced
from pipeline.lib.predictor_settings import LoraParams
from pipeline.lib.runtime import Runtime

log = logging.getLogger(__name__)

HEAD_MODULES = ("score",)  # GPT-2's classification head, trained in full and saved with LoRA


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


def lora_classifier(
    base: tuple[str, str | None],
    lora: LoraParams,
    runtime: Runtime,
    classes: Sequence[str] = GENDERS,
) -> tuple[Any, Any]:
    """``(model, tokenizer)``: the base classifier with a fresh head and LoRA adapter.

    Seed the RNGs first: the head and the LoRA matrices are initialised here.
    """
    name_or_path, revision = base
    tokenizer = load_tokenizer(name_or_path, revision)
    model = build_classifier(name_or_path, revision, tokenizer, classes)
    model = attach_lora(model, lora)
    if runtime.is_cuda:
        frozen_matmuls_in_bfloat16(model)  # cast once, not at every autocast forward
    log.info("trainable parameters: %s", f"{trainable_parameter_count(model):,}")
    return model, tokenizer
