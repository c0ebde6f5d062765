"""Counterfactual probes: swapping and removing gendered words, and the probe stage."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.lib import paths
from pipeline.lib.gendered_words import count_gendered, remove_gender, swap_gender
from pipeline.probe import choose_bios, make_probes
from tests.conftest import run_module


@pytest.mark.parametrize(
    ("text", "swapped"),
    [
        ("He is a nurse.", "She is a nurse."),
        ("SHE said HER work", "HE said HIS work"),
        ("In his free time, he enjoys running.", "In her free time, she enjoys running."),
        ("He considers himself lucky.", "She considers herself lucky."),
        ("Mr. Smith and his wife.", "Ms. Smith and her husband."),
        ("Mrs. Lee lives with her two daughters.", "Mr. Lee lives with his two sons."),
        ("She's a mother of one son.", "He's a father of one daughter."),
        # the her ambiguity: determiner -> his, object -> him
        ("You can reach her through her website.", "You can reach him through his website."),
        ("Colleagues describe her as patient.", "Colleagues describe him as patient."),
        ("He thanked her.", "She thanked him."),
        ("They gave her the award for her own book.", "They gave him the award for his own book."),
        ("Let her work.", "Let him work."),
        ("The idea was his, not hers.", "The idea was hers, not his."),
        # names, neutral words and look-alikes stay
        (
            "Mary Smith is a therapist; I miss the theme.",
            "Mary Smith is a therapist; I miss the theme.",
        ),
    ],
)
def test_swap_gender_hand_examples(text, swapped):
    assert swap_gender(text)[0] == swapped


def test_swap_counts_replacements_and_round_trips():
    text = "She lives with her husband. Colleagues describe her as kind."
    swapped, count = swap_gender(text)
    assert count == 4
    assert swap_gender(swapped)[0] == text


@pytest.mark.parametrize(
    ("text", "removed"),
    [
        ("She is passionate about her work.", "They are passionate about their work."),
        ("He also teaches and he studies birds.", "They also teach and they study birds."),
        ("You can reach him through his website.", "You can reach them through their website."),
        ("Ms. Tanaka supervises students.", "Tanaka supervises students."),
        ("He lives with his wife and two sons.", "They live with their spouse and two children."),
        ("She's been a female surgeon.", "They've been a surgeon."),
        ("The book is hers.", "The book is theirs."),
        ("Jordan Lee works in Boston.", "Jordan Lee works in Boston."),
        ("She is female. He is male, and kind.", "They are. They are, and kind."),
        ("Female surgeons: she said.", "Surgeons: they said."),
    ],
)
def test_remove_gender_hand_examples(text, removed):
    assert remove_gender(text)[0] == removed


def test_removed_text_has_no_gendered_word_left():
    text = "Mr. Smith: he, his, him, himself; his wife, her son, their mother. She's great."
    removed, _ = remove_gender(text)
    assert count_gendered(removed) == (0, 0)


def test_count_gendered():
    assert count_gendered("She said her husband and he agreed.") == (2, 2)
    assert count_gendered("Miss Daisy, please don't miss it. Mr. Bean.") == (1, 1)
    assert count_gendered("I work as an engineer.") == (0, 0)


def test_make_probes_schema_and_labels():
    test = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text": ["She is a nurse.", "I am a nurse.", "He is a dj."],
            "gender_id": [1, 0, 0],
        }
    )
    probes = make_probes(test)
    assert list(probes.columns) == [
        "id",
        "source_id",
        "variant",
        "text",
        "expected_gender_id",
        "n_replaced",
    ]
    assert list(probes["id"]) == ["a::swapped", "a::removed", "c::swapped", "c::removed"]
    assert probes["id"].is_unique
    assert list(probes["expected_gender_id"]) == [0, 1, 1, 0]  # swapped flips, removed keeps
    assert probes.loc[2, "text"] == "She is a dj."


def test_choose_bios_is_seeded_and_keeps_split_order():
    test = pd.DataFrame({"id": [str(i) for i in range(100)]})
    first = choose_bios(test, 10, seed=3)
    assert list(first["id"]) == list(choose_bios(test, 10, seed=3)["id"])
    assert list(first.index) == sorted(first.index)
    assert len(choose_bios(test, None, seed=3)) == 100


def test_probe_stage_writes_probes(tiny_study):
    result = run_module("pipeline.probe", tiny_study)
    assert result.returncode == 0, result.stderr
    probes = pd.read_parquet(tiny_study / paths.PROBES_FILE)
    test = pd.read_parquet(tiny_study / paths.split_path("test"))
    assert set(probes["source_id"]) <= set(test["id"])
    assert set(probes["variant"]) == {"swapped", "removed"}
    assert len(probes) > len(test)  # nearly every synthetic bio has pronouns
