"""Experiments and revisions compare with their real values; the run cache spares a rerun.

Dora runs the README's experiment (``dvc exp run -S lora.r=4``) in a clone of Alice's demo run
and commits it (``rank4``, once for the module); the tests read DVC's comparisons, the README's
``dvc exp show`` table and the dashboard's Experiments data, and check them against the files.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.metrics import wilson_interval
from pipeline.lib import paths
from tests.conftest import (
    REPO,
    git_commit,
    run_cli,
    stage_env,
    stages_run,
)
from tests.team import (
    FIRST,
    LORA_CHAIN,
    SEEDS,
    clone,
    outputs,
    read_json,
)

pytestmark = pytest.mark.slow


def readme_command(start: str) -> list[str]:
    """The one command of README.md (or docs/) that starts with ``start``, as its words."""
    found = [
        line.strip()
        for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
        for line in doc.read_text().splitlines()
        if line.strip().startswith(start)
    ]
    assert len(set(found)) == 1, found
    return shlex.split(found[0].split(" #")[0])


def exp_rows(study: Path, code: Path) -> dict[str, dict]:
    """``dvc exp show --json``: every commit and experiment by name, params and metrics flat."""

    def flat(files: dict) -> dict:
        out = {}
        for file, content in (files or {}).items():
            stack = [("", content.get("data") or {})]
            while stack:
                prefix, value = stack.pop()
                if isinstance(value, dict):
                    stack += [(f"{prefix}{k}.", v) for k, v in value.items()]
                else:
                    out[f"{file}:{prefix[:-1]}"] = value
        return out

    shown = json.loads(
        run_cli(["dvc", "exp", "show", "--json", "-n", "2"], study, code, stdout_only=True)
    )
    rows = {}
    for row in shown:
        entries = [(row.get("name") or row["rev"], row)]
        for group in row.get("experiments") or []:
            entries += [(rev["name"], rev) for rev in group["revs"]]
        for name, entry in entries:
            data = entry.get("data") or {}
            rows[name] = {**flat(data.get("params")), **flat(data.get("metrics"))}
    return rows


@pytest.fixture(scope="module")
def rank4(team) -> dict:
    """Dora's experiment ``-S lora.r=4`` as the README runs it, then committed; run cache pushed.

    Computed once for the module: the revision and run-cache tests both need rank 4's outputs
    (three LoRA trainings). Right after ``dvc exp run`` it runs the README's ``dvc exp show`` in
    a 200-column terminal. Returns the clone, what DVC ran, that table, the metrics and
    training files before, and every output right after the run.
    """
    dora = clone(team, "dora")
    demo = dora / "demo"
    before = {
        "metrics": read_json(demo / paths.ANALYSIS_METRICS),
        "train": read_json(demo / paths.train_metrics("lora", SEEDS[0])),
        "history": pd.read_csv(demo / paths.train_history("lora", SEEDS[0])),
    }
    ran = stages_run(run_cli(["dvc", "exp", "run", "-n", "rank4", "-S", "lora.r=4"], demo, dora))
    env = {**stage_env(dora), "COLUMNS": "200"}
    table = subprocess.run(
        readme_command("dvc exp show"), cwd=demo, env=env, capture_output=True, text=True
    )
    shown = exp_rows(demo, dora)
    git_commit(dora, "LoRA rank 4")
    run_cli(["dvc", "push", "--run-cache"], demo, dora)
    return {
        "clone": dora,
        "ran": ran,
        "exp_show": table,
        "exp_rows": shown,
        "before": before,
        "outputs": outputs(demo),
    }


def exp_show_columns(table: subprocess.CompletedProcess) -> list[str]:
    """The README's ``dvc exp show`` table, checked to fit 200 columns; its header's names."""
    assert table.returncode == 0, table.stderr
    width = max(len(line.rstrip()) for line in table.stdout.splitlines())
    print(f"README dvc exp show: {width} columns\n{table.stdout}")
    assert width <= 200 and "…" not in table.stdout, table.stdout
    return next(line for line in table.stdout.splitlines() if "Experiment" in line).split()


def test_the_readme_experiment_table_shows_the_changed_param_and_the_primary_difference(rank4):
    # After `dvc exp run -S lora.r=4`, the README's command in a 200-column terminal: the
    # changed parameter and the procedure-level primary difference are columns, with values.
    header = exp_show_columns(rank4["exp_show"])
    assert {"lora.r", "primary.acc_diff"} <= set(header), rank4["exp_show"].stdout
    assert "[rank4]" in rank4["exp_show"].stdout
    # and the values behind those columns: the experiment's own, against main's
    rows, metric = rank4["exp_rows"], f"{paths.ANALYSIS_METRICS}:primary.acc_diff"
    assert rows["rank4"]["params.yaml:lora.r"] == 4 and rows["main"]["params.yaml:lora.r"] == 8
    assert rows["main"][metric] == rank4["before"]["metrics"]["primary"]["acc_diff"]
    after = read_json(rank4["clone"] / "demo" / paths.ANALYSIS_METRICS)
    assert rows["rank4"][metric] == after["primary"]["acc_diff"]


def test_revisions_and_experiments_compare_with_their_real_values(rank4):
    dora = rank4["clone"]
    demo = dora / "demo"
    before = rank4["before"]["metrics"]
    before_train = rank4["before"]["train"]
    before_history = rank4["before"]["history"]
    # The second commit, another LoRA rank: only the LoRA chain reran.
    assert rank4["ran"] == LORA_CHAIN
    after = read_json(demo / paths.ANALYSIS_METRICS)
    assert after[FIRST]["accuracy"] != before[FIRST]["accuracy"]  # a real change to compare

    params = json.loads(
        run_cli(["dvc", "params", "diff", "HEAD~1", "--json"], demo, dora, stdout_only=True)
    )
    assert params["params.yaml"]["lora.r"]["old"] == 8
    assert params["params.yaml"]["lora.r"]["new"] == 4
    metrics = json.loads(
        run_cli(["dvc", "metrics", "diff", "HEAD~1", "--json"], demo, dora, stdout_only=True)
    )
    accuracy = metrics[str(paths.ANALYSIS_METRICS)][f"{FIRST}.accuracy"]
    assert accuracy["old"] == before[FIRST]["accuracy"]
    assert accuracy["new"] == after[FIRST]["accuracy"]
    history_file = paths.train_history("lora", SEEDS[0])
    plots = json.loads(
        run_cli(
            ["dvc", "plots", "diff", "HEAD~1", "--json", "--targets", str(history_file)],
            demo,
            dora,
            stdout_only=True,
        )
    )
    assert not plots.get("errors")
    values = pd.DataFrame(plots["data"][str(history_file)][0]["content"]["data"]["values"])
    after_history = pd.read_csv(demo / history_file)
    for history, revs in ((before_history, values["rev"] != "workspace"), (after_history, None)):
        shown = values[revs if revs is not None else values["rev"] == "workspace"]
        assert shown["dev_accuracy"].astype(float).tolist() == pytest.approx(
            history["dev_accuracy"].tolist()
        )

    # One queued experiment (a narrower interval), run from the queue.
    run_cli(
        ["dvc", "exp", "run", "--queue", "-n", "conf90", "-S", "analyze.confidence=0.9"],
        demo,
        dora,
    )
    run_cli(["dvc", "exp", "run", "--run-all"], demo, dora)
    rows = exp_rows(demo, dora)
    parent_rev = run_cli(["git", "rev-parse", "HEAD~1"], dora, dora, stdout_only=True).strip()
    head, parent = rows["main"], rows[parent_rev]
    metric = f"{paths.ANALYSIS_METRICS}:{FIRST}.accuracy"
    assert head["params.yaml:lora.r"] == 4 and head[metric] == after[FIRST]["accuracy"]
    assert parent["params.yaml:lora.r"] == 8 and parent[metric] == before[FIRST]["accuracy"]
    assert (
        parent[f"{paths.train_metrics('lora', SEEDS[0])}:dev_accuracy"]
        == before_train["dev_accuracy"]
    )
    experiment = rows["conf90"]
    assert experiment["params.yaml:analyze.confidence"] == 0.9
    # its interval, recomputed independently from the LoRA predictions of the rank-4 commit
    test = pd.read_parquet(demo / paths.split_path("test"))
    lora = pd.read_parquet(demo / paths.predictions_path(FIRST))
    correct = int((test.set_index("id")["gender_id"] == lora.set_index("id")["pred"]).sum())
    low, high = wilson_interval(successes=correct, n=len(test), confidence=0.9)
    assert experiment[f"{paths.ANALYSIS_METRICS}:{FIRST}.accuracy_ci_low"] == pytest.approx(low)
    assert experiment[f"{paths.ANALYSIS_METRICS}:{FIRST}.accuracy_ci_high"] == pytest.approx(high)
    assert experiment[f"{paths.ANALYSIS_METRICS}:{FIRST}.accuracy"] == after[FIRST]["accuracy"]

    # The README's `dvc exp show` fits a 200-column terminal: nothing collapsed to "…".
    table = subprocess.run(
        readme_command("dvc exp show"),
        cwd=demo,
        env={**stage_env(dora), "COLUMNS": "200"},
        capture_output=True,
        text=True,
    )
    assert "analyze.confidence" in exp_show_columns(table) and "conf90" in table.stdout

    # The dashboard's Experiments data: the same values, row by row.
    from dashboard import data

    frame = data.experiments(demo, 2).value.set_index("name")
    assert frame.loc["conf90", "param:analyze.confidence"] == 0.9
    assert frame.loc["conf90", "state"] == "success"
    assert frame.loc["main", f"metric:{FIRST}.accuracy"] == after[FIRST]["accuracy"]
    commits = frame[frame["type"] == "commit"]
    assert sorted(commits["param:lora.r"]) == [4, 8]
    assert (
        frame.loc["main", f"metric:train.lora.seed_{SEEDS[0]}.dev_accuracy"]
        == read_json(demo / paths.train_metrics("lora", SEEDS[0]))["dev_accuracy"]
    )


def test_run_cache_lets_a_colleague_skip_a_stage_computed_elsewhere(team, rank4):
    # Dora computed lora.r=4 and pushed the run cache; Frank, in a clone of Alice's commit,
    # sets the same params and pulls it: nothing is computed again.
    frank = clone(team, "frank", pull=False)
    params = rank4["clone"] / "demo" / "params.yaml"  # Dora's file, as she committed it
    (frank / "demo" / "params.yaml").write_bytes(params.read_bytes())
    # --pull fetches the run-cache entries and the outputs they name from the remote.
    out = run_cli(["dvc", "repro", "--pull"], frank / "demo", frank)
    cached = set(re.findall(r"Stage '([^']+)' is cached", out))
    assert cached >= LORA_CHAIN
    assert stages_run(out) == set()
    assert outputs(frank / "demo") == rank4["outputs"]
