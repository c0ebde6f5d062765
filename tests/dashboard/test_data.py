"""Which study the dashboard opens, and the command its guidance names."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import data


def test_study_precedence(tmp_path, monkeypatch):
    root, demo = tmp_path / "repo", tmp_path / "repo/demo"
    demo.mkdir(parents=True)
    monkeypatch.setattr(data, "REPO_ROOT", root)
    monkeypatch.setattr(data, "DEMO_STUDY", demo)
    other, env_study = tmp_path / "other", tmp_path / "env"
    env = {data.STUDY_ENV: str(env_study)}
    # pytest-like options around --study are ignored, not an error.
    assert data.resolve_study(["-q", "--study", str(other), "-x"], env) == other
    assert data.resolve_study(["-q"], env) == env_study
    assert data.resolve_study([], {}) == demo  # no real results yet
    (root / data.METRICS).parent.mkdir(parents=True)
    (root / data.METRICS).write_text("{}")
    assert data.resolve_study([], {}) == root
    assert data.resolve_study([], {data.STUDY_ENV: ""}) == root


def test_make_command_names_the_study(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(data, "DEMO_STUDY", tmp_path / "demo")
    assert data.make_command(tmp_path / "demo") == "make demo"
    assert data.make_command(tmp_path) == "dvc repro analyze"
    assert data.make_command(tmp_path / "x", None) == f"cd {tmp_path / 'x'} && dvc repro"


# --- hostile result files: each is a problem the page shows, never a traceback ---------------


def test_a_non_utf8_report_is_a_problem_not_a_traceback(tmp_path):
    (tmp_path / data.REPORT).parent.mkdir(parents=True)
    (tmp_path / data.REPORT).write_bytes(b"# Report\n\xff\xfe broken\n")
    loaded = data.report(tmp_path)
    assert not loaded.ok and loaded.problem == f"`{data.REPORT}` is not UTF-8 text (byte offset 9)"


def test_deeply_nested_json_is_a_problem_not_a_recursion_error(tmp_path):
    for rel, load in ((data.METRICS, data.metrics), (data.SUMMARY, data.summary)):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("[" * 100_000 + "]" * 100_000)
        loaded = load(tmp_path)
        assert not loaded.ok
        assert loaded.problem == f"`{rel}` could not be read (nested too deeply)"


def test_text_in_a_table_of_numbers_is_named(tmp_path):
    spec = data.TABLES["calibration"]
    rel = spec.file()
    (tmp_path / rel).parent.mkdir(parents=True)

    def cell(column: str, i: int) -> str:
        return {"text": "lora", "int": str(i + 1), "float": f"0.{i + 1}"}[spec.dtypes[column]]

    rows = [",".join(spec.columns)]
    for i in range(3):
        rows.append(",".join(cell(c, i) for c in spec.columns))
    (tmp_path / rel).write_text("\n".join(rows) + "\n")
    assert data.table(tmp_path, "calibration").ok
    number_column = spec.of("float")[0]  # the first cell "0.2" of row 1 is in it
    broken = [*rows[:2], rows[2].replace("0.2", "oops", 1), *rows[3:]]
    (tmp_path / rel).write_text("\n".join(broken) + "\n")
    loaded = data.table(tmp_path, "calibration")
    assert loaded.problem == (
        f"`{rel}` column {number_column!r} holds text ('oops') at row 1, expected numbers; "
        "written by another version of the suite, or edited by hand"
    )


def write_table(study, name: str, rows: list[dict]) -> str:
    """Write analysis table ``name`` in the contract's columns; return its relative path."""
    rel, columns = data.TABLES[name].file(), data.TABLES[name].columns
    (study / rel).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(columns)).to_csv(study / rel, index=False)
    return str(rel)


CALIBRATION_ROW = {
    "predictor": "lora",
    "bin": 0,
    "mean_predicted": 0.05,
    "fraction_female": 0.1,
    "count": 12,
    "bin_low": 0.0,
    "bin_high": 0.1,
}


@pytest.mark.parametrize(
    ("name", "row", "column", "text"),
    [
        ("calibration", CALIBRATION_ROW, "count", "many"),
        (
            "procedure",
            {c: 0.5 for c in data.TABLES["procedure"].of("float")}
            | {c: 3 for c in data.TABLES["procedure"].of("int")}
            | {c: "x" for c in data.TABLES["procedure"].of("text")}
            | {"predictor_a": "zero_shot", "predictor_b": "lora", "family": "primary"}
            | {"significant": True},
            "p_value",
            "tiny",
        ),
    ],
)
def test_text_in_every_row_of_a_number_column_is_named(tmp_path, name, row, column, text):
    # issue 26 item 6c: a column holding text in every row (a one-row procedure.csv, or every
    # count) passed as "a column of text" and crashed the page that computed with it
    rel = write_table(tmp_path, name, [row, row] if name == "calibration" else [row])
    assert data.table(tmp_path, name).ok
    rel = write_table(tmp_path, name, [{**row, column: text}] * (2 if name == "calibration" else 1))
    loaded = data.table(tmp_path, name)
    assert loaded.problem == (
        f"`{rel}` column {column!r} holds text ({text!r}) at row 0, expected numbers; "
        "written by another version of the suite, or edited by hand"
    )


# --- the contract holds for what analyze writes ----------------------------------------------


def test_the_metrics_analyze_writes_over_seeds_match_the_contract(tmp_path):
    """metrics.json over training seeds (``primary.ci_method`` is a word) is not a problem."""
    from analysis.analyze import analyze
    from pipeline.lib.io import write_json
    from pipeline.lib.params import parse_key
    from tests.analysis.test_analyze import planted_gaps, seeded_predictions
    from tests.conftest import demo_params

    test, _, shares = planted_gaps()
    params = parse_key(demo_params({"analyze": {"bootstrap_resamples": 50}}), "analyze")
    result = analyze(
        test, seeded_predictions(test, [5, 6]), shares, params, seed=0, data={"source": "x"}
    )
    write_json(result.metrics, tmp_path / data.METRICS)  # as analyze's main() writes it
    loaded = data.metrics(tmp_path)
    assert loaded.problem is None
    assert loaded.value["primary"]["ci_method"] == "multi-bootstrap"
    assert loaded.value["primary"]["n_seeds"] == 2
    # a word where a number belongs is still refused
    bad = {**result.metrics, "lora": {**result.metrics["lora"], "accuracy_mean": "high"}}
    write_json(bad, tmp_path / data.METRICS)
    assert "lora.accuracy_mean" in (data.metrics(tmp_path).problem or "")
    bad = {**result.metrics, "primary": {**result.metrics["primary"], "p_value": "small"}}
    write_json(bad, tmp_path / data.METRICS)
    assert "primary.p_value" in (data.metrics(tmp_path).problem or "")
