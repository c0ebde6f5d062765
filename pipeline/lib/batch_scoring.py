"""The scoring engine: tokenize once, score length-sorted dynamically padded batches.

A :class:`Scorer` is one kind of model: ``encode`` turns texts into token ids (truncated to a
budget), ``score`` turns one batch of ids into P(female) (gender, one float per bio) or the K
class probabilities (occupation, one row per bio). The kinds:

- :class:`ClassifierScorer`: a sequence-classification model (``random_head``, ``lora``),
  ``softmax(logits)[1]`` for gender or the whole softmax over K labels, right padding with the
  pad token set on the model config (GPT-2 pools the last non-pad token; real tokens never
  attend to pads).
- :class:`ZeroShotScorer`: a causal LM comparing female against male continuations of the bio
  in one forward pass per batch (see :class:`ContinuationScorer`).
- :class:`ZeroShotClassScorer`: the same one-pass machinery scoring K class names as
  continuations; softmax over the names' log-probabilities (summed or per token).

:func:`predict_probs` runs a scorer over encoded bios: sorted by length (longest first, so an
out-of-memory batch fails at once), cut into batches, each padded only to its own longest bio,
scored under ``torch.inference_mode()``, and put back in the original order: an ``(n,)`` array
for P(female), ``(n, K)`` for class probabilities. Under ``torch.distributed`` whole batches are
dealt round-robin to the ranks and rank 0 gathers them; a bio lands in the same batch whatever
the number of processes, so the result is the single-process result, byte for byte (on CPU with
the same thread count per process).

Truncation: the zero-shot continuation must follow the END of the prompt, so zero-shot keeps
the LAST tokens of a long bio (never the template's text); a classifier keeps whatever its
tokenizer's ``truncation_side`` says (default: the start of the bio, as in fine-tuning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch

from pipeline.lib.errors import SuiteError
from pipeline.lib.progress import progress_bar
from pipeline.lib.runtime import Runtime

if TYPE_CHECKING:
    from pipeline.lib.predictor_settings import ZeroShotParams


@dataclass(frozen=True)
class Encoded:
    """Token ids the model reads for each bio, and which bios were truncated to fit."""

    ids: list[list[int]]
    truncated: np.ndarray


class Scorer(Protocol):
    """One kind of model: turns texts into token ids, and a batch of ids into probabilities.

    P(female) (one float per bio) or the K class probabilities (one row of K per bio).
    """

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize (and truncate) every text."""
        ...

    def score(self, batch: list[list[int]], runtime: Runtime) -> torch.Tensor | np.ndarray:
        """P(female) or the K class probabilities for each row of a batch of token ids.

        Shape ``(batch,)`` or ``(batch, K)``.

        A model's scorer leaves it on the device (a tensor): the engine copies all probabilities
        to the host once, so no batch waits for the previous one to come back. A scorer without
        a model may return a numpy array.
        """
        ...


def _truncate(ids: list[int], limit: int, keep: Literal["start", "end"]) -> list[int]:
    if len(ids) <= limit:
        return ids
    return ids[-limit:] if keep == "end" else ids[:limit]


