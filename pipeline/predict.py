"""``predict`` stage: every model predictor's probabilities through ONE batched inference path.

Run from a study directory::

    python -m pipeline.predict zero_shot                 # test split -> results/predictions/
    python -m pipeline.predict random_head --on probes   # probe texts -> results/probes/
    torchrun --nproc_per_node=4 -m pipeline.predict zero_shot   # sharded, one identical file

Predictors (the registry :data:`PREDICTORS`):

- ``zero_shot`` (the default base): the unmodified causal LM reads ``predict.zero_shot.template``
  with the bio in it and compares how likely the next words are female (``female``: " She",
  " Her") versus male (``male``: " He", " His"). GPT-2 is not instruction-tuned, so a question
  prompt ("Is this person a woman?") mostly measures prompt sensitivity; the honest "before" is
  what the language model itself expects next. The next sentence of a bio nearly always starts
  with the subject's pronoun, so the bio alone is the prompt (``"{text}"``). Each word's score is
  the SUM of its tokens' log-probabilities (a word may be several tokens: " Her" and " His" are
  two in the tiny model's tokenizer), a list's score is the log-sum-exp over its words, and
  ``prob_female = sigmoid(score_female - score_male)``. Checked on the tiny GPT-2 (pretrained
  on synthetic bios): 0.945 accuracy on 400 sample test bios with these defaults.
- ``random_head``: ``GPT2ForSequenceClassification`` with an untrained classification head
  seeded from ``seeds.model`` (the original experiment's "base"). It sits at chance BY
  CONSTRUCTION and is labelled so in its run metadata; it is a reference, not a result.

How the one path runs (:func:`predict_probs`): the scorer tokenizes every bio (truncating at
``predict.max_length`` tokens and counting how many were cut), the bios are sorted by length
(longest first) and cut into batches of ``predict.batch_size``, every batch is padded only to
its own longest bio (right padding: real tokens never see a pad, and positions start at 0 for
every row), scored under ``torch.inference_mode()`` (bfloat16 autocast on CUDA), and the
probabilities go back to the bios' original order. Under ``torchrun`` whole batches are dealt
round-robin to the ranks and rank 0 gathers them and writes the file; since a bio lands in the
same batch whatever the number of processes, the file is the single-process file, byte for byte
(on CPU with the same thread count per process).

Truncation: the zero-shot continuation must follow the END of the prompt, so zero-shot keeps
the LAST ``max_length`` tokens of the prompt (the end of a long bio, where the next pronoun is
predicted; the bio alone is cut, never the template's text or the continuation). A
classification model keeps whatever its tokenizer's ``truncation_side`` says (default: the start
of the bio, as in fine-tuning).

Adding a predictor (e.g. ``lora``): write a loader that takes a :class:`LoadContext` and returns
a :class:`Predictor`, and register it. A sequence-classification model (label 1 = female) needs
nothing else::

    @register("lora")
    def load_lora(ctx: LoadContext) -> Predictor:
        from pipeline.train import load_lora_classifier  # -> (peft model in eval mode, tokenizer)

        model, tokenizer = load_lora_classifier(paths.LORA_DIR)
        return classifier_predictor(
            "lora", model, tokenizer, ctx, model_label=str(paths.LORA_DIR),
            label="GPT-2 + LoRA adapter", params={"lora": ctx.raw.get("lora")},
        )

A new kind of scorer implements :class:`Scorer` (``encode`` texts, ``score`` a batch).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator, model_validator
from tqdm.auto import tqdm

from pipeline import paths
from pipeline.errors import SuiteError, run_main
from pipeline.gpt2 import fuse_gelu
from pipeline.params import Section, Seeds, parse_section, read_params
from pipeline.predictions import predictions_frame, write_predictions
from pipeline.provenance import params_hash, run_metadata

log = logging.getLogger(__name__)

# Bios per batch when predict.batch_size is null. On CPU a batch of ~30 length-sorted bios
# (a few thousand tokens) already keeps the matmuls near peak; a GPU needs far more rows.
DEFAULT_BATCH_SIZE = {"cpu": 32, "cuda": 256}


class ZeroShotParams(Section):
    """``predict.zero_shot``: the prompt and the two continuation lists of the zero-shot base."""

    # The bio alone: GPT-2 is not instruction-tuned, and a bio's next sentence starts with the
    # subject's pronoun. A template may add text around {text}, e.g. "{text} In short,".
    template: str = "{text}"
    # Continuations, each scored as the sum of its tokens' log-probs; leading space = new word.
    female: tuple[str, ...] = (" She", " Her")
    male: tuple[str, ...] = (" He", " His")

    @field_validator("template")
    @classmethod
    def _one_slot(cls, template: str) -> str:
        if template.count("{text}") != 1:
            raise ValueError(f"template {template!r} must contain {{text}} exactly once")
        return template

    @model_validator(mode="after")
    def _lists_usable(self) -> ZeroShotParams:
        for name in ("female", "male"):
            words = getattr(self, name)
            if not words or any(not w for w in words):
                raise ValueError(f"predict.zero_shot.{name} must list non-empty strings")
        overlap = set(self.female) & set(self.male)
        if overlap:
            raise ValueError(f"predict.zero_shot: {sorted(overlap)} is both female and male")
        return self


class PredictParams(Section):
    """``predict``: device, batching and truncation of every model predictor."""

    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA (bfloat16 autocast) else CPU
    batch_size: int | None = Field(None, ge=1)  # bios per batch; null: 32 on CPU, 256 on CUDA
    max_length: int = Field(512, ge=8)  # tokens per bio (prompt); longer bios are truncated
    zero_shot: ZeroShotParams = ZeroShotParams()


@dataclass(frozen=True)
class Runtime:
    """Where and how the batches run: device, precision, batch size and this process's rank."""

    device: torch.device
    batch_size: int
    autocast_dtype: torch.dtype | None = None  # bfloat16 on CUDA, None (float32) on CPU
    rank: int = 0
    world_size: int = 1

    @property
    def description(self) -> str:
        """The device as recorded with the predictions (independent of the process count)."""
        precision = "bfloat16 autocast" if self.autocast_dtype else "float32"
        return f"{self.device.type} ({precision})"

    def autocast(self):
        """The autocast context of this device (a no-op on CPU)."""
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


