"""Every dashboard page under Streamlit's AppTest, on contract-conforming result files.

Numbers shown are compared with the files (read here independently with pandas/json), filters
are checked to change the rows, and missing results must give guidance instead of a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from dashboard import data, ui
from pipeline.lib import catalogue, paths
from tests.conftest import DEMO_PARAMS, REPO, stage_env, study_predictors

SEEDS = DEMO_PARAMS["seeds"]["train"]
FIRST = paths.run_name("lora", SEEDS[0])  # the LoRA run a one-run page shows first

APP = REPO / "dashboard/app.py"
PAGES = (
    "overview",
    "professions",
    "significance",
    "calibration",
    "training",
    "seeds",
    "probes",
    "mitigation",
    "examples",
    "try_bio",
)
TITLES = {name: title for name, title, _, _ in ui.PAGES}
ANALYSIS_PAGES = ("professions", "significance", "calibration", "probes", "examples")
EVIL_BIO = "<script>alert(1)</script> **bold** [link](http://x) <b>tag</b>"


def open_page(study, page: str, monkeypatch) -> AppTest:
    monkeypatch.setenv(data.STUDY_ENV, str(study))
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    if page != "overview":
        app.switch_page(f"pages/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def frames_with(app: AppTest, column: str) -> list[pd.DataFrame]:
    found = [d.value for d in app.dataframe if column in d.value.columns]
    assert found, f"no table with column {column!r}"
    return found


def frame_with(app: AppTest, column: str) -> pd.DataFrame:
    return frames_with(app, column)[0]


def analysis_csv(study, name: str) -> pd.DataFrame:
    return pd.read_csv(study / paths.ANALYSIS_DIR / f"{name}.csv")


@pytest.mark.parametrize("page", [*PAGES, "experiments"])
def test_every_page_runs_and_offers_csv(results_study, monkeypatch, page):
    app = open_page(results_study, page, monkeypatch)
    assert app.title[0].value == TITLES[page]
    if page != "experiments":
        assert len(app.download_button) >= 1
        assert not app.error


def test_overview_headline_numbers_equal_the_files(results_study, monkeypatch):
    app = open_page(results_study, "overview", monkeypatch)
    summary = json.loads((results_study / paths.ANALYSIS_SUMMARY).read_text())
    metrics = json.loads((results_study / paths.ANALYSIS_METRICS).read_text())
    overall = analysis_csv(results_study, "overall").set_index(["predictor", "metric"])
    headline = frame_with(app, "accuracy 95% CI").set_index("predictor")
    assert list(headline.index) == catalogue.order(list(summary["predictors"]))
    # The metrics come first (seen at 1400 px); what each predictor is comes in its own table.
    assert list(headline.columns[: len(data.METRIC_NAMES)]) == list(data.METRIC_NAMES)
    assert "label" not in headline.columns and "model" not in headline.columns
    about = frame_with(app, "model").set_index("predictor")
    for predictor, entry in summary["predictors"].items():
        assert about.loc[predictor, "label"] == entry["label"]
        assert headline.loc[predictor, "accuracy"] == metrics[predictor]["accuracy"]
        for metric in data.METRIC_NAMES:
            row = overall.loc[(predictor, metric)]
            assert headline.loc[predictor, metric] == pytest.approx(row["value"])
            ci = f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            assert headline.loc[predictor, f"{metric} 95% CI"] == ci
    # Synthetic data is flagged where the reader sees it, and the toy model too.
    assert any("SYNTHETIC" in w.value for w in app.warning)
    assert summary["toy_model"] in [i.value for i in app.info]
    # The primary comparison shows the pairs.csv numbers and the analysis' own verdict.
    pairs = analysis_csv(results_study, "pairs")
    pair = pairs[pairs["family"] == "primary"].iloc[0]
    assert (pair["predictor_a"], pair["predictor_b"]) == ("zero_shot", FIRST)
    # The cards are the procedure's (mean over seeds, Multi-Bootstrap), not one seed's.
    shown = {m.label: m.value for m in app.metric}
    procedure = analysis_csv(results_study, "procedure").iloc[0]  # the primary, over seeds
    assert procedure["verdict"] == app.success[0].value  # the page's first verdict
    n_seeds = len(SEEDS)
    assert shown == {
        "Accuracy, zero_shot": f"{100 * pair['acc_a']:.1f}%",
        f"Accuracy, lora, mean of {n_seeds} seeds": f"{100 * procedure['acc_b_mean']:.1f}%",
        "Difference, 95% CI (Multi-Bootstrap)": f"{100 * procedure['diff_ci_low']:.1f} to "
        f"{100 * procedure['diff_ci_high']:.1f} pts",
        "Seeds significant alone": f"{procedure['seeds_significant']} of {n_seeds}",
    }
    # each seed's verdict is still there, under a label that says so
    assert pair["verdict"] in [a.value for a in [*app.success, *app.info]]
    assert any(e.label.startswith("Each seed alone") for e in app.expander)
    assert any(f"same {procedure['n_bios']:,} test bios" in c.value for c in app.caption)
    # every results file matches the contract (metrics.json included): no "missing" flag
    assert [e.label for e in app.expander if e.label.startswith("Results files")] == [
        f"Results files (all {len(data.TABLES) + 4 + len(study_predictors(results_study))} ok)"
    ]
    report = (results_study / paths.ANALYSIS_REPORT_HTML).read_bytes()
    download = next(b for b in app.download_button if "HTML" in b.label)
    assert download.proto.label.startswith("Download the report")
    assert report.startswith(b"<!DOCTYPE html>")
    assert {link.value.split(":")[0] for link in app.page_link} >= {
        "Professions",
        "Significance",
        "Calibration",
        "Probes",
        "Examples",
        "Experiments",
    }


def test_professions_model_selector_changes_tables(results_study, monkeypatch):
    app = open_page(results_study, "professions", monkeypatch)
    groups, proxy = analysis_csv(results_study, "groups"), analysis_csv(results_study, "proxy")
    assert app.selectbox(key="professions_model").value == FIRST
    shown = frame_with(app, "error_ci_high")
    expected = groups[groups["predictor"] == FIRST]
    assert len(shown) == len(expected)
    assert shown["error_rate"].tolist() == pytest.approx(expected["error_rate"].tolist())
    # Small groups are marked in the table.
    assert (shown["profession"].str.endswith(" †") == expected["small"].to_numpy()).all()
    fit = proxy.set_index("predictor").loc[FIRST]
    # The analysis' sentence alone: it names the direction and carries the statistics, so the
    # page neither repeats its first words ("No evidence. No evidence...") nor prints a raw nan.
    notes = [e.value for e in [*app.warning, *app.info]]
    assert fit["verdict"] in notes
    assert not any(f"{fit['direction'].capitalize()}." in v for v in notes)
    assert len(app.image) == 3  # error rates, gaps, scatter

    app.selectbox(key="professions_model").set_value("zero_shot").run()
    assert not app.exception
    changed = frame_with(app, "error_ci_high")
    zero_shot = groups[groups["predictor"] == "zero_shot"]
    assert changed["errors"].tolist() == zero_shot["errors"].tolist()
    assert changed["errors"].tolist() != shown["errors"].tolist()


def test_significance_shows_the_analysis_decisions_by_family(results_study, monkeypatch):
    app = open_page(results_study, "significance", monkeypatch)
    pairs = analysis_csv(results_study, "pairs")
    shown = frame_with(app, "p_adjusted")
    assert len(shown) == len(pairs)
    assert shown["p_value"].tolist() == pytest.approx(pairs["p_value"].tolist())
    assert shown["family"].tolist() == pairs["family"].tolist()

    # Untested pairs (an untrained reference) have no verdict: empty in the file and the table.
    def decided(column):
        return ["untested" if pd.isna(v) else str(v) for v in column]

    assert decided(shown["significant"]) == decided(pairs["significant"])
    assert "untested" in decided(pairs["significant"]) and "True" in decided(pairs["significant"])
    said = [e.value for e in [*app.success, *app.info, *app.caption]]
    assert all(verdict in said for verdict in pairs["verdict"])
    # the procedure's verdict first; the per-seed tests under a heading naming their correction
    procedure = analysis_csv(results_study, "procedure").iloc[0]
    assert app.success[0].value == procedure["verdict"]
    headers = [h.value for h in app.header]
    assert headers[:2] == [
        f"Primary comparison over {len(SEEDS)} training seeds (Multi-Bootstrap)",
        f"Primary comparison, each seed alone: exact McNemar, Holm-adjusted across the "
        f"{len(SEEDS)} seeds",
    ]
    assert not any("tested alone" in h for h in headers)


def test_calibration_and_probes_tables_equal_files(results_study, monkeypatch):
    app = open_page(results_study, "calibration", monkeypatch)
    calibration = analysis_csv(results_study, "calibration")
    shown = frame_with(app, "fraction_female")
    assert len(shown) == len(calibration)
    assert shown["fraction_female"].sum() == pytest.approx(calibration["fraction_female"].sum())
    assert len(app.image) == 1
    app.multiselect[0].set_value([FIRST]).run()
    assert len(frame_with(app, "fraction_female")) == (calibration["predictor"] == FIRST).sum()

    app = open_page(results_study, "probes", monkeypatch)
    probes = analysis_csv(results_study, "probes")
    overall = probes[probes["profession"] == "all"]
    shown = frame_with(app, "flip_rate")
    assert shown["flip_rate"].tolist() == pytest.approx(overall["flip_rate"].tolist())
    assert shown["accuracy"].tolist() == pytest.approx(overall["accuracy"].tolist())


def test_mitigation_shows_the_leakage_table_and_the_erasure_check(results_study, monkeypatch):
    app = open_page(results_study, "mitigation", monkeypatch)
    shown = frame_with(app, "majority_rate")
    pd.testing.assert_frame_equal(
        shown.reset_index(drop=True), analysis_csv(results_study, "leakage"), check_dtype=False
    )
    summary = json.loads((results_study / paths.ANALYSIS_SUMMARY).read_text())
    texts = [s.value for s in app.success]
    assert list(summary["erasure_checks"].values()) == texts
    assert any("erased, is right for" in m.value for m in app.markdown)


def test_examples_filters_change_rows(results_study, monkeypatch):
    app = open_page(results_study, "examples", monkeypatch)
    test = pd.read_parquet(results_study / paths.split_path("test"))
    preds = {
        p: pd.read_parquet(results_study / paths.predictions_path(p)).set_index("id")["pred"]
        for p in study_predictors(results_study)
    }
    table = lambda: frame_with(app, f"P(female) {FIRST}")  # noqa: E731 (the first 500 matches)

    def matched() -> int:  # "**N** of M bios match."
        line = next(m.value for m in app.markdown if "bios match" in m.value)
        return int(line.split("**")[1].replace(",", ""))

    assert matched() == len(test) and len(table()) == min(len(test), 500)
    profession = test["profession"].value_counts().index[0]
    app.selectbox(key="ex_prof").set_value(profession).run()
    assert matched() == (test["profession"] == profession).sum()
    app.selectbox(key="ex_gender").set_value("female").run()
    chosen = test[(test["profession"] == profession) & (test["gender"] == "female")]
    assert matched() == len(chosen) == len(table())
    app.selectbox(key="ex_prof").set_value("(all)").run()
    app.selectbox(key="ex_gender").set_value("(all)").run()
    app.radio(key="ex_outcome").set_value("wrong").run()
    lora_wrong = (test.set_index("id")["gender_id"] != preds[FIRST]).sum()
    assert 0 < lora_wrong < 500
    assert matched() == len(table()) == lora_wrong
    assert set(table()["id"]) == set(
        test.loc[test["gender_id"].to_numpy() != preds[FIRST].reindex(test["id"]).to_numpy(), "id"]
    )
    app.radio(key="ex_outcome").set_value("(all)").run()
    app.checkbox(key="ex_disagree").check().run()
    # the untrained reference is left out of "the models" unless asked for
    models = pd.DataFrame({p: v for p, v in preds.items() if p != "random_head"})
    assert matched() == (models.nunique(axis=1) > 1).sum()
    app.checkbox(key="ex_with_references").check().run()
    assert matched() == (pd.DataFrame(preds).nunique(axis=1) > 1).sum()
    assert not app.exception


def test_bio_text_is_shown_literally(results_copy, monkeypatch):
    split_file = results_copy / paths.split_path("test")
    split = pd.read_parquet(split_file)
    split.loc[0, "text"] = EVIL_BIO
    split.to_parquet(split_file, index=False)
    app = open_page(results_copy, "examples", monkeypatch)
    assert app.selectbox(key="ex_id").value == split.loc[0, "id"]
    assert EVIL_BIO in [t.value for t in app.text]  # st.text: verbatim, never markdown/HTML
    assert EVIL_BIO in frame_with(app, f"P(female) {FIRST}")["text"].tolist()
    rendered_as_markup = [m.value for m in [*app.markdown, *app.caption, *app.html]]
    assert not any("<script>" in v or "**bold**" in v for v in rendered_as_markup)


@pytest.mark.parametrize("page", ANALYSIS_PAGES)
def test_missing_results_show_guidance(results_copy, monkeypatch, page):
    shutil.rmtree(results_copy / paths.ANALYSIS_DIR)
    shutil.rmtree(results_copy / paths.PREDICTIONS_DIR)
    app = open_page(results_copy, page, monkeypatch)
    assert app.error and "missing" in app.error[0].value
    stage = "" if page == "examples" else " analyze"  # predictions: every stage
    assert [c.value for c in app.code] == [f"cd {results_copy} && dvc repro{stage}"]


def test_missing_results_on_overview_list_every_file(results_copy, monkeypatch):
    (results_copy / paths.ANALYSIS_SUMMARY).unlink()
    (results_copy / paths.ANALYSIS_DIR / "probes.csv").unlink()
    app = open_page(results_copy, "overview", monkeypatch)
    status = frame_with(app, "status").set_index("file")
    assert "missing" in status.loc["results/analysis/summary.json", "status"]
    assert "missing" in status.loc["results/analysis/probes.csv", "status"]
    assert status.loc["results/analysis/pairs.csv", "status"] == "ok"
    assert "dvc repro analyze" in app.code[0].value


def test_partial_results_keep_other_pages_working(results_copy, monkeypatch):
    (results_copy / paths.ANALYSIS_DIR / "probes.csv").unlink()
    app = open_page(results_copy, "probes", monkeypatch)
    assert "probes.csv` is missing" in app.error[0].value
    app = open_page(results_copy, "professions", monkeypatch)
    assert not app.error


def test_overview_without_lora_says_what_is_missing(results_copy, monkeypatch):
    summary_file = results_copy / paths.ANALYSIS_SUMMARY
    summary = json.loads(summary_file.read_text())
    for run in [n for n in summary["predictors"] if n.startswith("lora@seed")]:
        del summary["predictors"][run]
    summary_file.write_text(json.dumps(summary))
    app = open_page(results_copy, "overview", monkeypatch)
    assert any("predictions for `lora` are missing" in i.value for i in app.info)


def test_bad_table_names_the_missing_column(results_copy, monkeypatch):
    pairs_file = results_copy / paths.ANALYSIS_DIR / "pairs.csv"
    pd.read_csv(pairs_file).drop(columns=["p_adjusted"]).to_csv(pairs_file, index=False)
    app = open_page(results_copy, "significance", monkeypatch)
    assert "`results/analysis/pairs.csv` missing column 'p_adjusted'" in app.error[0].value


def test_experiments_outside_a_repo_shows_the_command(results_study, monkeypatch):
    app = open_page(results_study, "experiments", monkeypatch)
    assert any("is not a DVC study" in w.value for w in app.warning)
    assert "dvc exp run -S lora.r=16" in app.code[0].value


def git(*args, cwd):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_experiments_compares_a_saved_dvc_experiment(results_copy, monkeypatch):
    study = results_copy
    params = yaml.safe_load((study / "params.yaml").read_text())
    (study / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "analyze": {
                        "cmd": "true",
                        "params": ["lora.r"],
                        "metrics": [{str(paths.ANALYSIS_METRICS): {"cache": False}}],
                    }
                }
            }
        )
    )
    for ignore in study.rglob(".gitignore"):  # DVC's entries from the real run: track it all
        ignore.unlink()
    env = stage_env()
    git("init", "-q", "-b", "main", cwd=study)
    subprocess.run(["dvc", "init", "-q"], cwd=study, check=True, env=env)
    git("add", "-A", cwd=study)
    git("commit", "-q", "-m", "baseline", cwd=study)
    metrics_file = study / paths.ANALYSIS_METRICS
    metrics = json.loads(metrics_file.read_text())
    baseline_accuracy = metrics[FIRST]["accuracy"]
    params["lora"]["r"] = 16
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    metrics[FIRST]["accuracy"] = 0.5
    metrics_file.write_text(json.dumps(metrics))
    saved = subprocess.run(
        ["dvc", "exp", "save", "-n", "rank16"], cwd=study, env=env, capture_output=True, text=True
    )
    assert saved.returncode == 0, saved.stderr

    app = open_page(study, "experiments", monkeypatch)
    rows = frame_with(app, "rev")
    assert "rank16" in rows["name"].tolist()
    app.selectbox(key="exp_a").set_value("main").run()
    app.selectbox(key="exp_b").set_value("rank16").run()
    side = frame_with(app, "changed").set_index("key")
    assert float(side.loc["param:lora.r", "A: main"]) == 8
    assert float(side.loc["param:lora.r", "B: rank16"]) == 16
    metric = f"metric:{FIRST}.accuracy"
    assert float(side.loc[metric, "A: main"]) == baseline_accuracy
    assert float(side.loc[metric, "B: rank16"]) == 0.5
    assert set(side.index) == {"param:lora.r", metric}  # only what changed


def test_training_page_shows_every_seed_and_its_selected_step(results_study, monkeypatch):
    app = open_page(results_study, "training", monkeypatch)
    trained = catalogue.seeded_names()
    # one section per trained predictor, in catalogue order: its runs, then its history
    run_tables = frames_with(app, "selected step")
    histories = frames_with(app, "dev_accuracy")
    # lora, head_only and leace_head_only
    assert len(run_tables) == len(histories) == len(trained) == 3
    for name, runs, history in zip(trained, run_tables, histories, strict=True):
        runs = runs.set_index("seed")
        assert list(runs.index) == SEEDS
        for seed in SEEDS:
            train = json.loads((results_study / paths.train_metrics(name, seed)).read_text())
            assert runs.loc[seed, "selected step"] == train["best_step"]
            assert runs.loc[seed, "trainable parameters"] == train["trainable_params"]
            expected = pd.read_csv(results_study / paths.train_history(name, seed))
            shown = history[history["seed"] == seed]["dev_accuracy"]
            assert shown.tolist() == pytest.approx(expected["dev_accuracy"].tolist())
    headers = [h.value for h in app.header]
    assert headers == [f"{catalogue.label(name)} ({name})" for name in trained]
    assert len(app.image) == len(trained)


def test_seeds_page_shows_the_procedure_and_every_seed(results_study, monkeypatch):
    app = open_page(results_study, "seeds", monkeypatch)
    procedures = analysis_csv(results_study, "procedure")
    procedure = procedures[procedures["family"] == "primary"].iloc[0]
    shown_verdicts = [a.value for a in [*app.success, *app.info]]
    # every comparison over seeds: the primary, then head-only against both of its sides, then
    # leace_head_only against head_only, which it mitigates
    assert set(procedures["verdict"]) <= set(shown_verdicts)
    assert procedure["verdict"] in shown_verdicts
    assert procedures["family"].tolist() == ["primary", "secondary", "secondary", "mitigation"]
    shown = {m.label: m.value for m in app.metric}
    assert shown["Training seeds"] == str(len(SEEDS))
    assert shown["Mean difference"] == f"{100 * procedure['acc_diff']:+.1f} pts"
    spread = frame_with(app, "sd")
    assert spread["mean"].tolist() == pytest.approx(analysis_csv(results_study, "seeds")["mean"])
    gaps = pd.concat(frames_with(app, "stable"), ignore_index=True)
    assert gaps["gap"].tolist() == pytest.approx(analysis_csv(results_study, "seed_gaps")["gap"])
    # per-seed accuracy, then a profession x seed heatmap per trained predictor
    assert len(app.image) == 1 + len(catalogue.seeded_names())


def test_try_a_bio_shows_text_literally_and_every_predictor(results_study, monkeypatch):
    app = open_page(results_study, "try_bio", monkeypatch)
    evil = "<script>alert(1)</script> She is a **bold** nurse."
    app.text_area(key="try_bio").set_value(evil).run()
    assert not app.exception
    texts = [t.value for t in app.text]
    assert evil in texts and any(t.startswith("<script>alert(1)</script> He is") for t in texts)
    rendered_as_markup = [m.value for m in [*app.markdown, *app.caption]]
    assert not any("<script>" in v or "**bold**" in v for v in rendered_as_markup)
    table = frame_with(app, "P(female) swapped").set_index("predictor")
    assert list(table.index) == study_predictors(results_study)  # LoRA: every seed's run
    # a model that reads pronouns moves when they are swapped
    assert table.loc[FIRST, "P(female) original"] > 0.5 > table.loc[FIRST, "P(female) swapped"]
    # the demo's models are toys, and the page says so
    assert any(w.value.startswith("TOY MODEL") for w in app.warning)


def test_try_a_bio_does_not_echo_a_long_bio_in_full(results_study, monkeypatch):
    app = open_page(results_study, "try_bio", monkeypatch)
    long_bio = "She runs the night shift at the hospital. " * 500  # about 21,000 characters
    app.text_area(key="try_bio").set_value(long_bio).run()
    assert not app.exception
    echoed = [t.value for t in app.text]
    assert len(echoed) == 3 and all(len(t) < 400 for t in echoed), [len(t) for t in echoed]
    assert all(t.endswith("more characters)") for t in echoed)
    assert any("longer than predict.max_length" in i.value for i in app.info)


BROKEN_JSON = {
    "not json": "{'lora': ",
    "a list": "[1, 2]",
    "null": "null",
    "entries not objects": '{"lora": 1, "zero_shot": 2}',
    "text where numbers go": '{"lora": {"accuracy": "high"}}',
}


@pytest.mark.parametrize("case", BROKEN_JSON)
@pytest.mark.parametrize("file", ["metrics", "summary"])
def test_malformed_result_json_gives_guidance_on_every_page(results_copy, monkeypatch, file, case):
    path = results_copy / (paths.ANALYSIS_METRICS if file == "metrics" else paths.ANALYSIS_SUMMARY)
    path.write_text(BROKEN_JSON[case])
    for page in ("overview", "calibration", "professions", "significance"):
        app = open_page(results_copy, page, monkeypatch)  # asserts no exception
        if page == "overview":
            status = frame_with(app, "status").set_index("file")
            problem = status.loc[str(path.relative_to(results_copy)), "status"]
            assert problem != "ok" and "\n" not in problem
    if file == "summary":
        app = open_page(results_copy, "overview", monkeypatch)
        assert app.error and "summary.json" in app.error[0].value
        assert "dvc repro analyze" in app.code[0].value


def test_a_count_of_words_on_the_calibration_page_is_a_problem_not_an_exception(
    tmp_path, monkeypatch
):
    # issue 26 item 6c: text in every cell of calibration.csv's count column crashed the page.
    # The page needs only this file, so a study holding just it is enough.
    rel, columns = data.TABLES["calibration"].file(), data.TABLES["calibration"].columns
    (tmp_path / rel).parent.mkdir(parents=True)
    row = {"predictor": "lora", "bin": 0, "mean_predicted": 0.05, "fraction_female": 0.1}
    rows = [{**row, "count": "many", "bin_low": 0.0, "bin_high": 0.1}] * 2
    pd.DataFrame(rows, columns=list(columns)).to_csv(tmp_path / rel, index=False)
    app = open_page(tmp_path, "calibration", monkeypatch)
    assert app.error[0].value == (
        "This page needs results that are missing or unusable:\n\n"
        f"- `{rel}` column 'count' holds text ('many') at row 0, expected numbers; written by "
        "another version of the suite, or edited by hand"
    )
