from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.gendered_words import count_gendered
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.synthetic_sample import (
    _SUBJECT_NAME_IDS,
    _TABLE,
    FAMILY_CUE_SHARE,
    LABEL_NOISE,
    MID_MENTION_SHARE,
    OCCUPATION_FAMILIES,
    PROFESSION_STATS,
    STYLE_WEIGHTS,
    STYLES,
    VOCAB,
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


# -- the occupation task


def test_gender_task_is_the_sample_of_the_gender_study():
    # sha256 of the CSV text of this sample as the generator made it before the occupation task
    # existed: the sample behind the gender study's committed outputs, byte for byte
    sample = generate_sample({"train": 300, "dev": 50, "test": 200}, 1234)
    digest = hashlib.sha256()
    for split, frame in sample.items():
        digest.update(split.encode())
        digest.update(frame.to_csv(index=False).encode())
    assert digest.hexdigest() == "3c3a00912515ac92ccd6c77c6800e20ce78996238f5eda2bdfebe7cb1b5386b6"
    pd.testing.assert_frame_equal(
        generate_split(300, seed=8, annotate=True),
        generate_split(300, seed=8, annotate=True, task="gender"),
    )


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="'profession' is not one of gender, occupation"):
        generate_split(10, seed=1, task="profession")


def test_occupation_task_changes_only_the_planted_texts():
    sizes = {"train": 3000, "test": 1000}
    gender = generate_sample(sizes, seed=21)
    occupation = generate_sample(sizes, seed=21, task="occupation")
    for split in sizes:
        # the same rows, labels and genders: only texts differ
        pd.testing.assert_frame_equal(
            occupation[split][["profession", "gender"]], gender[split][["profession", "gender"]]
        )
    annotated = generate_split(6000, seed=21, annotate=True, task="occupation")
    plain = generate_split(6000, seed=21, annotate=True)
    pd.testing.assert_frame_equal(
        annotated.drop(columns=["hard_text", "family_cues"]), plain.drop(columns="hard_text")
    )
    differs = annotated["hard_text"] != plain["hard_text"]
    planted = annotated["family_cues"]
    in_a_family = [PROFESSIONS.index(m) for ms, _ in OCCUPATION_FAMILIES.values() for m in ms]
    members = annotated["profession"].isin(in_a_family)
    assert not (differs & ~planted).any() and not (planted & ~members).any()
    assert within(planted[members].mean(), FAMILY_CUE_SHARE, members.sum())
    # all but the bios whose sentences have no field, work or place to replace
    assert differs[planted].mean() > 0.85
    assert FAMILY_CUE_SHARE * 0.85 < differs[members].mean() < FAMILY_CUE_SHARE


def _cue_words(phrases) -> set[str]:
    """The words of ``phrases`` but for the function words every kind of phrase needs."""
    words = set(re.findall(r"[a-z][a-z'-]+", " ".join(phrases).lower()))
    return words - {"a", "an", "and", "at", "for", "in", "into", "on", "the", "with"}


def test_family_cues_tell_the_family_not_the_member():
    named = [member for members, _ in OCCUPATION_FAMILIES.values() for member in members]
    assert len(named) == len(set(named)) and set(named) <= set(PROFESSIONS)
    for name, (members, cues) in OCCUPATION_FAMILIES.items():
        assert len(members) >= 2, name
        words = _cue_words(cues.field + cues.work + cues.place)
        for word in words:
            # a word of the family's cues is in every member's own cues or in none
            uses = {word in _cue_words(v.field + v.work + v.place) for v in map(VOCAB.get, members)}
            assert len(uses) == 1, (name, word)
    # and no planted bio carries a phrase of its family's members (a work phrase without its
    # verb, which changes with "they" and "I"; "English" is also a language of every bio)
    frame = generate_split(10_000, seed=4, annotate=True, task="occupation")
    templates = " ".join(template.text for _, template in _TABLE)
    for members, _ in OCCUPATION_FAMILIES.values():
        phrases = [
            phrase
            for member in members
            for phrase in VOCAB[member].field
            + VOCAB[member].place
            + tuple(work.split(" ", 1)[1] for work in VOCAB[member].work)
            if phrase not in templates
        ]
        planted = frame[
            frame["family_cues"]
            & frame["profession"].isin([PROFESSIONS.index(member) for member in members])
        ]
        assert len(planted) > 10
        pattern = "|".join(rf"\b{re.escape(phrase)}\b" for phrase in phrases)
        assert not planted["hard_text"].str.contains(pattern).any(), members
        # ... as most of the members' other bios do
        others = frame[
            ~frame["family_cues"]
            & frame["profession"].isin([PROFESSIONS.index(member) for member in members])
        ]
        assert others["hard_text"].str.contains(pattern).mean() > 0.5, members


