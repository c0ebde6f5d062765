"""The analyze stage end to end on a prepared tiny study, with baseline and synthetic predictions.

No model runs: zero_shot, random_head and lora predictions are synthetic files with planted
properties (lora: accurate but guessing from the profession on a share of bios, a planted proxy
bias; random_head: chance).
"""

from __future__ import annotations

import json
import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.analyze import analyze, train_share_women
from analysis.metrics import METRICS
from analysis.table_builders import small_cells
from pipeline.lib import catalogue, contract, paths
from pipeline.lib.baseline_predictors import BASELINES, predict_baseline
from pipeline.lib.io import write_parquet
from pipeline.lib.params import parse_key
from pipeline.lib.prediction_files import predictions_frame, write_predictions
from pipeline.probe import make_probes
from tests.conftest import demo_params, run_module

# What populate() writes: three model predictors and every baseline (no head-only model here)
PREDICTORS = tuple(
    n for n in catalogue.names() if n in ("zero_shot", "random_head", "lora", *BASELINES)
)

META = {"stage": "test"}


def synthetic(ids, prob, name):
    return predictions_frame(ids, prob, predictor=name, model=f"synthetic {name}", params_hash="x")


def populate(study: Path) -> None:
    """Probes, both baselines and three synthetic model predictors, written in the schema."""
    test = pd.read_parquet(study / paths.split_path("test"))
    train = pd.read_parquet(study / paths.split_path("train"))
    train = train.rename(columns={"gender_id": "label"})
    probes = make_probes(test)
    write_parquet(probes, study / paths.PROBES_FILE)
    params = parse_key(demo_params(), "baselines")
    for name in catalogue.names("baseline"):
        frames = predict_baseline(
            name, train, {"test": test, "probes": probes}, getattr(params, name)
        )
        write_predictions(frames["test"], study / paths.predictions_path(name), META)
        write_predictions(frames["probes"], study / paths.probe_predictions_path(name), META)
    rng = np.random.default_rng(0)
    y = test["gender_id"].to_numpy()
    share = train_share_women(json.loads((study / paths.PROFILE).read_text()))
    share_of_bio = share.reindex(test["profession_id"]).to_numpy()
    # lora: right unless it guesses from the profession (60% of bios): a planted proxy bias
    guess = rng.uniform(size=len(y)) < 0.6
    by_profession = (rng.uniform(size=len(y)) < share_of_bio).astype(int)
    lora_label = np.where(guess, by_profession, y)
    lora_prob = np.clip(np.where(lora_label == 1, 0.9, 0.1) + rng.normal(0, 0.05, len(y)), 0, 1)
    zero_shot = np.clip(0.3 * y + rng.uniform(0.2, 0.6, len(y)), 0, 1)
    random_head = rng.uniform(0.45, 0.55, len(y))
    for name, prob in (("zero_shot", zero_shot), ("random_head", random_head), ("lora", lora_prob)):
        write_predictions(
            synthetic(test["id"], prob, name), study / paths.predictions_path(name), META
        )
    # lora on the probes: follows the gendered words (the expected label) 90% of the time
    expected = probes["expected_gender_id"].to_numpy()
    follows = rng.uniform(size=len(probes)) < 0.9
    probe_prob = np.where(np.where(follows, expected, 1 - expected) == 1, 0.8, 0.2)
    write_predictions(
        synthetic(probes["id"], probe_prob, "lora"),
        study / paths.probe_predictions_path("lora"),
        META,
    )


@pytest.fixture(scope="module")
def populated_template(tmp_path_factory, tiny_study_template) -> Path:
    study = Path(shutil.copytree(tiny_study_template, tmp_path_factory.mktemp("an") / "study"))
    params = yaml.safe_load((study / "params.yaml").read_text())
    # 400 test bios: with 3 bios of each gender a cell carries a gap, and 12 professions have
    # that; the planted proxy bias is tested on them (at 10 only 3 professions would be left).
    params["analyze"].update(bootstrap_resamples=300, min_group_size=3)
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    populate(study)
    return study


@pytest.fixture(scope="module")
def analyzed(populated_template, tmp_path_factory) -> Path:
    study = Path(shutil.copytree(populated_template, tmp_path_factory.mktemp("done") / "study"))
    result = run_module("analysis.analyze", study)
    assert result.returncode == 0, result.stderr
    return study


@pytest.fixture
def study(populated_template, tmp_path) -> Path:
    return Path(shutil.copytree(populated_template, tmp_path / "study"))


