"""The bios as the ``train`` stage feeds them to the model: tokenised, in length-grouped batches.

- :class:`EncodedBios`: a split tokenised once (truncated to ``<name>.max_length``, not padded:
  the collator pads each batch to its longest bio).
- :func:`length_grouped_sampler`: the training order. Bios are shuffled, cut into "megabatches"
  of up to 50 batches and sorted by length within each, so that a batch holds bios of similar
  length and carries little padding; the shuffle depends only on (seed, epoch), so a run resumed
  in a later epoch sees the order an uninterrupted run saw.
- :func:`check_data_fits`: one line if one optimizer step needs more bios than the split has.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.lib.errors import SuiteError
from pipeline.lib.predictor_settings import TrainingParams


class EncodedBios(torch.utils.data.Dataset):
    """Tokenised bios (no padding: the collator pads each batch to its longest bio)."""

    def __init__(
        self, frame: pd.DataFrame, tokenizer, max_length: int, label_column: str = "gender_id"
    ) -> None:
        encoded = tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)
        self.input_ids: list[list[int]] = encoded["input_ids"]
        self.labels = frame[label_column].astype(int).tolist()
        self.lengths = [len(ids) for ids in self.input_ids]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.input_ids[index]
        return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": self.labels[index]}

    def sorted_by_length(self) -> EncodedBios:
        """A copy in decreasing length order, so evaluation batches carry little padding."""
        order = np.argsort(-np.asarray(self.lengths), kind="stable")
        copy = object.__new__(EncodedBios)
        copy.input_ids = [self.input_ids[i] for i in order]
        copy.labels = [self.labels[i] for i in order]
        copy.lengths = [self.lengths[i] for i in order]
        return copy


def length_grouped_sampler(batch_size: int, lengths: list[int], seed: int):
    """The training sampler: length-grouped shuffling whose order depends only on (seed, epoch).

    Bios are shuffled, cut into "megabatches" of up to 50 batches and sorted by length within
    each, so that a batch holds bios of similar length and carries little padding.
    """
    return _length_grouped_sampler_class()(batch_size, lengths, seed)


@cache
def _length_grouped_sampler_class():
    from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

    class EpochSeededLengthSampler(LengthGroupedSampler):
        """Length-grouped shuffling whose order depends only on (seed, epoch).

        Transformers' sampler draws from the global RNG, so a run resumed in a later epoch would
        see another order than an uninterrupted one; seeding per epoch makes resume exact.
        """

        def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
            super().__init__(batch_size, lengths=lengths)
            self.seed = seed
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            return iter(get_length_grouped_indices(self.lengths, self.batch_size, None, generator))

    return EpochSeededLengthSampler


def check_data_fits(n_train: int, settings: TrainingParams, processes: int, name: str) -> None:
    """Stop with one line if one optimizer step needs more bios than the train split has.

    ``name``: the trained predictor, whose params section ``settings`` is.
    """
    per_step = settings.batch_size * settings.gradient_accumulation_steps * processes
    if n_train < per_step:
        raise SuiteError(
            f"{name}.gradient_accumulation_steps = {settings.gradient_accumulation_steps}: one "
            f"optimizer step needs batch_size ({settings.batch_size}) x "
            f"gradient_accumulation_steps x {processes} process(es) = {per_step} bios but the "
            f"train split has {n_train}; lower {name}.gradient_accumulation_steps or "
            f"{name}.batch_size"
        )
