from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.gendered_words import count_gendered
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.synthetic_sample import (
    _SUBJECT_NAME_IDS,
    _TABLE,
    LABEL_NOISE,
    MID_MENTION_SHARE,
    PROFESSION_STATS,
    STYLE_WEIGHTS,
    STYLES,
    generate_sample,
    generate_split,
)
from tests.conftest import run_module

RAW_COLUMNS = ["hard_text", "profession", "gender"]
# Sentences end with "." or "!"; "Mr." / "Ms." / "Mrs." / "Dr." do not end one.
SENTENCE_END = re.compile(r"(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bDr\.)(?<=[.!])\s+")
SUBJECT_PRONOUNS = re.compile(r"\b(?:he|she|him|his|her|hers|himself|herself)\b", re.IGNORECASE)
THEY = re.compile(r"\b(?:they|them|their|themselves)\b", re.IGNORECASE)
FIRST_PERSON = re.compile(r"\b(?:I|my|me|myself)\b")


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    """A large annotated split: shares are checked within a few binomial standard errors."""
    return generate_split(40_000, seed=11, annotate=True)


def within(observed: float, expected: float, n: int, sigmas: float = 4.0) -> bool:
    return abs(observed - expected) <= sigmas * np.sqrt(expected * (1 - expected) / n) + 1e-9


def sentences(text: str) -> list[str]:
    return SENTENCE_END.split(text)


def test_columns_and_label_ranges():
    frame = generate_split(500, seed=1)
    assert list(frame.columns) == RAW_COLUMNS
    assert frame["profession"].dtype == np.int64 and frame["gender"].dtype == np.int64
    assert frame["profession"].between(0, 27).all()
    assert set(frame["gender"]) == {0, 1}
    assert (frame["hard_text"].str.len() > 0).all()
    assert not frame["hard_text"].str.contains(r"\{|\}|  |\bnan\b|None").any()


def test_deterministic_and_splits_differ():
    first = generate_sample({"train": 300, "test": 300}, seed=3)
    again = generate_sample({"train": 300, "test": 300}, seed=3)
    other = generate_sample({"train": 300, "test": 300}, seed=4)
    for split in first:
        pd.testing.assert_frame_equal(first[split], again[split])
    assert not first["train"]["hard_text"].equals(first["test"]["hard_text"])
    assert not first["train"]["hard_text"].equals(other["train"]["hard_text"])
    # the annotations are extra columns: the same rows and texts
    annotated = generate_split(300, seed=5, annotate=True)
    pd.testing.assert_frame_equal(annotated[RAW_COLUMNS], generate_split(300, seed=5))


def test_all_professions_with_realistic_frequencies_and_shares(big):
    counts = big["profession"].value_counts().reindex(range(len(PROFESSIONS)), fill_value=0)
    assert (counts > 0).all()
    weights = np.array([PROFESSION_STATS[p][1] for p in PROFESSIONS])
    expected_frequency = weights / weights.sum()
    for index, name in enumerate(PROFESSIONS):
        assert within(counts[index] / len(big), expected_frequency[index], len(big)), name
        # women's share of the labels: the written gender's share with LABEL_NOISE flipped
        share, _ = PROFESSION_STATS[name]
        expected = share * (1 - LABEL_NOISE) + (1 - share) * LABEL_NOISE
        rows = big[big["profession"] == index]
        assert within(rows["gender"].mean(), expected, len(rows)), name
    assert len(PROFESSION_STATS) == 28
    assert abs(big["gender"].mean() - 0.46) < 0.02


def test_lengths_median_near_70_gpt2_tokens_with_a_long_tail(big):
    words = big["hard_text"].str.split().str.len()
    # about 1.3 GPT-2 tokens per word: median near 70 tokens, a tail past 250
    assert 48 <= np.median(words) <= 58
    assert words.max() * 1.3 > 250
    assert (words * 1.3 > 250).mean() < 0.01
    # ... but within the tiny model's 256 positions (about 1.2 of its tokens per word)
    assert words.max() <= 215
    assert words.min() >= 5


def test_style_shares_and_label_noise(big):
    shares = big["style"].value_counts(normalize=True)
    for style, weight in zip(STYLES, STYLE_WEIGHTS, strict=True):
        assert within(shares[style], weight, len(big)), style
    assert sum(STYLE_WEIGHTS) == pytest.approx(1.0)
    assert within(big["label_noise"].mean(), LABEL_NOISE, len(big))
    assert 0.005 < big["label_noise"].mean() < 0.02
    flipped = big["gender"] != big["written_gender"]
    assert (flipped == big["label_noise"]).all()


def test_first_person_bios_have_no_third_person_pronoun_of_the_subject(big):
    rows = big[(big["style"] == "first_person") & (big["other_gender"] < 0)]
    assert len(rows) > 500
    assert rows["hard_text"].str.contains(FIRST_PERSON).all()
    assert not rows["hard_text"].str.contains(SUBJECT_PRONOUNS).any()
    assert not rows["hard_text"].str.contains(THEY).any()
    # half of them give the name first
    named = rows["hard_text"].str.match(r"(?:My name is|Hi, I'm|I'm) ")
    assert 0.4 < named.mean() < 0.6