def table(study: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(study / contract.TABLES[name].file())


def test_every_contract_file_and_column(analyzed):
    # The columns the dashboard reads (pipeline.lib.contract.TABLES), in their order.
    for name in contract.ANALYSIS_TABLES:
        columns = contract.TABLES[name].columns
        frame = table(analyzed, name)
        # this study's lora is one unseeded file: the tables across seeds have no rows; and no
        # erase stage ran in it: no leakage file, no leakage rows
        empty = ("procedure", "seeds", "seed_gaps", "seed_proxy", "leakage")
        assert frame.empty == (name in empty), name
        assert tuple(frame.columns) == columns, name
    assert (analyzed / paths.ANALYSIS_REPORT).is_file()
    for plot in contract.PLOTS:
        for predictor in PREDICTORS:
            assert (analyzed / paths.analysis_plot_path(plot, predictor)).is_file()


def test_metrics_and_summary_match_the_tables(analyzed):
    metrics = json.loads((analyzed / paths.ANALYSIS_METRICS).read_text())
    summary = json.loads((analyzed / paths.ANALYSIS_SUMMARY).read_text())
    test = pd.read_parquet(analyzed / paths.split_path("test"))
    assert summary["data"] == {"source": "sample", "synthetic": True, "n_test": len(test)}
    assert catalogue.order(list(summary["predictors"])) == list(PREDICTORS)
    assert summary["predictors"]["random_head"]["reference"] is True
    assert "untrained reference" in summary["predictors"]["random_head"]["label"]
    assert summary["run"]["seeds"] == {"seeds.bootstrap": 0, "seeds.train": [0]}
    # metrics.json: the headline numbers only, equal to the tables
    assert set(metrics) == {*PREDICTORS, "primary"}
    overall = table(analyzed, "overall").set_index(["predictor", "metric"])
    proxy = table(analyzed, "proxy").set_index("predictor")
    probes = table(analyzed, "probes").query("profession == 'all'")
    for name in PREDICTORS:
        entry = metrics[name]
        for spec in METRICS:
            assert entry[spec.name] == pytest.approx(overall.loc[(name, spec.name), "value"])
        assert entry["accuracy_ci_low"] == pytest.approx(overall.loc[(name, "accuracy"), "ci_low"])
        assert entry["proxy_r"] == pytest.approx(proxy.loc[name, "pearson_r"])
        flips = probes[probes["predictor"] == name].set_index("variant")["flip_rate"]
        for variant, rate in flips.items():
            assert entry[f"flip_rate_{variant}"] == pytest.approx(rate)
    pairs = table(analyzed, "pairs").set_index(["predictor_a", "predictor_b"])
    assert len(pairs) == len(list(combinations(PREDICTORS, 2)))
    row = pairs.loc[("zero_shot", "lora")]  # analyze.primary, in its order
    assert row["family"] == "primary"
    assert summary["settings"]["primary"] == ["zero_shot", "lora"]
    assert metrics["primary"]["acc_diff"] == pytest.approx(row["acc_b"] - row["acc_a"])
    assert metrics["primary"]["p_value"] == pytest.approx(row["p_value"])
    # flat enough for `dvc exp show`: a handful of numbers per predictor
    assert sum(len(entry) for entry in metrics.values()) < 60


def test_rates_match_a_direct_join_by_id(analyzed):
    test = pd.read_parquet(analyzed / paths.split_path("test"))
    groups = table(analyzed, "groups")
    for predictor in ("lora", "pronoun_rule"):
        pred = pd.read_parquet(analyzed / paths.predictions_path(predictor))
        joined = test.merge(pred, on="id", validate="one_to_one")
        direct = (
            joined.assign(wrong=joined["pred"] != joined["gender_id"])
            .groupby(["profession_id", "gender"])["wrong"]
            .agg(["size", "sum", "mean"])
        )
        mine = groups[groups["predictor"] == predictor].set_index(["profession_id", "gender"])
        mine = mine.loc[direct.index]
        np.testing.assert_array_equal(mine["n"], direct["size"])
        np.testing.assert_array_equal(mine["errors"], direct["sum"])
        np.testing.assert_allclose(mine["error_rate"], direct["mean"])
        accuracy = (joined["pred"] == joined["gender_id"]).mean()
        overall = table(analyzed, "overall").set_index(["predictor", "metric"])
        assert overall.loc[(predictor, "accuracy"), "value"] == pytest.approx(accuracy)


def test_planted_findings_show_up(analyzed):
    proxy = table(analyzed, "proxy").set_index("predictor")
    assert proxy.loc["lora", "pearson_r"] > 0.4 and proxy.loc["lora", "slope"] > 0
    # over the professions with analyze.min_group_size bios of each gender only, recomputed
    from scipy.stats import pearsonr

    gaps = table(analyzed, "gaps").query("predictor == 'lora'")
    eligible = gaps[~gaps["small"].astype(bool)]
    r, p_value = pearsonr(eligible["share_women"], eligible["gap"])
    assert proxy.loc["lora", "n_professions"] == len(eligible) < len(gaps)
    assert proxy.loc["lora", "pearson_r"] == pytest.approx(r)
    assert proxy.loc["lora", "pearson_p"] == pytest.approx(p_value)
    assert proxy.loc["lora", "pearson_p"] < 0.01  # the planted proxy bias is found
    overall = table(analyzed, "overall").set_index(["predictor", "metric"])
    assert overall.loc[("random_head", "roc_auc"), "value"] == pytest.approx(0.5, abs=0.1)
    lora_low = overall.loc[("lora", "accuracy"), "ci_low"]
    assert lora_low > overall.loc[("random_head", "accuracy"), "ci_high"]
    probes = table(analyzed, "probes")
    everyone = probes[probes["profession"] == "all"].set_index(["predictor", "variant"])
    assert set(everyone.index.get_level_values(0)) == {"lora", "pronoun_rule", "tfidf_logreg"}
    assert everyone.loc[("pronoun_rule", "swapped"), "flip_rate"] > 0.95
    assert everyone.loc[("lora", "swapped"), "accuracy"] == pytest.approx(0.9, abs=0.05)
    report = (analyzed / paths.ANALYSIS_REPORT).read_text()
    assert "SYNTHETIC DATA" in report and "untrained classification head" in report
    assert " is more accurate than " in report
    assert "Stereotype-consistent" in report.split("- lora:")[1].splitlines()[0]
    pairs = table(analyzed, "pairs")
    assert set(pairs.loc[pairs["family"] == "reference", "predictor_b"]) | set(
        pairs.loc[pairs["family"] == "reference", "predictor_a"]
    ) >= {"random_head"}


def test_join_is_by_id_not_position_and_output_is_reproducible(analyzed, study):
    for path in sorted((study / paths.PREDICTIONS_DIR).glob("*.parquet")):
        frame = pd.read_parquet(path)
        shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
        write_predictions(shuffled, path, META)
    result = run_module("analysis.analyze", study)
    assert result.returncode == 0, result.stderr
    for name in contract.ANALYSIS_TABLES:
        assert (study / contract.TABLES[name].file()).read_bytes() == (
            analyzed / contract.TABLES[name].file()
        ).read_bytes(), name
    assert (study / paths.ANALYSIS_REPORT).read_bytes() == (
        analyzed / paths.ANALYSIS_REPORT
    ).read_bytes()


def error_line(result) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_id_mismatch_is_one_clear_line(study):
    path = study / paths.predictions_path("lora")
    frame = pd.read_parquet(path)
    write_predictions(frame.iloc[1:], path, META)
    line = error_line(run_module("analysis.analyze", study))
    assert "results/predictions/lora.parquet" in line and "1 ids of the split missing" in line
    frame.loc[0, "id"] = "not-a-test-id"
    write_predictions(frame, path, META)
    line = error_line(run_module("analysis.analyze", study))
    assert "1 ids not in the split (e.g. 'not-a-test-id')" in line


def test_missing_inputs_are_one_clear_line(study):
    (study / paths.PROBES_FILE).unlink()
    line = error_line(run_module("analysis.analyze", study))
    assert "probes.parquet is missing" in line
    shutil.rmtree(study / paths.PREDICTIONS_DIR)
    line = error_line(run_module("analysis.analyze", study))
    assert "no predictions in results/predictions" in line


def test_bad_params_are_one_clear_line(study):
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["analyze"]["confidence"] = 1.5
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    line = error_line(run_module("analysis.analyze", study))
    assert "analyze.confidence = 1.5" in line


def test_a_profession_without_test_bios_is_skipped_with_a_warning(populated_template, caplog):
    test = pd.read_parquet(populated_template / paths.split_path("test"))
    keep = test["profession"] != "nurse"
    profile = json.loads((populated_template / paths.PROFILE).read_text())
    predictions = {
        name: pd.read_parquet(populated_template / paths.predictions_path(name))
        .set_index("id")
        .loc[test["id"][keep]]
        .reset_index()
        for name in ("lora", "pronoun_rule")
    }
    result = analyze(
        test[keep].reset_index(drop=True),
        predictions,
        train_share_women(profile),
        parse_key(demo_params({"analyze": {"bootstrap_resamples": 50}}), "analyze"),
        seed=0,
        data=profile,
    )
    assert "nurse" not in set(result.gaps["profession"])
    assert "nurse" in caplog.text and "skipped" in caplog.text
    assert any("nurse" in note for note in result.notes)


def planted_gaps() -> tuple[pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    """Accountant: 150 women and 150 men, women right half the time (a strong gap of -0.5);
    dj: 1 woman and 1 man (a gap of +-1 from two bios); nurse: 120 + 120 bios, no gap."""
    rows = (
        [("accountant", 1, i < 75) for i in range(150)]
        + [("accountant", 0, True)] * 150
        + [("dj", 1, True), ("dj", 0, False)]
        + [("nurse", g, i % 10 != 0) for g in (0, 1) for i in range(120)]
    )
    from pipeline.lib.labels import PROFESSIONS

    test = pd.DataFrame(
        {
            "id": [f"b{i}" for i in range(len(rows))],
            "profession": [r[0] for r in rows],
            "profession_id": [PROFESSIONS.index(r[0]) for r in rows],
            "gender_id": [r[1] for r in rows],
        }
    )
    right = np.array([r[2] for r in rows])
    pred = np.where(right, test["gender_id"], 1 - test["gender_id"])
    predictions = {
        name: synthetic(test["id"], np.where(pred == 1, 0.9, 0.1), name)
        for name in ("zero_shot", "lora")
    }
    shares = pd.Series(
        {PROFESSIONS.index(p): s for p, s in (("accountant", 0.37), ("dj", 0.14), ("nurse", 0.91))}
    )
    return test, predictions, shares


def test_largest_gaps_are_ranked_by_evidence_and_small_cells_listed_apart_once():
    from analysis.report import render_report

    test, predictions, shares = planted_gaps()
    params = parse_key(
        demo_params({"analyze": {"bootstrap_resamples": 50, "min_group_size": 10}}), "analyze"
    )
    result = analyze(test, predictions, shares, params, seed=0, data={"source": "sample"})
    gaps = result.gaps[result.gaps["predictor"] == "lora"].set_index("profession")
    assert abs(gaps.loc["dj", "gap"]) == 1 > abs(gaps.loc["accountant", "gap"])
    report = render_report(result, params)
    section = report.split("## Where the gender gaps are")[1].split("## Proxy bias")[0]
    lora = section.split("**lora**")[1].split("**")[0]
    listed = [line for line in lora.splitlines() if line.startswith("- ")]
    # the strong, well-measured gap is listed; the two-bio "gap" of 1.000 is not among them
    assert listed[0].startswith("- accountant: gap -0.500") and "significant" in listed[0]
    assert not any(line.startswith("- dj") for line in listed)
    assert not any(line.startswith("- nurse") for line in listed)  # no significant gap there
    # small cells: counted once per profession x gender (not once per predictor)
    assert small_cells(test, 10) == {
        "with_bios": 6,
        "small": 2,
        "small_cells": [
            {"profession": "dj", "gender": "male", "n": 1},
            {"profession": "dj", "gender": "female", "n": 1},
        ],
    }
    assert "Too few bios to rank (under 10 of a gender; 2 of the 6 profession x gender" in section
    assert "dj (male: 1), dj (female: 1)" in section
    notes = " ".join(result.notes)
    assert "2 of the 6 profession x gender cells with test bios have fewer than 10" in notes


def seeded_predictions(test: pd.DataFrame, seeds: list[int]) -> dict[str, pd.DataFrame]:
    """zero_shot right on 70% of the bios; each seed's LoRA run on 85-92%, seeded apart."""
    y = test["gender_id"].to_numpy()
    rng = np.random.default_rng(1)
    out = {}
    for name, accuracy in [("zero_shot", 0.7)] + [
        (paths.run_name("lora", s), 0.85 + 0.02 * i) for i, s in enumerate(seeds)
    ]:
        pred = np.where(rng.uniform(size=len(y)) < accuracy, y, 1 - y)
        out[name] = synthetic(test["id"], np.where(pred == 1, 0.9, 0.1), name)
    return out


def test_seeded_runs_give_the_procedure_level_comparison_first():
    from analysis.report import render_report

    test, _, shares = planted_gaps()
    params = parse_key(demo_params({"analyze": {"bootstrap_resamples": 200}}), "analyze")
    predictions = seeded_predictions(test, [5, 6, 7])
    result = analyze(test, predictions, shares, params, seed=0, data={"source": "sample"})
    y = test["gender_id"].to_numpy()
    accuracy = {n: float((f["pred"].to_numpy() == y).mean()) for n, f in predictions.items()}
    runs = [paths.run_name("lora", s) for s in (5, 6, 7)]
    row = result.procedure.iloc[0]
    assert row["n_seeds"] == 3
    assert row["acc_diff"] == pytest.approx(
        np.mean([accuracy[r] for r in runs]) - accuracy["zero_shot"], abs=1e-12
    )
    primary = result.pairs[result.pairs["family"] == "primary"]
    assert list(primary["predictor_b"]) == runs  # one McNemar test per seed, Holm across them
    assert row["seeds_significant"] == int(primary["significant"].astype(bool).sum())
    # two seeds of one procedure are never compared with each other
    pairs = set(zip(result.pairs["predictor_a"], result.pairs["predictor_b"], strict=True))
    assert not any(a in runs and b in runs for a, b in pairs)
    spread = result.seeds.set_index(["predictor", "metric"])
    assert spread.loc[("lora", "accuracy"), "mean"] == pytest.approx(
        np.mean([accuracy[r] for r in runs])
    )
    assert spread.loc[("lora", "accuracy"), "sd"] == pytest.approx(
        np.std([accuracy[r] for r in runs], ddof=1)
    )
    assert set(result.seed_gaps["profession"]) == {"accountant", "dj", "nurse"}
    report = render_report(result, params)
    primary_section = report.split("## The primary comparison")[1].split("## Secondary")[0]
    # the procedure-level sentence first, then the per-seed count
    assert primary_section.index(row["verdict"]) < primary_section.index(primary.iloc[0]["verdict"])
    assert f"significant in {row['seeds_significant']} of 3 seeds" in row["verdict"]
    assert result.metrics["primary"]["n_seeds"] == 3
    assert result.metrics["lora"]["accuracy_mean"] == pytest.approx(
        spread.loc[("lora", "accuracy"), "mean"]
    )


def test_one_seed_is_the_paired_comparison_and_says_seed_variance_was_not_measured():
    test, _, shares = planted_gaps()
    params = parse_key(demo_params({"analyze": {"bootstrap_resamples": 100}}), "analyze")
    result = analyze(
        test, seeded_predictions(test, [5]), shares, params, seed=0, data={"source": "sample"}
    )
    row = result.procedure.iloc[0]
    pair = result.pairs[result.pairs["family"] == "primary"].iloc[0]
    assert row["n_seeds"] == 1 and row["sd_seeds"] == 0
    assert (row["p_value"], row["diff_ci_low"], row["diff_ci_high"]) == (
        pair["p_value"],
        pair["diff_ci_low"],
        pair["diff_ci_high"],
    )
    assert row["verdict"].startswith(pair["verdict"])
    assert "Seed variance was not measured" in row["verdict"]
    assert result.metrics["primary"]["p_value"] == pytest.approx(pair["p_value"])


def planted_bios(rows: list[tuple[str, int]]) -> pd.DataFrame:
    """A test split of (profession name, gender id) rows: ids b0, b1, ... in that order."""
    from pipeline.lib.labels import PROFESSIONS

    return pd.DataFrame(
        {
            "id": [f"b{i}" for i in range(len(rows))],
            "profession": [p for p, _ in rows],
            "profession_id": [PROFESSIONS.index(p) for p, _ in rows],
            "gender_id": [g for _, g in rows],
        }
    )


def test_the_proxy_sentence_counts_the_professions_it_says_it_counts():
    from pipeline.lib.labels import PROFESSIONS

    # 6 professions, 5 women and 5 men each: every one has both genders, none 30 of each
    names = ("accountant", "dj", "nurse", "surgeon", "poet", "rapper")
    rows = [(p, g) for p in names for g in (0, 1) for _ in range(5)]
    test = planted_bios(rows)
    y = test["gender_id"].to_numpy()
    predictions = {
        name: synthetic(test["id"], np.where(y == 1, 0.8, 0.2), name)
        for name in ("zero_shot", "lora")
    }
    shares = pd.Series({PROFESSIONS.index(p): 0.1 + 0.15 * i for i, p in enumerate(names)})
    for size, n_large in ((30, 0), (5, 6)):
        params = parse_key(
            demo_params({"analyze": {"bootstrap_resamples": 20, "min_group_size": size}}),
            "analyze",
        )
        result = analyze(test, predictions, shares, params, seed=0, data={"source": "sample"})
        proxy = result.proxy.set_index("predictor").loc["lora"]
        assert proxy["n_professions"] == n_large
        if n_large == 0:
            assert proxy["verdict"] == (
                "Not computable: only 0 professions with at least 30 test bios of each gender "
                "(6 with test bios of both genders), and a correlation needs at least 3."
            )
        else:  # always right: the gap is 0 everywhere
            assert proxy["verdict"] == (
                "Not computable: over the 6 professions with at least 5 test bios of each "
                "gender, the gap (or the share of women) is the same everywhere, so it cannot "
                "follow anything."
            )


def test_the_report_opens_with_the_answer_over_seeds():
    from analysis.report import render_report

    test, _, shares = planted_gaps()
    params = parse_key(demo_params({"analyze": {"bootstrap_resamples": 100}}), "analyze")
    result = analyze(
        test, seeded_predictions(test, [5, 6]), shares, params, seed=0, data={"source": "sample"}
    )
    lines = render_report(result, params).splitlines()
    assert lines[0].startswith("# ")
    first = [line for line in lines[1:] if line][:3]
    row = result.procedure.iloc[0]
    # two professions carry a gap here: no proxy-bias slope over seeds, so no proxy sentence
    assert result.seed_proxy.empty
    assert first == [
        f"**{row['verdict']}**",
        row["variance_verdict"],
        f"Test bios: {len(test):,} (source: sample). Every predictor is scored on the same bios, "
        "joined by id. Positive class: female.",
    ]
    assert row["verdict"].startswith("Over 2 training seeds")


def test_the_written_report_opens_with_the_primary_and_proxy_verdicts(analyzed):
    lines = (analyzed / paths.ANALYSIS_REPORT).read_text().splitlines()
    pairs, proxy = table(analyzed, "pairs"), table(analyzed, "proxy").set_index("predictor")
    primary = pairs[pairs["family"] == "primary"].iloc[0]
    assert lines[0] == "# Bias in Bios: analysis report (SYNTHETIC data, not Bias in Bios)"
    assert [line for line in lines[1:] if line][:2] == [
        f"**{primary['verdict']}**",
        f"Proxy bias, {primary['predictor_b']}: {proxy.loc[primary['predictor_b'], 'verdict']}",
    ]
    assert proxy.loc["lora", "direction"] == "stereotype-consistent"  # the planted bias


def test_a_leakage_file_is_read_against_the_test_split_or_refused_in_one_line(study):
    # The erase stage's probe answers (results/leakage/<representation>.parquet): bios joined by
    # id, whatever their order; a file of other bios, a label out of range or a missing column
    # stops the analysis with one line naming the file and the stage to rerun.
    test = pd.read_parquet(study / paths.split_path("test"))
    rng = np.random.default_rng(1)
    gender = test["gender_id"].to_numpy(np.int64)
    leakage = pd.DataFrame(
        {
            "id": test["id"],
            "gender_id": gender,
            "pred": np.where(rng.random(len(test)) < 0.9, gender, 1 - gender),
            "pred_erased": np.zeros(len(test), dtype=np.int64),
        }
    ).iloc[::-1]
    file = study / paths.leakage_path("base")
    file.parent.mkdir(parents=True, exist_ok=True)
    leakage.to_parquet(file, index=False)
    assert run_module("analysis.analyze", study).returncode == 0
    table = pd.read_csv(study / contract.TABLES["leakage"].file()).set_index("version")
    assert table.loc["as is", "correct"] == int((leakage["pred"] == leakage["gender_id"]).sum())
    assert table.loc["erased", "correct"] == int((gender == 0).sum())
    for broken, says in (
        (leakage.iloc[1:], "its bios are not the test split's; run the erase stage again"),
        (leakage.assign(pred=2), "pred"),
        (leakage.drop(columns="pred_erased"), "missing column 'pred_erased'"),
    ):
        broken.to_parquet(file, index=False)
        line = error_line(run_module("analysis.analyze", study))
        assert str(paths.leakage_path("base")) in line and says in line, line
