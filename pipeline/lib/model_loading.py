"""Model loading, in one place: the base GPT-2, its tokenizer, the classifier and the LoRA adapter.

Every stage that needs weights (``base_model``, ``train``, ``predict``) loads them here:

- :func:`base_model_source` resolves ``models/base`` (written by the ``base_model`` stage) to
  what ``from_pretrained`` takes: a hub id at a pinned revision, or a local folder.
- :func:`load_pretrained` is ``from_pretrained`` with safetensors only and no remote code; a
  model that cannot be loaded stops with one line.
- :func:`load_tokenizer`: GPT-2 has no pad token, so the end-of-text token pads (right side).
- :func:`load_causal_lm` (zero-shot), :func:`build_classifier` (a fresh two-label head) and
  :func:`load_lora_classifier` (a trained adapter with its head, merged for inference).
- :func:`fuse_gelu` swaps GPT-2's Python GELU for PyTorch's fused kernel (same formula).
- :func:`describe` names a loaded model as it is: source, name or path, revision, layers, width
  and parameter count.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import GENDERS
from pipeline.lib.tasks import get

REFERENCE_FILE = paths.BASE_REFERENCE_FILE
ADAPTER_METADATA_FILE = "metadata.json"  # in models/lora: what trained the adapter


# Errors of code, not of files: never turned into a one-line "cannot load" message.
_BUGS = (TypeError, AttributeError, NameError, ImportError, KeyError, IndexError, AssertionError)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _json_object(file: Path, fix: str) -> dict[str, Any]:
    """A JSON object the suite wrote into a model folder; one line if it is broken."""
    try:
        value = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise SuiteError(f"{file}: not readable JSON ({_first_line(err)}); {fix}") from None
    if not isinstance(value, dict):
        raise SuiteError(f"{file}: a JSON {type(value).__name__}, expected an object; {fix}")
    return value


def base_model_source(base_dir: str | Path = paths.BASE_MODEL_DIR) -> tuple[str, str | None]:
    """Return ``(name_or_path, revision)`` to pass to ``from_pretrained`` for the base model."""
    base_dir = Path(base_dir)
    file = base_dir / REFERENCE_FILE
    if not file.is_file():
        raise SuiteError(
            f"{base_dir}: no base model here (missing {REFERENCE_FILE}); "
            "run the base_model stage first (dvc repro base_model)"
        )
    fix = "run the base_model stage again (dvc repro base_model)"
    reference = _json_object(file, fix)
    missing = [key for key in ("source", "name_or_path", "revision") if key not in reference]
    if missing:
        raise SuiteError(f"{file}: no {missing[0]!r}; {fix}")
    if reference["source"] == "tiny":
        return str(base_dir), None
    return reference["name_or_path"], reference["revision"]


def base_model_reference(base_dir: str | Path = paths.BASE_MODEL_DIR) -> dict[str, Any]:
    """The base model as ``models/base/reference.json`` records it (source, name, revision)."""
    base_model_source(base_dir)  # one clear line if it is missing or broken
    return _json_object(Path(base_dir) / REFERENCE_FILE, "run the base_model stage again")


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No per-tensor progress bar, no load report (a new head's weights are missing by design)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_pretrained(cls: Any, name_or_path: str, revision: str | None, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` with safetensors only and no remote code; one line if it fails."""
    try:
        with _quiet_loading():
            return cls.from_pretrained(
                name_or_path,
                revision=revision,
                use_safetensors=True,
                trust_remote_code=False,
                **kwargs,
            )
    except _BUGS:
        raise
    except Exception as err:  # a corrupt weights or config file: safetensors, json, OS errors
        raise SuiteError(
            f"cannot load {name_or_path!r} (revision {revision}): {_first_line(err)}"
        ) from None


def load_tokenizer(name_or_path: str, revision: str | None = None) -> Any:
    """The base tokenizer with the end-of-text token as its (right-side) pad token."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
    except _BUGS:
        raise
    except Exception as err:  # a corrupt tokenizer.json raises tokenizers' plain Exception
        raise SuiteError(
            f"cannot load the tokenizer of {name_or_path!r}: {_first_line(err)}"
        ) from None
    # How it was loaded (e.g. HF_HUB_OFFLINE) is not part of the tokenizer: saved with it, it
    # would make the same adapter's files differ between an online and an offline run.
    tokenizer.init_kwargs.pop("local_files_only", None)
    # GPT-2 has no pad token: end-of-text pads (never attended to, never pooled).
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def fuse_gelu(model: Any) -> Any:
    """Swap GPT-2's Python GELU (7 elementwise passes) for PyTorch's fused tanh GELU.

    Same formula (``gelu(x, approximate="tanh")``) in one kernel instead of seven passes over
    the largest activation (batch x tokens x 3072), each saved for backward in training;
    differences are float rounding (~1e-7).
    """
    from transformers.activations import GELUTanh, NewGELUActivation

    for module in model.modules():
        if isinstance(getattr(module, "act", None), NewGELUActivation):
            module.act = GELUTanh()
    return model


def load_causal_lm(name_or_path: str, revision: str | None) -> Any:
    """The base model as a causal language model (zero-shot scoring), eval mode."""
    from transformers import AutoModelForCausalLM

    # sdpa: the zero-shot scorer's boolean 4D mask needs it (eager attention would add it).
    model = load_pretrained(
        AutoModelForCausalLM, name_or_path, revision, attn_implementation="sdpa"
    )
    return fuse_gelu(model).eval()


def build_classifier(
    name_or_path: str, revision: str | None, tokenizer: Any, classes: Sequence[str] = GENDERS
) -> Any:
    """The base model with a fresh head, one label per class; pad token on its config.

    ``classes``: the task's class names by id (the gender task's two: 0 male, 1 female).
    """
    from transformers import AutoModelForSequenceClassification

    labels = dict(enumerate(classes))
    model = load_pretrained(
        AutoModelForSequenceClassification,
        name_or_path,
        revision,
        num_labels=len(labels),
        id2label=labels,
        label2id={name: i for i, name in labels.items()},
        pad_token_id=tokenizer.pad_token_id,
        dtype=torch.float32,
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return fuse_gelu(model)


@contextmanager
def peft_deprecation_silenced() -> Iterator[None]:
    """Silence peft's use of a transformers property deprecated in transformers 5 (not ours)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def adapter_metadata(adapter_dir: str | Path) -> dict[str, Any]:
    """What trained an adapter (``metadata.json`` in its folder); one line if there is none."""
    file = Path(adapter_dir) / ADAPTER_METADATA_FILE
    if not file.is_file():
        raise SuiteError(f"{adapter_dir}: no trained adapter here; run the train stage first")
    metadata = _json_object(file, "run the train stage again (dvc repro train)")
    if not isinstance(metadata.get("base"), dict):
        raise SuiteError(f"{file}: no 'base' object; run the train stage again (dvc repro train)")
    return metadata