@pytest.mark.parametrize("style", ["name_only", "title_only"])
def test_name_and_title_bios_have_no_pronoun_of_the_subject(big, style):
    rows = big[(big["style"] == style) & (big["other_gender"] < 0)]
    assert len(rows) > 500
    assert not rows["hard_text"].str.contains(SUBJECT_PRONOUNS).any()
    assert not rows["hard_text"].str.contains(FIRST_PERSON).any()
    if style == "title_only":
        titles = rows["hard_text"].str.extract(r"\b(Mrs?\.|Ms\.) ", expand=False)
        # the title is a gender cue a classifier can learn: Ms./Mrs. for women, Mr. for men
        assert titles.notna().mean() > 0.95
        women = titles.isin(["Ms.", "Mrs."])
        assert (women == (rows["written_gender"] == 1))[titles.notna()].all()


def test_they_them_bios(big):
    rows = big[(big["style"] == "they_them") & (big["other_gender"] < 0)]
    assert len(rows) > 300
    # all but some two-sentence bios ("Alex Kim ... . Offices in Boston.")
    assert rows["hard_text"].str.contains(THEY).mean() > 0.95
    assert not rows["hard_text"].str.contains(SUBJECT_PRONOUNS).any()


def test_other_last_bios_end_on_someone_else(big):
    rows = big[big["style"] == "other_last"]
    assert rows["other_last"].all() and (rows["other_gender"] >= 0).all()
    assert within(big["other_last"].mean(), STYLE_WEIGHTS[STYLES.index("other_last")], len(big))
    for text, gender, name in zip(
        rows["hard_text"], rows["other_gender"], rows["other_name"], strict=True
    ):
        last = sentences(text)[-1]
        # "Her husband, David, is a pilot." or "He also enjoys sailing." (the other's pronoun)
        assert name in last or last.startswith(("He ", "She ")[gender]), text
    # mostly someone of the other gender (a husband of a woman): the next word would be wrong
    opposite = (rows["other_gender"] != rows["written_gender"]).mean()
    assert 0.6 < opposite < 0.8


def test_pronouns_of_other_people_and_gendered_nouns(big):
    # pronouns of others: "her husband ... he" (the pronoun rule counts both)
    mentions = big["other_gender"] >= 0
    others = big[mentions & (big["style"] == "third_person")]
    assert within(len(others) / (big["style"] == "third_person").sum(), MID_MENTION_SHARE, 5000, 6)
    opposite = others[others["other_gender"] != others["written_gender"]]
    head = opposite.head(200)
    for text, gender in zip(head["hard_text"], head["written_gender"], strict=True):
        other_pronoun = ("She", "He")[gender]  # the other person's, not the subject's
        assert re.search(rf"\b{other_pronoun}\b", text), text
    # gendered nouns about the subject, on the written gender's side
    nouns = big[big["gendered_noun"]]
    assert 0.08 < big["gendered_noun"].mean() < 0.2
    female = nouns["hard_text"].str.contains(
        r"\b(?:mother|Businesswoman|waitress|daughter|actress|woman|wife)\b"
    )
    male = nouns["hard_text"].str.contains(
        r"\b(?:father|Businessman|waiter|son|actor|man|husband)\b"
    )
    assert female[nouns["written_gender"] == 1].mean() > 0.99
    assert male[nouns["written_gender"] == 0].mean() > 0.8  # "husband" of a wife is female's too


def test_pronoun_fade_bios_end_without_a_pronoun(big):
    rows = big[(big["style"] == "pronoun_fade") & (big["other_gender"] < 0)]
    assert len(rows) > 1000
    # the last two to four sentences (the last one of two-sentence bios)
    tails = rows["hard_text"].map(lambda text: " ".join(sentences(text)[1:][-2:]))
    assert not tails.str.contains(SUBJECT_PRONOUNS).any()
    assert rows["hard_text"].str.contains(SUBJECT_PRONOUNS).mean() > 0.9


def test_cues_a_classifier_can_learn_stay(big):
    # pronoun-counting gets the plain bios right and misses the hard cases, not everything
    sample = big.groupby("style").head(400)
    counts = np.array([count_gendered(text) for text in sample["hard_text"]])
    right = np.where(counts[:, 0] == counts[:, 1], -1, counts[:, 0] > counts[:, 1])
    accuracy = pd.Series(right == sample["gender"].to_numpy()).groupby(sample["style"].values)
    accuracy = accuracy.mean()
    assert accuracy["third_person"] > 0.95 and accuracy["title_only"] > 0.95
    assert accuracy["first_person"] < 0.7 and accuracy["name_only"] < 0.7
    # neutral first names exist, gendered ones dominate
    assert 0.03 < big["neutral_name"].mean() < 0.12


def test_name_templates_have_one_reference_to_the_subject():
    # "Mary received a degree", never "Mary received Mary's degree"
    assert all(_TABLE[i][1].subject_slots == 1 for i in _SUBJECT_NAME_IDS)


def test_cli_writes_one_split(tmp_path):
    out = tmp_path / "sample.parquet"
    result = run_module(
        "pipeline.commands.sample", tmp_path, str(out), "--rows", "40", "--seed", "9"
    )
    assert result.returncode == 0, result.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out), generate_split(40, seed=9))