def _right_pad(
    batch: list[list[int]], pad_id: int, runtime: Runtime
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the batch's width: ``(input_ids, attention_mask)`` on the device."""
    width = runtime.width(max(len(ids) for ids in batch))
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return runtime.to_device(input_ids), runtime.to_device(mask)


class ClassifierScorer:
    """A sequence-classification model: ``softmax(logits)[label 1]`` is P(female).

    With ``classes=K`` it is a K-class model (e.g. occupation) and the score is the whole
    softmax over its K labels. Shared by ``random_head`` and ``lora``. Right padding with the pad
    token set on the model config: GPT-2 pools the last non-pad token, and real tokens never
    attend to pads.
    """

    def __init__(
        self, model: Any, tokenizer: Any, max_length: int, *, classes: int | None = None
    ) -> None:
        expected = 2 if classes is None else classes
        if classes is not None and classes < 2:
            raise SuiteError(f"classes = {classes}: a classifier needs at least 2 classes")
        if model.config.num_labels != expected:
            raise SuiteError(
                f"classifier has {model.config.num_labels} labels; expected {expected}"
            )
        if tokenizer.pad_token_id is None or model.config.pad_token_id is None:
            raise SuiteError("classifier needs a pad token on the tokenizer and model config")
        self.model, self.tokenizer, self.max_length = model, tokenizer, max_length
        self.classes = classes
        self.keep: Literal["start", "end"] = (
            "end" if tokenizer.truncation_side == "left" else "start"
        )

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Tokenize every bio; keep its first ``max_length`` tokens (tokenizer's side)."""
        return self.encode_ids(self.tokenizer(list(texts))["input_ids"])

    def encode_ids(self, full: Sequence[Sequence[int]]) -> Encoded:
        """Already tokenized bios (``tokenizer(texts)["input_ids"]``), truncated."""
        truncated = np.array([len(ids) > self.max_length for ids in full], dtype=bool)
        kept = [list(_truncate(list(ids), self.max_length, self.keep)) for ids in full]
        return Encoded(kept, truncated)

    def score(self, batch: list[list[int]], runtime: Runtime) -> torch.Tensor:
        """P(label 1), or the K label probabilities, for a batch, float32 on the device."""
        input_ids, mask = _right_pad(batch, self.model.config.pad_token_id, runtime)
        logits = self.model(input_ids=input_ids, attention_mask=mask, use_cache=False).logits
        probs = logits.float().softmax(-1)
        return probs[:, 1] if self.classes is None else probs


class ContinuationScorer:
    """A causal LM's log-probability of each of several continuations of a prompt.

    The shared machinery of :class:`ZeroShotScorer` and :class:`ZeroShotClassScorer`; a
    subclass turns :meth:`word_log_probs` into its score. The prompt is ``template`` with
    ``{text}`` replaced by the bio; a long bio keeps its LAST tokens, so that the continuation
    follows the prompt's end (the template's own tokens are always kept).

    One forward pass per batch scores every continuation: each row holds the prompt, then all
    continuations side by side, with a 4D attention mask in which a continuation token sees the
    prompt and its own earlier tokens only, and position ids that restart each continuation
    right after the prompt. So each continuation is scored exactly as if it followed the prompt
    alone, and the LM head runs only at the few positions that predict a continuation token.
    """

    def __init__(
        self, model: Any, tokenizer: Any, template: str, words: Sequence[str], max_length: int
    ) -> None:
        if template.count("{text}") != 1:
            raise SuiteError(f"template {template!r} must contain {{text}} exactly once")
        self.model, self.tokenizer, self.max_length = model, tokenizer, max_length
        prefix, suffix = template.split("{text}")
        self.prefix = tokenizer(prefix)["input_ids"] if prefix else []
        self.suffix = tokenizer(suffix)["input_ids"] if suffix else []
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 1:
            raise SuiteError(
                f"predict.max_length = {max_length} leaves no room for the bio after the "
                f"template's {len(self.prefix) + len(self.suffix)} tokens; raise it"
            )
        self.continuations = [tokenizer(word)["input_ids"] for word in words]
        empty = [word for word, ids in zip(words, self.continuations, strict=True) if not ids]
        if empty:
            raise SuiteError(f"continuation {empty[0]!r} tokenizes to nothing")
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
        return self.encode_ids(self.tokenizer(list(texts))["input_ids"])

    def encode_ids(self, full: Sequence[Sequence[int]]) -> Encoded:
        """Prompts from already tokenized bios (``tokenizer(texts)["input_ids"]``)."""
        truncated = np.array([len(ids) > self.budget for ids in full], dtype=bool)
        prompts = [
            [*self.prefix, *_truncate(list(ids), self.budget, "end"), *self.suffix] for ids in full
        ]
        empty = [i for i, ids in enumerate(prompts) if not ids]
        if empty:
            raise SuiteError(f"bio #{empty[0]} tokenizes to nothing and the template adds none")
        return Encoded(prompts, truncated)

    def _layout(self, batch: list[list[int]], runtime: Runtime) -> tuple[np.ndarray, ...]:
        """Input ids, position ids, prompt lengths and the positions predicting block tokens."""
        size = len(self.block_ids)
        lengths = np.array([len(ids) for ids in batch])
        width = runtime.width(int(lengths.max()) + size)
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

    def _mask(self, lengths: torch.Tensor, width: int, block_mask: torch.Tensor) -> torch.Tensor:
        """Boolean 4D mask (batch, 1, query, key), built on the model's device.

        Prompt tokens: causal over the prompt. Block tokens: the whole prompt plus their own
        continuation's earlier tokens. Pads: themselves only (a fully masked row gives NaN).
        """
        size = len(self.block_ids)
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

    def _word_arrays(self) -> dict[str, np.ndarray]:
        """A subclass's own per-continuation arrays, put on the device with the block's."""
        return {}

    def _constants(self, device: torch.device) -> dict[str, torch.Tensor]:
        """The block's tensors and the LM head in float32, on the device, made once."""
        if getattr(self, "_on", None) is None or self._on["device"] != device:
            head = self.model.get_output_embeddings().weight
            self._on = {
                "device": device,
                "block_mask": torch.from_numpy(self.block_mask).to(device),
                "targets": torch.from_numpy(self.block_ids).to(device),
                "segment": torch.from_numpy(self.segment).to(device),
                **{
                    name: torch.from_numpy(array).to(device)
                    for name, array in self._word_arrays().items()
                },
                # The log-softmax over the vocabulary runs in float32 whatever the weights.
                "head": head.detach().float(),
            }
        return self._on

    def word_log_probs(self, batch: list[list[int]], runtime: Runtime) -> torch.Tensor:
        """Each continuation's summed token log-probability, (batch, words) float32 on device."""
        on = self._constants(runtime.device)
        input_ids, positions, lengths, predicting = (
            runtime.to_device(a) for a in self._layout(batch, runtime)
        )
        mask = self._mask(lengths, input_ids.shape[1], on["block_mask"])
        hidden = self.model.base_model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False
        ).last_hidden_state
        rows = torch.arange(len(batch), device=runtime.device)[:, None]
        picked = hidden[rows, predicting].float()  # (batch, block tokens, hidden)
        log_probs = torch.log_softmax(torch.nn.functional.linear(picked, on["head"]), dim=-1)
        targets = on["targets"].expand(len(batch), -1)[..., None]
        token_lp = log_probs.gather(-1, targets)[..., 0]
        return token_lp @ on["segment"]


class ZeroShotScorer(ContinuationScorer):
    """A causal LM compares female against male continuations of the prompt.

    P(female) = sigmoid(logsumexp female - logsumexp male) of the continuations' summed token
    log-probabilities, all scored in one pass (see :class:`ContinuationScorer`).
    """

    def __init__(self, model: Any, tokenizer: Any, params: ZeroShotParams, max_length: int):
        words = [*params.female, *params.male]
        super().__init__(model, tokenizer, params.template, words, max_length)
        self.is_female = np.array([i < len(params.female) for i in range(len(words))])

    def _word_arrays(self) -> dict[str, np.ndarray]:
        return {"female": self.is_female}

    def score(self, batch: list[list[int]], runtime: Runtime) -> torch.Tensor:
        """P(female) = sigmoid(logsumexp female - logsumexp male) for a batch, on the device."""
        word_lp = self.word_log_probs(batch, runtime)
        on = self._constants(runtime.device)
        score_f = word_lp[:, on["female"]].logsumexp(-1)
        score_m = word_lp[:, ~on["female"]].logsumexp(-1)
        return torch.sigmoid(score_f - score_m)


class ZeroShotClassScorer(ContinuationScorer):
    """A causal LM picks one of K class names as the continuation of the prompt.

    Each name is scored as the continuation ``" " + name`` (pass display names, e.g.
    ``"interior designer"``) by the SUM of its tokens' log-probabilities (``length="sum"``: the
    name's probability) or their MEAN (``length="mean"``: per token, which undoes the penalty a
    sum puts on names of many tokens). The score is the softmax over the K names, (batch, K)
    float32 on the device, in the order of ``names``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        template: str,
        names: Sequence[str],
        max_length: int,
        *,
        length: Literal["sum", "mean"] = "sum",
    ) -> None:
        if length not in ("sum", "mean"):
            raise SuiteError(f"length = {length!r}; expected 'sum' or 'mean'")
        if len(names) < 2:
            raise SuiteError(f"{len(names)} class names given; a classification needs 2 or more")
        blank = [name for name in names if not name.strip()]
        if blank:
            raise SuiteError(f"class name {blank[0]!r} is blank; give every class a name")
        repeated = sorted({name for name in names if list(names).count(name) > 1})
        if repeated:
            raise SuiteError(f"class name {repeated[0]!r} is given twice; names must differ")
        super().__init__(model, tokenizer, template, [f" {name}" for name in names], max_length)
        self.names, self.length = tuple(names), length
        self.name_tokens = np.array([len(ids) for ids in self.continuations], dtype=np.float32)

    def _word_arrays(self) -> dict[str, np.ndarray]:
        return {"name_tokens": self.name_tokens}

    def score(self, batch: list[list[int]], runtime: Runtime) -> torch.Tensor:
        """Softmax over the K names' (summed or mean) log-probabilities, (batch, K) on device."""
        word_lp = self.word_log_probs(batch, runtime)
        if self.length == "mean":
            word_lp = word_lp / self._constants(runtime.device)["name_tokens"]
        return word_lp.softmax(-1)


def predict_probs(
    encoded: Encoded,
    scorer: Scorer,
    runtime: Runtime,
    batch_size: int,
    desc: str = "predict",
    progress: bool = True,
) -> np.ndarray | None:
    """Score encoded bios in length-sorted, dynamically padded batches; original order back.

    A scorer of P(female) gives an ``(n,)`` array, one of K class probabilities ``(n, K)``.
    Under ``torch.distributed`` batches are dealt to ranks round-robin and gathered on rank 0,
    which returns every probability; other ranks return ``None``.
    """
    lengths = np.array([len(ids) for ids in encoded.ids])
    # Longest first: an out-of-memory batch fails at once, not at the end. Stable: same order
    # on every rank and every run.
    order = np.argsort(-lengths, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    mine = batches[runtime.rank :: runtime.world_size]
    scored: list[torch.Tensor] = []
    total = int(sum(len(b) for b in mine))
    with (
        progress_bar(
            total=total, desc=desc, unit="bios", disable=runtime.rank != 0 or not progress
        ) as bar,
        torch.inference_mode(),
    ):
        for batch in mine:
            # A scorer may return a host array (a rule needs no device); as_tensor keeps a
            # device tensor where it is.
            scored.append(torch.as_tensor(scorer.score([encoded.ids[i] for i in batch], runtime)))
            bar.update(len(batch))
        # One copy to the host at the end: batches never wait for each other's results.
        flat = torch.cat(scored).double().cpu().numpy() if scored else np.zeros(0)
    done: list[tuple[np.ndarray, np.ndarray]] = []
    offset = 0
    for batch in mine:
        done.append((batch, flat[offset : offset + len(batch)]))
        offset += len(batch)
    if runtime.world_size > 1:
        import torch.distributed as dist

        gathered: list[Any] | None = [None] * runtime.world_size if runtime.rank == 0 else None
        dist.gather_object(done, gathered, dst=0)
        if runtime.rank != 0:
            return None
        done = [part for rank_done in gathered for part in rank_done]
    # (n,) for P(female), (n, K) for class probabilities: the shape of a scored batch. With no
    # bio at all there is no batch to tell, and the result is (0,).
    row_shape = next((probs.shape[1:] for _, probs in done), ())
    prob = np.full((len(encoded.ids), *row_shape), np.nan)
    for batch, probs in done:
        prob[batch] = probs
    return prob