@dataclass(frozen=True)
class Encoded:
    """Token ids the model reads for each bio, and which bios were truncated to fit."""

    ids: list[list[int]]
    truncated: np.ndarray


class Scorer(Protocol):
    """One kind of model: turns texts into token ids, and a batch of ids into P(female)."""

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize (and truncate) every text."""
        ...

    def score(self, batch: list[list[int]], runtime: Runtime) -> np.ndarray:
        """Return P(female) (float64) for each row of a batch of token ids."""
        ...


@dataclass(frozen=True)
class Predictor:
    """A loaded predictor: its scorer and what to record about it."""

    name: str
    scorer: Scorer
    model: str  # the predictions' ``model`` column: name/path and revision
    label: str  # what it is, for every report that shows it
    params: dict[str, Any]  # params that made it, seeds included (recorded and hashed)
    seeds: dict[str, int] = field(default_factory=dict)  # seeds it used


@dataclass(frozen=True)
class LoadContext:
    """What a loader may use: parsed params, the raw params file, and the runtime."""

    predict: PredictParams
    seeds: Seeds
    runtime: Runtime
    raw: dict[str, Any] = field(default_factory=dict)
    base_dir: Path = paths.BASE_MODEL_DIR


Loader = Callable[[LoadContext], Predictor]
PREDICTORS: dict[str, Loader] = {}


def register(name: str) -> Callable[[Loader], Loader]:
    """Register a predictor loader under ``name`` (the CLI argument and file name)."""

    def add(loader: Loader) -> Loader:
        PREDICTORS[name] = loader
        return loader

    return add


def _truncate(ids: list[int], limit: int, keep: Literal["start", "end"]) -> list[int]:
    if len(ids) <= limit:
        return ids
    return ids[-limit:] if keep == "end" else ids[:limit]


def _right_pad(batch: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the batch's longest row: ``(input_ids, attention_mask)``."""
    width = max(len(ids) for ids in batch)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return torch.from_numpy(input_ids), torch.from_numpy(mask)


