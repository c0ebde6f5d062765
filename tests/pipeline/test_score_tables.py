"""The score command's tables and JSON, built from an in-memory frame of scores (no model).

The end-to-end runs of the command on the demo's models are in ``test_score.py``.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.commands.score import COLUMNS, VARIANTS, render_json, render_text, seed_means
from pipeline.lib.labels import GENDERS

BIOS = ["She is a nurse.", "He is a surgeon."]
# P(female) of each predictor on bio 0 (original, swapped, removed): the seeds disagree on it,
# as the demo's three LoRA runs did on one bio (0.078 / 0.939 / 0.971).
PROBS = {
    "zero_shot": (0.9, 0.2, 0.5),
    "random_head": (0.4, 0.4, 0.4),
    "lora@seed1": (0.078, 0.1, 0.3),
    "lora@seed2": (0.939, 0.2, 0.6),
    "lora@seed3": (0.971, 0.3, 0.9),
    "tfidf_logreg": (0.8, 0.1, 0.5),
}


def scores(probs: dict[str, tuple[float, ...]] = PROBS) -> pd.DataFrame:
    """Both bios scored like :meth:`BioScorer.score`; bio 1 gets ``1 - p`` of bio 0."""
    rows = []
    for bio in range(len(BIOS)):
        for j, variant in enumerate(VARIANTS):
            for name, values in probs.items():
                prob = values[j] if bio == 0 else 1 - values[j]
                pred = int(prob >= 0.5)
                rows.append(
                    (bio, variant, f"{variant} {bio}", name, prob, pred, GENDERS[pred], False)
                )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_seed_means_average_the_runs_of_each_seeded_predictor():
    means = seed_means(scores()).set_index(["bio", "variant"])
    assert set(means["predictor"]) == {"lora"} and set(means["n_seeds"]) == {3}
    original = means.loc[(0, "original")]
    assert original["prob_female"] == pytest.approx((0.078 + 0.939 + 0.971) / 3)
    assert (original["pred"], original["label"]) == (1, "female")
    removed = means.loc[(1, "removed")]  # 1 - (0.3, 0.6, 0.9): mean 0.4, male
    assert removed["prob_female"] == pytest.approx(0.4)
    assert (removed["pred"], removed["label"]) == (0, "male")


def test_one_seed_or_none_has_no_mean():
    one_seed = {k: v for k, v in PROBS.items() if k in ("zero_shot", "lora@seed1")}
    assert seed_means(scores(one_seed)).empty
    no_seed = {k: v for k, v in PROBS.items() if "@seed" not in k}
    assert seed_means(scores(no_seed)).empty
    assert seed_means(pd.DataFrame(columns=list(COLUMNS))).empty


def test_the_table_has_a_mean_row_after_the_seeds_saying_it_is_not_a_model():
    text = render_text(scores(), BIOS)
    lines = text.splitlines()
    mean_rows = [n for n, line in enumerate(lines) if "lora: mean over seeds" in line]
    assert len(mean_rows) == len(BIOS)  # one per bio
    first = lines[mean_rows[0]]
    assert lines[mean_rows[0] - 1].lstrip().startswith("lora@seed3")
    assert "0.663 female" in first and "not a model" in first and "3 seeds" in first
    reference = next(line for line in lines if line.lstrip().startswith("random_head"))
    assert reference.endswith("(untrained reference)")
    # the columns stay aligned: every row of a bio's table starts its cells at one column
    table = [line for line in lines[: mean_rows[0] + 1] if line.startswith("  ") and "0." in line]
    assert len({line.index("0.") for line in table}) == 1


def test_json_marks_references_and_keeps_seed_means_apart():
    (first, second) = json.loads(render_json(scores(), BIOS))
    predictions = first["predictions"]
    assert set(predictions) == set(PROBS)  # only predictors: no mean among them
    for name, by_variant in predictions.items():
        assert set(by_variant) == set(VARIANTS)
        assert {entry["reference"] for entry in by_variant.values()} == {name == "random_head"}
    mean = first["seed_means"]["lora"]
    assert set(mean) == set(VARIANTS)
    assert mean["original"]["prob_female"] == pytest.approx(0.662666, abs=1e-6)
    assert mean["original"]["n_seeds"] == 3 and mean["original"]["label"] == "female"
    assert second["seed_means"]["lora"]["original"]["label"] == "male"
    no_seed = {k: v for k, v in PROBS.items() if "@seed" not in k}
    assert all(bio["seed_means"] == {} for bio in json.loads(render_json(scores(no_seed), BIOS)))
