from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.labels import PROFESSIONS
from pipeline.sample import PROFESSION_STATS, generate_sample, generate_split


def test_columns_and_label_ranges():
    frame = generate_split(500, seed=1)
    assert list(frame.columns) == ["hard_text", "profession", "gender"]
    assert frame["profession"].between(0, 27).all()
    assert set(frame["gender"]) == {0, 1}
    assert (frame["hard_text"].str.len() > 0).all()


def test_deterministic_and_splits_differ():
    first = generate_sample({"train": 300, "test": 300}, seed=3)
    again = generate_sample({"train": 300, "test": 300}, seed=3)
    pd.testing.assert_frame_equal(first["train"], again["train"])
    assert not first["train"]["hard_text"].equals(first["test"]["hard_text"])


def test_realistic_shares_lengths_and_hard_cases():
    frame = generate_split(6000, seed=0)
    assert set(frame["profession"]) == set(range(len(PROFESSIONS)))
    share = frame.groupby("profession")["gender"].mean()
    assert share[PROFESSIONS.index("nurse")] > 0.8
    assert share[PROFESSIONS.index("surgeon")] < 0.3
    assert abs(frame["gender"].mean() - 0.45) < 0.05
    words = frame["hard_text"].str.split().str.len()
    # about 1.3 GPT-2 tokens per word: median near 70 tokens, a tail past 250
    assert 45 <= np.median(words) <= 62
    assert words.max() * 1.3 > 250
    lowered = frame["hard_text"].str.lower()
    first_person = lowered.str.startswith(("i ", "my ", "in my", "feel free"))
    they = lowered.str.contains(r"\bthey\b") & ~lowered.str.contains(r"\b(?:she|he)\b")
    no_gendered = ~lowered.str.contains(r"\b(?:she|he|her|his|him|they|their|i|my)\b")
    for hard_case in (first_person, they, no_gendered):
        assert 0.005 < hard_case.mean() < 0.08
    assert len(PROFESSION_STATS) == 28