class ClassifierScorer:
    """A sequence-classification model: ``softmax(logits)[label 1]`` is P(female).

    Shared by ``random_head`` and ``lora``. Right padding with the pad token set on the model
    config: GPT-2 pools the last non-pad token, and real tokens never attend to pads.
    """

    def __init__(self, model: Any, tokenizer: Any, max_length: int) -> None:
        if model.config.num_labels != 2:
            raise SuiteError(f"classifier has {model.config.num_labels} labels; expected 2")
        if tokenizer.pad_token_id is None or model.config.pad_token_id is None:
            raise SuiteError("classifier needs a pad token on the tokenizer and model config")
        self.model, self.tokenizer, self.max_length = fuse_gelu(model), tokenizer, max_length
        self.keep: Literal["start", "end"] = (
            "end" if tokenizer.truncation_side == "left" else "start"
        )

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize every bio; keep its first ``max_length`` tokens (tokenizer's side)."""
        full = self.tokenizer(list(texts))["input_ids"]
        truncated = np.array([len(ids) > self.max_length for ids in full], dtype=bool)
        return Encoded([_truncate(ids, self.max_length, self.keep) for ids in full], truncated)

    def score(self, batch: list[list[int]], runtime: Runtime) -> np.ndarray:
        """P(label 1) for a batch."""
        input_ids, mask = _right_pad(batch, self.model.config.pad_token_id)
        with runtime.autocast():
            logits = self.model(
                input_ids=input_ids.to(runtime.device),
                attention_mask=mask.to(runtime.device),
                use_cache=False,
            ).logits
        return logits.float().softmax(-1)[:, 1].cpu().numpy().astype(np.float64)


class ZeroShotScorer:
    """A causal LM compares female against male continuations of the prompt.

    One forward pass per batch scores every continuation: each row holds the prompt, then all
    continuations side by side, with a 4D attention mask in which a continuation token sees the
    prompt and its own earlier tokens only, and position ids that restart each continuation
    right after the prompt. So each continuation is scored exactly as if it followed the prompt
    alone, and the LM head runs only at the few positions that predict a continuation token.
    """

    def __init__(self, model: Any, tokenizer: Any, params: ZeroShotParams, max_length: int):
        self.model, self.tokenizer, self.max_length = fuse_gelu(model), tokenizer, max_length
        prefix, suffix = params.template.split("{text}")
        self.prefix = tokenizer(prefix)["input_ids"] if prefix else []
        self.suffix = tokenizer(suffix)["input_ids"] if suffix else []
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise SuiteError(
                f"predict.max_length = {max_length} leaves no room for the bio after the "
                f"template's {len(self.prefix) + len(self.suffix)} tokens; raise it"
            )
        words = [*params.female, *params.male]
        self.continuations = [tokenizer(word)["input_ids"] for word in words]
        self.is_female = np.array([i < len(params.female) for i in range(len(words))])
        longest = max(len(ids) for ids in self.continuations)
        n_positions = getattr(model.config, "n_positions", None) or getattr(
            model.config, "max_position_embeddings", None
        )
        if n_positions is not None and max_length + longest > n_positions:
            raise SuiteError(
                f"predict.max_length = {max_length} plus a {longest}-token continuation exceeds "
                f"the model's {n_positions} positions; set predict.max_length <= "
                f"{n_positions - longest}"
            )
        # Static layout of the continuation block that follows each prompt (C tokens in all).
        offsets = np.cumsum([0, *(len(ids) for ids in self.continuations)])
        self.block_ids = np.concatenate([np.asarray(ids) for ids in self.continuations])
        self.block_pos = np.concatenate([np.arange(len(ids)) for ids in self.continuations])
        size = int(offsets[-1])
        self.block_mask = np.zeros((size, size), dtype=bool)
        self.segment = np.zeros((size, len(words)), dtype=np.float32)  # token -> continuation
        for word, (start, end) in enumerate(pairwise(offsets)):
            self.block_mask[start:end, start:end] = np.tril(np.ones((end - start,) * 2, bool))
            self.segment[start:end, word] = 1.0
        # Position (relative to the block) that predicts each block token: -1 = the prompt's
        # last token, else the previous token of the same continuation.
        self.block_pred = np.where(self.block_pos == 0, -1, np.arange(size) - 1)

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Prompt ids per bio; a long bio keeps its LAST tokens, so the continuation follows."""
        full = self.tokenizer(list(texts))["input_ids"]
        truncated = np.array([len(ids) > self.budget for ids in full], dtype=bool)
        prompts = [
            [*self.prefix, *_truncate(ids, self.budget, "end"), *self.suffix] for ids in full
        ]
        empty = [i for i, ids in enumerate(prompts) if not ids]
        if empty:
            raise SuiteError(f"bio #{empty[0]} tokenizes to nothing and the template adds none")
        return Encoded(prompts, truncated)

    def _layout(self, batch: list[list[int]]) -> tuple[np.ndarray, ...]:
        """Input ids, position ids, prompt lengths and the positions predicting block tokens."""
        size = len(self.block_ids)
        lengths = np.array([len(ids) for ids in batch])
        width = int(lengths.max()) + size
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        positions = np.zeros((len(batch), width), dtype=np.int64)
        for row, (ids, length) in enumerate(zip(batch, lengths, strict=True)):
            input_ids[row, :length] = ids
            input_ids[row, length : length + size] = self.block_ids
            positions[row, :length] = np.arange(length)
            positions[row, length : length + size] = length + self.block_pos
        predicting = np.where(
            self.block_pred < 0, lengths[:, None] - 1, lengths[:, None] + self.block_pred
        )
        return input_ids, positions, lengths, predicting

    def _mask(self, lengths: torch.Tensor, width: int) -> torch.Tensor:
        """Boolean 4D mask (batch, 1, query, key), built on the model's device.

        Prompt tokens: causal over the prompt. Block tokens: the whole prompt plus their own
        continuation's earlier tokens. Pads: themselves only (a fully masked row gives NaN).
        """
        size = len(self.block_ids)
        block_mask = torch.from_numpy(self.block_mask).to(lengths.device)
        index = torch.arange(width, device=lengths.device)
        query, key, start = index[None, :, None], index[None, None, :], lengths[:, None, None]
        query_in_prompt, key_in_prompt = query < start, key < start
        query_in_block = (query >= start) & (query < start + size)
        key_in_block = (key >= start) & (key < start + size)
        rel_query = (query - start).clamp(0, size - 1)
        rel_key = (key - start).clamp(0, size - 1)
        mask = (query_in_prompt & key_in_prompt & (key <= query)) | (query_in_block & key_in_prompt)
        mask |= query_in_block & key_in_block & block_mask[rel_query, rel_key]
        mask |= (query >= start + size) & (query == key)
        return mask[:, None]

    def score(self, batch: list[list[int]], runtime: Runtime) -> np.ndarray:
        """P(female) = sigmoid(logsumexp female - logsumexp male) for a batch of prompts."""
        input_ids, positions, lengths, predicting = (
            torch.from_numpy(a).to(runtime.device) for a in self._layout(batch)
        )
        mask = self._mask(lengths, input_ids.shape[1])
        with runtime.autocast():
            hidden = self.model.base_model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False
            ).last_hidden_state
        rows = torch.arange(len(batch), device=runtime.device)[:, None]
        picked = hidden[rows, predicting].float()  # (batch, block tokens, hidden)
        head = self.model.get_output_embeddings()
        with torch.autocast(runtime.device.type, enabled=False):
            log_probs = torch.log_softmax(
                torch.nn.functional.linear(picked, head.weight.float()), dim=-1
            )
        targets = torch.from_numpy(self.block_ids).to(runtime.device)
        token_lp = log_probs.gather(-1, targets.expand(len(batch), -1)[..., None])[..., 0]
        word_lp = token_lp @ torch.from_numpy(self.segment).to(runtime.device)
        female = torch.from_numpy(self.is_female).to(runtime.device)
        score_f = word_lp[:, female].logsumexp(-1)
        score_m = word_lp[:, ~female].logsumexp(-1)
        return torch.sigmoid(score_f - score_m).double().cpu().numpy()


def _model_label(name_or_path: str, revision: str | None) -> str:
    return f"{name_or_path}@{revision}" if revision else name_or_path


def _load(cls: Any, name_or_path: str, revision: str | None, **kwargs: Any) -> Any:
    """``from_pretrained`` with safetensors only and no remote code; one line if it fails."""
    try:
        return cls.from_pretrained(
            name_or_path,
            revision=revision,
            use_safetensors=True,
            trust_remote_code=False,
            **kwargs,
        )
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SuiteError(f"cannot load {name_or_path!r} (revision {revision}): {first}") from None


def _base_tokenizer(name_or_path: str, revision: str | None) -> Any:
    from transformers import AutoTokenizer

    tokenizer = _load(AutoTokenizer, name_or_path, revision)
    # GPT-2 has no pad token: end-of-text pads (never attended to, never pooled).
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@register("zero_shot")
def load_zero_shot(ctx: LoadContext) -> Predictor:
    """The unmodified causal LM, scoring female against male continuations."""
    from transformers import AutoModelForCausalLM

    from pipeline.base_model import base_model_source  # this loader's dvc.yaml dep

    name_or_path, revision = base_model_source(ctx.base_dir)
    tokenizer = _base_tokenizer(name_or_path, revision)
    # sdpa: the scorer's boolean 4D mask needs it (eager attention would add the mask).
    model = _load(AutoModelForCausalLM, name_or_path, revision, attn_implementation="sdpa")
    model.to(ctx.runtime.device).eval()
    params = ctx.predict.model_dump(mode="json")
    return Predictor(
        name="zero_shot",
        scorer=ZeroShotScorer(model, tokenizer, ctx.predict.zero_shot, ctx.predict.max_length),
        model=_model_label(name_or_path, revision),
        label="base GPT-2, zero-shot (unmodified LM: P(female vs male continuation))",
        params={"predict": params},
    )


def classifier_predictor(
    name: str,
    model: Any,
    tokenizer: Any,
    ctx: LoadContext,
    *,
    model_label: str,
    label: str,
    params: dict[str, Any] | None = None,
    seeds: dict[str, int] | None = None,
) -> Predictor:
    """Wrap a loaded sequence-classification model (label 1 = female) as a predictor."""
    model.to(ctx.runtime.device).eval()
    predict = ctx.predict.model_dump(mode="json", exclude={"zero_shot"})
    return Predictor(
        name=name,
        scorer=ClassifierScorer(model, tokenizer, ctx.predict.max_length),
        model=model_label,
        label=label,
        params={"predict": predict, **(params or {}), **({"seeds": seeds} if seeds else {})},
        seeds=seeds or {},
    )


@register("random_head")
def load_random_head(ctx: LoadContext) -> Predictor:
    """GPT-2 with an untrained, seeded classification head: a chance-level reference."""
    from transformers import GPT2ForSequenceClassification

    from pipeline.base_model import base_model_source  # this loader's dvc.yaml dep

    name_or_path, revision = base_model_source(ctx.base_dir)
    tokenizer = _base_tokenizer(name_or_path, revision)
    # The head is the only new weight: seeding right before loading makes it reproducible.
    torch.manual_seed(ctx.seeds.model)
    model = _load(
        GPT2ForSequenceClassification,
        name_or_path,
        revision,
        num_labels=2,
        pad_token_id=tokenizer.eos_token_id,
    )
    model.config.pad_token_id = tokenizer.eos_token_id
    return classifier_predictor(
        "random_head",
        model,
        tokenizer,
        ctx,
        model_label=f"{_model_label(name_or_path, revision)} + random head",
        label="REFERENCE AT CHANCE: base GPT-2 with an untrained, randomly initialised head",
        seeds={"model": ctx.seeds.model},
    )


@register("lora")
def load_lora(ctx: LoadContext) -> Predictor:
    """GPT-2 with the trained LoRA adapter and classification head from ``models/lora``."""
    from pipeline.train import METADATA_FILE, load_lora_classifier

    model, tokenizer = load_lora_classifier(paths.LORA_DIR, ctx.runtime.device)
    trained = json.loads((paths.LORA_DIR / METADATA_FILE).read_text())
    # The adapter's identity is what trained it (params and seed), not when or how fast.
    return classifier_predictor(
        "lora",
        model,
        tokenizer,
        ctx,
        model_label=f"{_model_label(trained['base']['name_or_path'], trained['base']['revision'])}"
        f" + LoRA adapter ({paths.LORA_DIR})",
        label="GPT-2 fine-tuned with a LoRA adapter and a trained head (model selected on dev)",
        params={"lora": trained["run"]["params"]["lora"]},
        seeds={"train": trained["run"]["seeds"]["train"]},
    )


def predict_probs(
    encoded: Encoded, scorer: Scorer, runtime: Runtime, desc: str = "predict"
) -> np.ndarray | None:
    """Score encoded bios in length-sorted, dynamically padded batches; original order back.

    Under ``torch.distributed`` batches are dealt to ranks round-robin and gathered on rank 0,
    which returns every probability; other ranks return ``None``.
    """
    lengths = np.array([len(ids) for ids in encoded.ids])
    # Longest first: an out-of-memory batch fails at once, not at the end. Stable: same order
    # on every rank and every run.
    order = np.argsort(-lengths, kind="stable")
    batches = [order[i : i + runtime.batch_size] for i in range(0, len(order), runtime.batch_size)]
    mine = batches[runtime.rank :: runtime.world_size]
    done: list[tuple[np.ndarray, np.ndarray]] = []
    total = int(sum(len(b) for b in mine))
    with (
        tqdm(total=total, desc=desc, unit="bios", disable=runtime.rank != 0) as bar,
        torch.inference_mode(),
    ):
        for batch in mine:
            probs = scorer.score([encoded.ids[i] for i in batch], runtime)
            done.append((batch, probs))
            bar.update(len(batch))
    if runtime.world_size > 1:
        import torch.distributed as dist

        gathered: list[Any] | None = [None] * runtime.world_size if runtime.rank == 0 else None
        dist.gather_object(done, gathered, dst=0)
        if runtime.rank != 0:
            return None
        done = [part for rank_done in gathered for part in rank_done]
    prob = np.full(len(encoded.ids), np.nan)
    for batch, probs in done:
        prob[batch] = probs
    return prob


@dataclass(frozen=True)
class PredictResult:
    """Predictions in the shared schema (``None`` on ranks other than 0) and run facts."""

    frame: pd.DataFrame | None
    n_truncated: int


def predict_frame(
    ids: Sequence[Any], texts: Sequence[str], predictor: Predictor, runtime: Runtime
) -> PredictResult:
    """Predict every text with a loaded predictor; the frame is in the shared schema."""
    encoded = predictor.scorer.encode(texts)
    n_truncated = int(encoded.truncated.sum())
    if n_truncated:
        log.info(
            "%s: %d of %d bios truncated to predict.max_length",
            predictor.name,
            n_truncated,
            len(texts),
        )
    prob = predict_probs(encoded, predictor.scorer, runtime, desc=predictor.name)
    if prob is None:
        return PredictResult(None, n_truncated)
    # Rounding noise can leave a sigmoid a hair outside [0, 1] in low precision.
    prob = np.clip(prob, 0.0, 1.0)
    frame = predictions_frame(
        ids,
        prob,
        predictor=predictor.name,
        model=predictor.model,
        params_hash=params_hash(predictor.params),
    )
    return PredictResult(frame, n_truncated)


def make_runtime(params: PredictParams) -> Runtime:
    """Pick the device (and join the process group under torchrun)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    want = params.device
    if want == "cuda" and not torch.cuda.is_available():
        raise SuiteError("predict.device = 'cuda' but no CUDA device is visible; use auto or cpu")
    use_cuda = want == "cuda" or (want == "auto" and torch.cuda.is_available())
    if use_cuda:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world_size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Runtime(
        device=device,
        batch_size=params.batch_size or DEFAULT_BATCH_SIZE[device.type],
        autocast_dtype=torch.bfloat16 if use_cuda else None,
        rank=rank,
        world_size=world_size,
    )


def read_texts(path: Path, hint: str) -> pd.DataFrame:
    """Read ``id`` and ``text`` from a parquet file; one clear line if unusable."""
    if not path.is_file():
        raise SuiteError(f"{path}: not found; {hint}")
    frame = pd.read_parquet(path)
    missing = [c for c in ("id", "text") if c not in frame.columns]
    if missing:
        raise SuiteError(f"{path}: missing column {missing[0]!r}; expected columns id, text")
    if frame.empty:
        raise SuiteError(f"{path}: no bios to predict (0 rows); {hint}")
    bad = frame["text"].map(lambda t: not isinstance(t, str) or not t.strip())
    if bad.any():
        raise SuiteError(f"{path}: bio {frame['id'][bad].iloc[0]!r} is empty or not text")
    if frame["id"].duplicated().any():
        raise SuiteError(f"{path}: duplicate id {frame['id'][frame['id'].duplicated()].iloc[0]!r}")
    return frame[["id", "text"]]


def main() -> None:
    """Predict the test split (or the probe texts) with one registered predictor."""
    parser = argparse.ArgumentParser(description="Predict P(female) for every bio.")
    parser.add_argument("predictor", choices=sorted(PREDICTORS))
    parser.add_argument("--on", choices=("test", "probes"), default="test")
    args = parser.parse_args()
    raw = read_params()
    predict = parse_section(raw, "predict", PredictParams)
    seeds = parse_section(raw, "seeds", Seeds)
    if args.on == "test":
        source, out = paths.split_path("test"), paths.predictions_path(args.predictor)
        hint = "run the prepare stage first (dvc repro prepare)"
    else:
        source, out = paths.PROBES_FILE, paths.probe_predictions_path(args.predictor)
        hint = "run the probe stage first"
    bios = read_texts(source, hint)
    runtime = make_runtime(predict)
    try:
        predictor = PREDICTORS[args.predictor](LoadContext(predict, seeds, runtime, raw))
        log.info(
            "%s on %d bios (%s): %s, batch %d, %d process(es)",
            predictor.name,
            len(bios),
            source,
            runtime.description,
            runtime.batch_size,
            runtime.world_size,
        )
        result = predict_frame(bios["id"].tolist(), bios["text"].tolist(), predictor, runtime)
        if result.frame is not None:
            metadata = run_metadata(
                "predict", predictor.params, predictor.seeds, device=runtime.description
            )
            metadata.update(
                predictor=predictor.name,
                label=predictor.label,
                input=str(source),
                n_bios=len(bios),
                truncated_bios=result.n_truncated,
                batch_size=runtime.batch_size,
            )
            write_predictions(result.frame, out, metadata)
            log.info("wrote %s (%d bios truncated)", out, result.n_truncated)
    finally:
        if runtime.world_size > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


if __name__ == "__main__":
    run_main(main)
