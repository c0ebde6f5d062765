"""Every dashboard page on an occupation study (``task: occupation``), under Streamlit's AppTest.

The study is a copy of the occupation demo after a real ``dvc repro`` (``occupation_pipeline``);
numbers shown are compared with its files, read here independently with pandas/json.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.occupation_metrics import OCCUPATION_METRICS
from dashboard import data, ui
from pipeline.lib import contract, paths, tasks
from pipeline.lib.labels import PROFESSIONS
from tests.dashboard.test_app import open_page

TITLES = {name: title for name, title, _, _ in ui.PAGES}
TASK_LINE = ui.TASK_LINES["occupation"].format(n=len(PROFESSIONS))
METRICS = [spec.name for spec in OCCUPATION_METRICS]


def frame_with(app: AppTest, column: str) -> pd.DataFrame:
    found = [d.value for d in app.dataframe if column in d.value.columns]
    assert found, f"no table with column {column!r}"
    return found[0]


def analysis_csv(study, name: str) -> pd.DataFrame:
    return pd.read_csv(study / paths.ANALYSIS_DIR / f"{name}.csv")


def said(app: AppTest) -> list[str]:
    return [e.value for e in [*app.success, *app.info, *app.warning, *app.caption]]


@pytest.mark.parametrize("page", [name for name, _, _, _ in ui.PAGES])
def test_every_page_runs_and_names_the_task(occupation_study, monkeypatch, page):
    app = open_page(occupation_study, page, monkeypatch)
    assert app.title[0].value == TITLES[page]
    assert app.markdown[0].value == TASK_LINE  # the page opens with the task
    assert not app.error


def test_the_study_task_comes_from_the_summary_then_params(tmp_path):
    assert data.task(tmp_path).name == "gender"  # nothing says otherwise
    (tmp_path / "params.yaml").write_text("task: occupation\n")
    assert data.task(tmp_path).name == "occupation"
    summary = tmp_path / paths.ANALYSIS_SUMMARY
    summary.parent.mkdir(parents=True)
    summary.write_text("{not json")
    assert data.task(tmp_path).name == "occupation"  # an unusable summary: params.yaml
    assert data.task_tables("occupation") == contract.TASK_TABLES["occupation"]
    assert "calibration" not in data.task_tables("occupation")
    assert "gap_rms" in data.task_tables("occupation")


def test_overview_shows_the_occupation_metrics_and_verdicts(occupation_study, monkeypatch):
    app = open_page(occupation_study, "overview", monkeypatch)
    summary = json.loads((occupation_study / paths.ANALYSIS_SUMMARY).read_text())
    assert summary["task"] == "occupation"
    overall = analysis_csv(occupation_study, "overall").set_index(["predictor", "metric"])
    headline = frame_with(app, "accuracy 95% CI").set_index("predictor")
    assert list(headline.columns[: len(METRICS)]) == METRICS
    assert "roc_auc" not in headline.columns and "gap_rms" in headline.columns
    for predictor in summary["predictors"]:
        for metric in METRICS:
            row = overall.loc[(predictor, metric)]
            assert headline.loc[predictor, metric] == pytest.approx(row["value"])
            ci = f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            assert headline.loc[predictor, f"{metric} 95% CI"] == ci
    # The primary accuracy verdict (procedure.csv) and the primary GAP^RMS verdict (gap_rms.csv),
    # in the analysis' own words; the other GAP^RMS comparisons below them.
    procedure = analysis_csv(occupation_study, "procedure")
    gap_rms = analysis_csv(occupation_study, "gap_rms")
    primary = gap_rms[gap_rms["family"] == "primary"].iloc[0]
    shown = said(app)
    assert procedure[procedure["family"] == "primary"].iloc[0]["verdict"] in shown
    assert primary["verdict"] in shown
    assert shown.index(primary["verdict"]) > shown.index(procedure.iloc[0]["verdict"])
    for verdict in gap_rms["verdict"]:
        assert verdict in shown
    assert len(app.image) == 1  # accuracy against GAP^RMS
    # every file of an occupation study matches its contract; no calibration.csv is asked for
    tables = data.task_tables("occupation")
    assert [e.label for e in app.expander if e.label.startswith("Results files")] == [
        f"Results files (all {len(tables) + 4 + len(summary['predictors'])} ok)"
    ]


def test_professions_shows_the_occupation_gaps(occupation_study, monkeypatch):
    app = open_page(occupation_study, "professions", monkeypatch)
    gaps = analysis_csv(occupation_study, "gaps")
    predictor = app.selectbox(key="professions_model").value
    expected = gaps[gaps["predictor"] == predictor].sort_values("share_women")
    shown = frame_with(app, "share_women")
    assert shown["n_female"].tolist() == expected["n_female"].tolist()
    assert shown["gap"].tolist() == pytest.approx(expected["gap"].tolist(), nan_ok=True)
    proxy = analysis_csv(occupation_study, "proxy").set_index("predictor")
    assert proxy.loc[predictor, "verdict"] in said(app)
    assert len(app.image) == 3  # error rates, gaps, the De-Arteaga scatter with its band


def test_calibration_says_it_is_the_top_label_ece(occupation_study, monkeypatch):
    assert not (occupation_study / paths.ANALYSIS_DIR / "calibration.csv").exists()
    app = open_page(occupation_study, "calibration", monkeypatch)
    assert any("top-label ECE" in i.value for i in app.info)
    overall = analysis_csv(occupation_study, "overall")
    ece = overall[overall["metric"] == "ece"].set_index("predictor")["value"]
    shown = frame_with(app, "value").set_index("predictor")["value"]
    assert shown.to_dict() == pytest.approx(ece.to_dict())
    assert not app.image and not app.multiselect


def test_examples_show_the_predicted_profession(occupation_study, monkeypatch):
    app = open_page(occupation_study, "examples", monkeypatch)
    predictor = app.selectbox(key="ex_pred").value
    test = pd.read_parquet(occupation_study / paths.split_path("test")).set_index("id")
    pred = pd.read_parquet(occupation_study / paths.predictions_path(predictor)).set_index("id")
    table = frame_with(app, f"predicted {predictor}").set_index("id")
    assert "P(female) " + predictor not in table.columns
    ids = table.index
    assert table[f"predicted {predictor}"].tolist() == [
        PROFESSIONS[i] for i in pred.loc[ids, "pred"]
    ]
    assert table[f"confidence {predictor}"].tolist() == pytest.approx(
        pred.loc[ids, "confidence"].tolist()
    )
    app.radio(key="ex_outcome").set_value("correct").run()
    line = next(m.value for m in app.markdown if "bios match" in m.value)
    right = (pred["pred"].reindex(test.index) == test["profession_id"]).sum()
    assert int(line.split("**")[1].replace(",", "")) == right
    per_bio = frame_with(app, "confidence")
    assert set(per_bio["predicted"].dropna()) <= set(PROFESSIONS)


def test_try_a_bio_says_it_is_gender_only(occupation_study, monkeypatch):
    app = open_page(occupation_study, "try_bio", monkeypatch)
    assert any("does not apply to an occupation study" in i.value for i in app.info)
    assert not app.text_area  # nothing to type: no model of this study is loaded


def test_the_sidebar_names_the_task(occupation_study, results_study, monkeypatch):
    for study, task in ((occupation_study, "occupation"), (results_study, "gender")):
        app = open_page(study, "overview", monkeypatch)
        assert f"{task}: {tasks.get(task).question}" in [t.value for t in app.sidebar.text]
