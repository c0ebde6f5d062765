"""Counterfactual probes: how predictions change when gendered words are swapped or removed.

For each probe text (see :mod:`pipeline.probe`) the predictor's answer is compared with its answer
on the original bio:

- ``flip_rate``: share of bios whose predicted label differs from the prediction on the original.
  A model that reads pronouns flips under ``swapped``; one that reads the profession does not.
- ``accuracy``: share of probe texts predicted as ``expected_gender_id``. For ``swapped`` that
  is the FLIPPED label (the gender the swapped text now describes); for ``removed`` it is the
  original label, i.e. the accuracy without gendered words.
- ``accuracy_original``: the accuracy of the same predictor on the same original bios, beside it.

Rates carry Wilson intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import wilson_interval
from pipeline.lib.contract import ALL_PROFESSIONS


def probe_effects(
    *,
    variant: Any,
    y_expected: Any,
    y_pred: Any,
    y_pred_original: Any,
    y_true_original: Any,
    profession: Any,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Flip rate and accuracy per (profession, variant), plus ``"all"`` rows per variant.

    Args:
        variant: the probe variant of each row (``swapped`` / ``removed``).
        y_expected: the gender the probe text describes (flipped for ``swapped``).
        y_pred: the predictor's label on the probe text.
        y_pred_original: the predictor's label on the original bio.
        y_true_original: the original bio's gender.
        profession: the original bio's profession.
        confidence: interval level.

    Returns:
        A frame indexed by (profession, variant) with n, flips, flip_rate, flip_ci_low,
        flip_ci_high, accuracy, accuracy_ci_low, accuracy_ci_high, accuracy_original.
    """
    frame = pd.DataFrame(
        {
            "profession": np.asarray(profession, dtype=object),
            "variant": np.asarray(variant, dtype=object),
            "flip": np.asarray(y_pred) != np.asarray(y_pred_original),
            "hit": np.asarray(y_pred) == np.asarray(y_expected),
            "hit_original": np.asarray(y_pred_original) == np.asarray(y_true_original),
        }
    )
    overall = frame.assign(profession=ALL_PROFESSIONS)
    stats = (
        pd.concat([overall, frame])
        .groupby(["profession", "variant"], sort=False)
        .agg(
            n=("flip", "size"),
            flips=("flip", "sum"),
            correct=("hit", "sum"),
            correct_original=("hit_original", "sum"),
        )
    )
    n = stats["n"].astype(np.int64)
    stats["n"] = n
    stats["flips"] = stats["flips"].astype(np.int64)
    stats["flip_rate"] = stats["flips"] / n
    stats["flip_ci_low"], stats["flip_ci_high"] = wilson_interval(
        successes=stats["flips"], n=n, confidence=confidence
    )
    stats["accuracy"] = stats["correct"] / n
    stats["accuracy_ci_low"], stats["accuracy_ci_high"] = wilson_interval(
        successes=stats["correct"], n=n, confidence=confidence
    )
    stats["accuracy_original"] = stats["correct_original"] / n
    return stats.drop(columns=["correct", "correct_original"])