def recorded_train_stage(metadata: dict[str, Any]) -> str | None:
    """The train stage a run's ``metadata.json`` records (``run.stage``); None if it has none."""
    run = metadata.get("run")
    stage = run.get("stage") if isinstance(run, dict) else None
    return stage if isinstance(stage, str) else None


def trained_classes(run_dir: str | Path) -> tuple[str, ...]:
    """The class names of a trained run's head: its task's (``metadata.json``; gender if none)."""
    task = adapter_metadata(run_dir).get("task", "gender")
    try:
        return get(task).classes
    except ValueError as err:
        raise SuiteError(f"{Path(run_dir) / ADAPTER_METADATA_FILE}: {err}") from None


def _trained_base(run_dir: Path) -> tuple[str, str | None]:
    """The base model a trained run started from, as recorded in its ``metadata.json``."""
    base = adapter_metadata(run_dir)["base"]
    name_or_path, revision = base["name_or_path"], base["revision"]
    if base.get("local"):
        # Recorded relative to the study directory, which holds models/<name>/seed_<n>.
        study = run_dir.resolve().parents[len(paths.trained_dir("name", 0).parts) - 1]
        name_or_path = str(study / name_or_path)
    return name_or_path, revision


def load_lora_classifier(
    adapter_dir: str | Path, device: str | torch.device = "cpu", *, merge: bool = True
) -> tuple[Any, Any]:
    """Load a trained adapter for prediction: ``(model, tokenizer)``, model in eval mode.

    The base model is the one recorded in the adapter's ``metadata.json`` (a hub id at a pinned
    revision, or a folder relative to the study directory); the classification head comes from
    the adapter file. With ``merge`` the adapter is folded into the base weights (peft
    ``merge_and_unload``): the same function with plain linear layers, so inference pays no
    adapter overhead. Safetensors only; remote code is never run.
    """
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    name_or_path, revision = _trained_base(adapter_dir)
    tokenizer = load_tokenizer(str(adapter_dir))
    model = build_classifier(name_or_path, revision, tokenizer, trained_classes(adapter_dir))
    with peft_deprecation_silenced():
        try:
            model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
        except _BUGS:
            raise
        except Exception as err:  # a corrupt adapter file or config
            raise SuiteError(
                f"{adapter_dir}: cannot load the adapter ({_first_line(err)}); run the train "
                "stage again (dvc repro train)"
            ) from None
        if merge:
            model = model.merge_and_unload()
    return model.to(device).eval(), tokenizer


HEAD_FILE = "head.safetensors"  # a head-only run's one trained tensor, score.weight


def load_head_classifier(run_dir: str | Path, *, erased: bool = False) -> tuple[Any, Any]:
    """The recorded base classifier with a trained head (``head.safetensors``): eval mode, CPU.

    With ``erased``, the head reads the base's representation through the LEACE eraser saved in
    the run folder (a ``leace_head_only`` run; :mod:`pipeline.lib.erasure`).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    name_or_path, revision = _trained_base(run_dir)
    tokenizer = load_tokenizer(str(run_dir))
    model = build_classifier(name_or_path, revision, tokenizer, trained_classes(run_dir))
    head_layer = model.score
    if erased:
        from pipeline.lib.erasure import erased_head, load_eraser

        model = erased_head(model, load_eraser(run_dir))
    try:
        head = load_file(str(run_dir / HEAD_FILE))
        head_layer.load_state_dict({"weight": head["score.weight"]})
    except (OSError, KeyError, RuntimeError, SafetensorError) as err:
        raise SuiteError(
            f"{run_dir / HEAD_FILE}: cannot load the head ({_first_line(err)}); run the train "
            "stage again (dvc repro train)"
        ) from None
    return model.eval(), tokenizer


def describe(model: Any, reference: dict[str, Any]) -> dict[str, Any]:
    """The model as it is: source, name or path, revision, layers, width, parameter count."""
    config = model.config
    return {
        "source": reference.get("source"),
        "name_or_path": reference.get("name_or_path") or str(paths.BASE_MODEL_DIR),
        "revision": reference.get("revision"),
        "n_layer": getattr(config, "n_layer", None),
        "n_embd": getattr(config, "n_embd", None),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