def _proxy_effect(task: str, seed: int) -> tuple[float, float, float, int]:
    """De-Arteaga et al.'s proxy effect, measured on the sample of ``task`` and ``seed``.

    A TF-IDF (words and word pairs, min_df 2) + logistic regression occupation classifier
    trained on 3,000 bios and scored on 4,000: its accuracy; Pearson's r and p between each
    profession's TPR gap (women minus men) and its share of women in the train split, over the
    professions with at least 10 test bios of each gender; and the number of those professions.
    """
    from scipy.stats import pearsonr
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    sample = generate_sample({"train": 3000, "dev": 600, "test": 4000}, seed, task=task)
    train, test = sample["train"], sample["test"]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    model = LogisticRegression(max_iter=1000)
    # one BLAS thread: about 1 s a fit, where two threads took 6-10 s on a busy machine
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(vectorizer.fit_transform(train["hard_text"]), train["profession"])
        predicted = model.predict(vectorizer.transform(test["hard_text"]))
    right = pd.Series(predicted == test["profession"])
    by_group = right.groupby([test["profession"], test["gender"]]).agg(["mean", "size"])
    by_group = by_group.unstack("gender", fill_value=0)
    kept = by_group["size"].min(axis=1) >= 10
    tpr_gap = (by_group["mean"][1] - by_group["mean"][0])[kept]
    share_of_women = train.groupby("profession")["gender"].mean()[tpr_gap.index]
    r, p = pearsonr(share_of_women, tpr_gap)
    return float(right.mean()), float(r), float(p), int(kept.sum())


# Measured (3,000 train, 4,000 test bios): occupation task, seeds 1234 / 1235 / 1236: accuracy
# 0.705 / 0.712 / 0.698, r 0.80 / 0.81 / 0.84, p 7e-5 / 7e-5 / 3e-5, over 18 / 17 / 17
# professions (seeds 1234-1253: r 0.57-0.91, all 20 significant). The gender sample, scored the
# same way: accuracy 0.79, r 0.14 / 0.51 / 0.52, p 0.58 / 0.03 / 0.03 (a weaker effect from the
# few professions that are nearly all women or all men, e.g. nurse and surgeon; seeds 1234-1253:
# r 0.14-0.77, 12 of 20 significant, below the occupation task's r in all 20).
# The test scores 4,000 bios, not 2,000: with 2,000, only 12-13 professions reach 10 of each
# gender, all with shares of women between 0.13 and 0.65, and the noise of a TPR over 10-60 bios
# hides the effect in single seeds (r 0.54 / 0.36 / 0.43, p 0.07 / 0.25 / 0.14; seeds
# 1234-1253: mean r 0.65, 15 of 20 significant, against 0.31 and 4 of 20 for the gender sample).
@pytest.mark.parametrize("seed", [1234, 1235, 1236])
def test_occupation_task_shows_the_proxy_effect(seed):
    accuracy, r, p, professions = _proxy_effect("occupation", seed)
    assert 0.65 < accuracy < 0.85
    assert professions >= 15
    # strong, as on the real data (r about 0.88), and far above the gender sample's
    assert r > 0.7 and p < 0.05


def test_gender_sample_shows_no_proxy_effect_on_seed_1234():
    # the sample without the planting, on the seed where its own effect is weakest
    accuracy, r, p, professions = _proxy_effect("gender", 1234)
    assert 0.75 < accuracy < 0.85
    assert professions >= 15
    assert r < 0.3 and p > 0.05
