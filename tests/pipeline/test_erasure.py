"""LEACE erasure (pipeline/lib/erasure.py), the erase stage and the leace_head_only predictor."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy.stats import fisher_exact
from sklearn.linear_model import LogisticRegression
from statsmodels.stats.proportion import proportion_confint

from pipeline.lib import paths
from pipeline.lib.erasure import (
    ERASER_FILE,
    _leace_fitter,
    erase,
    erased_head,
    fit_eraser,
    gender_probe,
    load_eraser,
    save_eraser,
)
from pipeline.lib.errors import SuiteError
from tests.conftest import run_module

# The erase stage and a head behind its eraser, fast on the tiny study (1,500 train bios).
FAST_HEAD = {
    "learning_rate": 0.01,
    "warmup_ratio": 0.1,
    "max_steps": 40,
    "max_length": 96,
    "eval_steps": 20,
    "checkpoint_steps": 20,
}


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Representations whose first three features carry gender and the rest are noise.

    The noise features are made exactly uncorrelated (in these ``n`` rows) with gender and with
    the three gendered ones, so LEACE fitted on these rows must leave them as they are.
    """
    rng = np.random.default_rng(seed)
    z = (rng.random(n) < 0.4).astype(np.int64)
    gendered = rng.normal(size=(n, 3)) + np.outer(z, [2.0, -1.0, 0.5])
    noise = rng.normal(size=(n, 5))
    basis = np.column_stack([np.ones(n), z, gendered])
    noise -= basis @ np.linalg.lstsq(basis, noise, rcond=None)[0]  # orthogonal to all of them
    return np.column_stack([gendered, noise]), z


def test_leace_leaves_a_linear_probe_at_the_majority_rate_and_other_features_unchanged():
    (x, z), (x_test, z_test) = planted(3000, seed=0), planted(1000, seed=9)
    x, z = np.vstack([x, x_test]), np.concatenate([z, z_test])
    train, test = slice(0, 3000), slice(3000, None)
    tensors = fit_eraser(x[train], z[train])
    erased = erase(tensors, torch.as_tensor(x)).numpy()
    # The eraser is the package's own (an independent application of it agrees).
    reference = (
        _leace_fitter()
        .fit(torch.as_tensor(x[train]), torch.as_tensor(z[train, None].astype(np.float64)))
        .eraser
    )
    np.testing.assert_allclose(erased, reference(torch.as_tensor(x)).numpy(), atol=1e-5)
    # Features uncorrelated with gender (and with the gendered ones) do not move.
    np.testing.assert_allclose(erased[train, 3:], x[train, 3:], atol=1e-5)
    assert np.abs(erased[train, :3] - x[train, :3]).max() > 0.5
    # A linear probe (an independent logistic regression, no scaling) reads gender before...
    majority = float(np.mean(z[test] == 0))  # the train split's majority is male (z = 0)
    before = LogisticRegression(max_iter=1000).fit(x[train], z[train]).score(x[test], z[test])
    assert before > majority + 0.2
    # ...and after erasure is right as often as always answering the majority gender.
    after = gender_probe(erased[train], z[train], erased[test], c=1.0, max_iter=1000)
    correct = int(np.sum(after == z[test]))
    low, high = proportion_confint(correct, len(after), alpha=0.05, method="wilson")
    assert low <= majority <= high, (correct / len(after), majority)


