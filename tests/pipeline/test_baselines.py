"""The baselines: the pronoun rule and TF-IDF + logistic regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.lib import catalogue, paths
from pipeline.lib.baseline_predictors import BASELINES, predict_baseline, pronoun_rule_prob
from pipeline.lib.params import parse_key
from pipeline.lib.prediction_files import COLUMNS, read_predictions
from tests.conftest import demo_params, run_module


def test_pronoun_rule_by_hand():
    texts = pd.Series(
        ["She is a nurse; her husband is a dj.", "He and his team.", "I am a nurse.", "he her"]
    )
    prob = pronoun_rule_prob(texts, tie_prob=0.46)
    # (female + 1) / (female + male + 2): she, her vs husband -> 3/5; he, his -> 1/4; ties -> the
    # train share of women
    np.testing.assert_allclose(prob, [0.6, 0.25, 0.46, 0.46])
    # smoothing s: (female + s) / (female + male + 2s): (2 + 2) / (3 + 4), (0 + 2) / (2 + 4)
    np.testing.assert_allclose(pronoun_rule_prob(texts, 0.46, smoothing=2.0)[:2], [4 / 7, 2 / 6])


def test_every_catalogue_baseline_has_a_function():
    every = {
        name for task in catalogue.CATALOGUE_FILES for name in catalogue.names("baseline", task)
    }
    assert set(BASELINES) == every


def test_baselines_beat_chance_on_the_sample(tiny_study_template):
    train = pd.read_parquet(tiny_study_template / paths.split_path("train"))
    train = train.rename(columns={"gender_id": "label"})
    test = pd.read_parquet(tiny_study_template / paths.split_path("test"))
    params = parse_key(demo_params(), "baselines")
    out = {
        name: predict_baseline(name, train, {"test": test}, getattr(params, name))
        for name in catalogue.names("baseline")
    }
    accuracy = {
        name: float((frames["test"]["pred"].to_numpy() == test["gender_id"].to_numpy()).mean())
        for name, frames in out.items()
    }
    majority = max(test["gender_id"].mean(), 1 - test["gender_id"].mean())
    assert accuracy["pronoun_rule"] > 0.9  # pronouns give gender away (the hard cases do not)
    assert accuracy["tfidf_logreg"] > majority + 0.2
    assert list(out["tfidf_logreg"]["test"]["id"]) == list(test["id"])


def test_baselines_stage_needs_the_probes(tiny_study):
    result = run_module("pipeline.baselines", tiny_study, "pronoun_rule")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: data/probes/probes.parquet")


@pytest.mark.parametrize("baseline", catalogue.names("baseline"))
def test_baselines_stage_writes_test_and_probe_predictions(tiny_study, baseline):
    assert run_module("pipeline.probe", tiny_study).returncode == 0
    result = run_module("pipeline.baselines", tiny_study, baseline)
    assert result.returncode == 0, result.stderr
    test = pd.read_parquet(tiny_study / paths.split_path("test"))
    probes = pd.read_parquet(tiny_study / paths.PROBES_FILE)
    predictions = read_predictions(tiny_study / paths.predictions_path(baseline))
    assert tuple(predictions.columns) == COLUMNS
    assert list(predictions["id"]) == list(test["id"])
    on_probes = read_predictions(tiny_study / paths.probe_predictions_path(baseline))
    assert list(on_probes["id"]) == list(probes["id"])
