"""The report's sentences for planted inputs: a reference, a one-class predictor, no gaps, a NaN.

The analysis runs on a small planted test split (no model), and the report is rendered from its
result, so every sentence checked here is one a reader would see.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.analyze import analyze
from analysis.report import render_report
from analysis.verdicts import probe_verdict
from pipeline.lib.labels import GENDERS, PROFESSIONS
from pipeline.lib.params import parse_key
from pipeline.lib.prediction_files import predictions_frame
from tests.conftest import demo_params

# (profession id, women, men): nurse has no men, so its gap is NaN and only two professions
# carry a gap, too few for the proxy-bias correlation.
CELLS = ((0, 20, 20), (13, 20, 0), (25, 20, 20))
TINY_MODEL = {"source": "tiny", "n_layer": 2, "n_embd": 128, "parameters": 1_234_567}


def planted_test() -> pd.DataFrame:
    rows = []
    for profession, women, men in CELLS:
        rows += [(profession, 1)] * women + [(profession, 0)] * men
    frame = pd.DataFrame(rows, columns=["profession_id", "gender_id"])
    frame.insert(0, "id", [f"t{i:03d}" for i in range(len(frame))])
    frame["profession"] = [PROFESSIONS[i] for i in frame["profession_id"]]
    frame["gender"] = [GENDERS[g] for g in frame["gender_id"]]
    frame["text"] = "a bio"
    return frame


@pytest.fixture(scope="module")
def report() -> str:
    test = planted_test()
    y = test["gender_id"].to_numpy()
    rng = np.random.default_rng(0)
    probs = {
        "zero_shot": np.full(len(y), 0.2),  # "male" for every bio
        "random_head": rng.uniform(0.3, 0.7, len(y)),  # the untrained reference
        "lora": np.where(y == 1, 0.9, 0.1),  # always right: no gap anywhere
    }
    predictions = {
        name: predictions_frame(test["id"], prob, predictor=name, model=name, params_hash="x")
        for name, prob in probs.items()
    }
    share = pd.Series(np.linspace(0.1, 0.9, len(PROFESSIONS)), index=range(len(PROFESSIONS)))
    params = parse_key(
        demo_params({"analyze": {"bootstrap_resamples": 50, "min_group_size": 10}}), "analyze"
    )
    result = analyze(
        test,
        predictions,
        share,
        params,
        seed=0,
        data={"source": "local", "synthetic": False},
        models={"zero_shot": TINY_MODEL, "random_head": TINY_MODEL, "lora": TINY_MODEL},
    )
    return render_report(result, params)


def test_the_reference_takes_an_article_that_fits(report):
    assert "an untrained reference" in report
    assert "a untrained" not in report


def test_a_one_class_predictor_is_flagged_and_only_it(report):
    warnings = [line for line in report.splitlines() if line.startswith("> **Warning")]
    assert warnings == [
        "> **Warning, zero_shot:** It answers 'male' for every test bio (100 of 100, 100.0%; "
        "analyze.one_class_share = 0.95): its accuracy mostly counts the male bios of the test "
        "split, it does not show that it reads them."
    ]


def test_no_gaps_and_an_incomputable_proxy_say_why(report):
    lora = report.split("**lora**")[1].split("\n\n")[1]
    assert lora == "- no profession with at least 10 bios of each gender has a significant gap"
    assert (
        "- lora: Not computable: only 2 professions with at least 10 test bios of each gender, "
        "and a correlation needs at least 3." in report
    )


def test_no_raw_nan_reaches_the_text(report):
    assert not re.search(r"\bnan\b", report, flags=re.IGNORECASE), report


def test_the_toy_model_is_named_where_it_is_used(report):
    notice = next(line for line in report.splitlines() if "TOY MODEL" in line)
    assert notice.startswith("> **TOY MODEL: zero_shot, random_head, lora start from the tiny")
    assert "2 layers, width 128, 1.23M parameters" in notice


def test_a_probe_interval_across_half_is_not_called_about_half():
    swapped = {"flip_rate": 2 / 3, "flip_ci_low": 0.21, "flip_ci_high": 0.94}
    sentence = probe_verdict(swapped, None, 0.95)
    assert "about half" not in sentence
    assert sentence.startswith("Swapping the gendered words flips 66.7% (21.0 to 94.0)")
    assert "the interval includes 50%, so these bios cannot tell" in sentence


def test_the_report_opens_with_the_primary_verdict_before_any_table(report):
    lines = report.splitlines()
    first = next(line for line in lines[1:] if line)
    assert first.startswith("**No significant difference") or first.startswith("**lora")
    assert "zero_shot" in first and "lora" in first
    assert lines.index(first) < min(i for i, line in enumerate(lines) if line.startswith("|"))
