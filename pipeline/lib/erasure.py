"""Concept erasure with LEACE, and the gender probe that measures what erasure left behind.

LEACE (Belrose et al., NeurIPS 2023; the ``concept-erasure`` package, by its authors) is a
closed-form affine map ``x -> x - L R (x - b)`` fitted on representations ``x`` and a concept
``z`` (here gender): afterwards no linear classifier predicts ``z`` from the representation
better than a constant does (on the data it was fitted on), and the representation moves as
little as possible. The suite fits it on the train split, in float64, and stores it in float32
(:data:`ERASER_FILE`, tensors ``proj_left`` ``d x k``, ``proj_right`` ``k x d``, ``bias`` ``d``).

- :func:`representations`: the representation a classification head reads, the last real
  token's final hidden state (GPT-2's sequence classifier pools it), for every bio;
- :func:`fit_eraser`, :func:`save_eraser`, :func:`load_eraser`;
- :class:`ErasedHead` (via :func:`erased_head`): the eraser, frozen, then a linear head: what a
  LEACE predictor puts in place of the classifier's ``score`` layer;
- :func:`gender_probe`: the leakage probe, a logistic regression fitted on train representations
  and scored on test ones (standardised features; lbfgs, deterministic).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.lib.batch_scoring import ClassifierScorer, _right_pad, predict_probs
from pipeline.lib.errors import SuiteError
from pipeline.lib.runtime import Runtime

ERASER_FILE = "eraser.safetensors"
ERASER_TENSORS = ("proj_left", "proj_right", "bias")


class RepresentationScorer(ClassifierScorer):
    """The last real token's final hidden state of a sequence classifier, one row per bio.

    The same tokens, truncation and pooling as :class:`ClassifierScorer` scores with: the
    representation the classifier's head reads.
    """

    def score(self, batch: list[list[int]], runtime: Runtime) -> torch.Tensor:
        """The representations of a batch of token ids, float32 on the device."""
        input_ids, mask = _right_pad(batch, self.model.config.pad_token_id, runtime)
        hidden = self.model.transformer(input_ids=input_ids, attention_mask=mask)[0]
        last = mask.sum(-1) - 1  # right padding: the last real token
        return hidden[torch.arange(len(batch), device=hidden.device), last].float()


def representations(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int,
    runtime: Runtime,
    batch_size: int,
    desc: str = "representations",
) -> np.ndarray:
    """Every bio's representation (``n x width``, float64) under a sequence classifier."""
    classes = model.config.num_labels
    scorer = RepresentationScorer(model, tokenizer, max_length, classes=classes)
    out = predict_probs(scorer.encode(texts), scorer, runtime, batch_size, desc=desc)
    if out is None:  # another rank's share: only rank 0 fits
        raise SuiteError("representations: erasure runs in one process (no torchrun)")
    return out


def _leace_fitter() -> Any:
    """The package's ``LeaceFitter``, imported quietly.

    Its import compiles two helpers with ``torch.jit.script``, which torch 2.13 deprecates: a
    warning about the package, not about this suite.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning
        )
        from concept_erasure import LeaceFitter
    return LeaceFitter


def fit_eraser(x: np.ndarray, z: np.ndarray) -> dict[str, torch.Tensor]:
    """LEACE fitted on representations ``x`` (n x d) and labels ``z`` (n, integers).

    Two classes are one concept column (z itself); K > 2 classes are one-hot. Fitted in float64,
    returned in float32 (the models' dtype). One line if ``z`` has a single class.
    """
    LeaceFitter = _leace_fitter()
    z = np.asarray(z)
    classes = np.unique(z)
    if len(classes) < 2:
        raise SuiteError(f"LEACE needs two classes or more to erase; the labels are all {z[0]}")
    target = (
        (z == classes[1]).astype(np.float64)[:, None]
        if len(classes) == 2
        else ((z[:, None] == classes[None, :]).astype(np.float64))
    )
    fitter = LeaceFitter.fit(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(target))
    eraser = fitter.eraser
    return {
        "proj_left": eraser.proj_left.float().contiguous(),
        "proj_right": eraser.proj_right.float().contiguous(),
        "bias": eraser.bias.float().contiguous(),
    }


def erase(tensors: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The eraser applied to ``x`` (rows), in ``x``'s dtype: ``x - ((x - b) R^T) L^T``."""
    left, right, bias = (tensors[name].to(x.dtype) for name in ERASER_TENSORS)
    return x - ((x - bias) @ right.mT) @ left.mT


def save_eraser(tensors: dict[str, torch.Tensor], folder: Path) -> None:
    """Write the eraser's tensors (:data:`ERASER_FILE`) into ``folder``."""
    from safetensors.torch import save_file

    save_file({name: tensors[name] for name in ERASER_TENSORS}, str(folder / ERASER_FILE))


def load_eraser(folder: str | Path) -> dict[str, torch.Tensor]:
    """Read an eraser written by :func:`save_eraser`; one line naming the fix if unusable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = Path(folder) / ERASER_FILE
    try:
        tensors = load_file(str(file))
        out = {name: tensors[name] for name in ERASER_TENSORS}
    except (OSError, KeyError, SafetensorError) as err:
        raise SuiteError(
            f"{file}: no usable LEACE eraser ({str(err).splitlines()[0] if str(err) else err!r});"
            " run its stage again (dvc repro erase)"
        ) from None
    width = out["bias"].shape[0]
    if out["proj_left"].shape[0] != width or out["proj_right"].shape[1] != width:
        raise SuiteError(f"{file}: the eraser's tensors do not fit together; run dvc repro erase")
    return out


class ErasedHead(torch.nn.Module):
    """A frozen LEACE eraser, then a linear head (no bias, as GPT-2's ``score``).

    Put in place of a sequence classifier's ``score`` layer; only ``linear`` is trainable.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], linear: torch.nn.Linear) -> None:
        super().__init__()
        for name in ERASER_TENSORS:
            self.register_buffer(name, tensors[name].clone())
        self.linear = linear

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """The head's logits from the erased hidden states."""
        erased = erase({name: getattr(self, name) for name in ERASER_TENSORS}, hidden)
        return self.linear(erased)


def erased_head(model: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """``model`` with its ``score`` layer behind the eraser (the layer's weights kept)."""
    width = model.score.weight.shape[1]
    if tensors["bias"].shape[0] != width:
        raise SuiteError(
            f"the eraser is for {tensors['bias'].shape[0]}-wide representations; this model's "
            f"are {width} wide: fit it again on this base model (dvc repro erase)"
        )
    model.score = ErasedHead(tensors, model.score)
    return model


def gender_probe(
    train_x: np.ndarray, train_z: np.ndarray, test_x: np.ndarray, c: float, max_iter: int
) -> np.ndarray:
    """A linear gender probe's predictions on ``test_x``, fitted on ``train_x``/``train_z``.

    Standardised features (the train split's mean and spread), then an L2 logistic regression
    (``C`` = ``c``, lbfgs: deterministic): what INLP and LEACE report as leakage.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    probe.fit(train_x, train_z)
    return probe.predict(test_x).astype(np.int64)