def test_an_erased_head_reads_the_erased_representation(tiny_study_template):
    from pipeline.lib.model_loading import base_model_source, build_classifier, load_tokenizer

    name, revision = base_model_source(tiny_study_template / paths.BASE_MODEL_DIR)
    tokenizer = load_tokenizer(name, revision)
    torch.manual_seed(0)
    model = build_classifier(name, revision, tokenizer).eval()
    width = model.config.n_embd
    x, z = planted(500, seed=1)
    tensors = fit_eraser(np.tile(x, (1, width // x.shape[1] + 1))[:, :width], z)
    head = model.score
    erased_head(model, tensors)
    hidden = torch.randn(4, 7, width)
    with torch.no_grad():
        expected = (
            hidden - ((hidden - tensors["bias"]) @ tensors["proj_right"].T) @ tensors["proj_left"].T
        )
        torch.testing.assert_close(model.score(hidden), head(expected))
    # only the head's weight trains; the eraser is fixed
    assert [n for n, p in model.score.named_parameters()] == ["linear.weight"]


def test_an_unusable_eraser_file_is_one_line(tmp_path):
    with pytest.raises(SuiteError, match=r"no usable LEACE eraser.*dvc repro erase"):
        load_eraser(tmp_path)
    (tmp_path / ERASER_FILE).write_bytes(b"not safetensors")
    with pytest.raises(SuiteError, match="no usable LEACE eraser"):
        load_eraser(tmp_path)
    x, z = planted(300, seed=2)
    tensors = fit_eraser(x, z)
    save_eraser({**tensors, "bias": tensors["bias"][:-1]}, tmp_path)
    with pytest.raises(SuiteError, match="do not fit together"):
        load_eraser(tmp_path)
    with pytest.raises(SuiteError, match="two classes"):
        fit_eraser(x, np.zeros(len(x), dtype=np.int64))


@pytest.fixture(scope="module")
def erased_study(tmp_path_factory, tiny_study_template) -> Path:
    """The tiny study after the erase stage and one leace_head_only run (seed 0), predicted."""
    study = Path(shutil.copytree(tiny_study_template, tmp_path_factory.mktemp("e") / "study"))
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["leace_head_only"].update(FAST_HEAD)
    params["erase"]["max_length"] = FAST_HEAD["max_length"]
    (study / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # the three stages in one interpreter (tests/run_stages.py): torch and transformers load once
    result = run_module(
        "tests.run_stages",
        study,
        "python -m pipeline.erase",
        "python -m pipeline.train leace_head_only 0",
        "python -m pipeline.predict leace_head_only --seed 0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return study


def test_the_erase_stage_erases_gender_from_the_base_representation(erased_study):
    test = pd.read_parquet(erased_study / paths.split_path("test"))
    train = pd.read_parquet(erased_study / paths.split_path("train"))
    leakage = pd.read_parquet(erased_study / paths.leakage_path("base"))
    assert leakage["id"].tolist() == test["id"].tolist()
    assert leakage["gender_id"].tolist() == test["gender_id"].tolist()
    majority = int(train["gender_id"].mean() > 0.5)
    rate = float(np.mean(test["gender_id"] == majority))
    n = len(leakage)
    as_is = int(np.sum(leakage["pred"] == leakage["gender_id"]))
    erased = int(np.sum(leakage["pred_erased"] == leakage["gender_id"]))
    assert proportion_confint(as_is, n, alpha=0.05, method="wilson")[0] > rate
    low, high = proportion_confint(erased, n, alpha=0.05, method="wilson")
    assert low <= rate <= high, (erased / n, rate)


def test_the_leace_head_only_run_does_no_better_than_the_majority_rate(erased_study):
    run = erased_study / paths.trained_dir("leace_head_only", 0)
    # the run carries the erase stage's eraser, byte for byte: its folder is all predict reads
    assert (run / ERASER_FILE).read_bytes() == (
        erased_study / paths.eraser_dir("base") / ERASER_FILE
    ).read_bytes()
    test = pd.read_parquet(erased_study / paths.split_path("test"))
    train = pd.read_parquet(erased_study / paths.split_path("train"))
    predictions = pd.read_parquet(
        erased_study / paths.predictions_path(paths.run_name("leace_head_only", 0))
    )
    assert predictions["id"].tolist() == test["id"].tolist()
    pred, gender = predictions["pred"].to_numpy(), test["gender_id"].to_numpy()
    correct = int(np.sum(pred == gender))
    rate = float(np.mean(gender == int(train["gender_id"].mean() > 0.5)))
    # A linear head on a representation no linear classifier reads gender from: it cannot beat
    # the constant answer (a head still settling may do worse: that is no leak)...
    low, _ = proportion_confint(correct, len(test), alpha=0.05, method="wilson")
    assert low <= rate, (correct / len(test), rate)
    # ...and what it answers does not depend on the bio's gender.
    table = [[np.sum((gender == g) & (pred == p)) for p in (0, 1)] for g in (0, 1)]
    assert fisher_exact(table).pvalue > 0.01, table


def test_a_leace_head_only_run_needs_the_eraser_first(tiny_study):
    result = run_module("pipeline.train", tiny_study, "leace_head_only", "0")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert "models/erasers/base" in lines[-1] and "dvc repro erase" in lines[-1], lines[-3:]
