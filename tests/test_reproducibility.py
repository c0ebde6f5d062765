"""Team reproducibility, end to end, with real DVC in temporary clones (offline).

Alice runs the whole (shrunk) demo pipeline once for the session (``demo_pipeline``), commits
and pushes to the default local-directory remote; Bob clones Alice and pulls; Carol runs
Alice's commit from scratch. Which stages ran is read from DVC's own output.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline import paths
from tests.conftest import git_commit, merge_params, run_cli, stages_run

pytestmark = pytest.mark.slow

ALL_STAGES = {
    "prepare",
    "base_model",
    "probe",
    "baselines",
    "train",
    "predict@zero_shot",
    "predict@random_head",
    "predict@lora",
    "predict_probes@zero_shot",
    "predict_probes@random_head",
    "predict_probes@lora",
    "analyze",
}
LORA_CHAIN = {"train", "predict@lora", "predict_probes@lora", "analyze"}


def outputs(study: Path) -> dict[str, bytes]:
    """Every file the pipeline wrote under data/ and results/, by relative path."""
    return {
        str(file.relative_to(study)): file.read_bytes()
        for top in ("data", "results")
        for file in sorted((study / top).rglob("*"))
        if file.is_file() and file.name != ".gitignore"
    }


@pytest.fixture(scope="module")
def team(demo_pipeline) -> dict:
    """Alice's run, committed and pushed (with the run cache) to the default remote."""
    alice = demo_pipeline["alice"]
    git_commit(alice, "results of the demo run")  # dvc.lock and DVC's .gitignore entries
    # Targets: the demo's own dvc.yaml (a bare `dvc push` would also visit the real study).
    run_cli(["dvc", "push", "--run-cache", "dvc.yaml"], alice / "demo", alice)
    return demo_pipeline


def test_repro_runs_every_stage_and_then_nothing(team):
    assert stages_run(team["first"]) == ALL_STAGES
    assert stages_run(team["second"]) == set()
    print(f"first run {team['first_seconds']:.1f} s, no-op {team['noop_seconds']:.2f} s")
    metrics = json.loads((team["snapshot"] / paths.ANALYSIS_DIR / "metrics.json").read_text())
    assert set(metrics["predictors"]) == {
        "zero_shot",
        "random_head",
        "lora",
        "pronoun_rule",
        "tfidf_logreg",
    }
    assert metrics["data"]["synthetic"] is True


def test_results_record_params_seeds_versions_device_and_revision(team):
    from pipeline.io import read_parquet_metadata

    for name in ("zero_shot", "lora", "tfidf_logreg"):
        meta = read_parquet_metadata(team["snapshot"] / paths.predictions_path(name))
        assert meta["git_revision"] == team["rev"] and meta["device"].startswith("cpu")
        assert "seeds" in meta and meta["params"] and meta["versions"]["torch"]
    assert read_parquet_metadata(team["snapshot"] / paths.predictions_path("lora"))["seeds"]
    metrics = json.loads((team["snapshot"] / paths.ANALYSIS_DIR / "metrics.json").read_text())
    assert metrics["run"]["git_revision"] == team["rev"]
    assert metrics["run"]["seeds"] == {"bootstrap": 1234}


def test_two_clean_clones_give_identical_outputs(team):
    carol = team["root"] / "carol"
    subprocess.run(["git", "clone", "-q", str(team["alice"]), str(carol)], check=True)
    subprocess.run(["git", "checkout", "-q", team["rev"]], cwd=carol, check=True)
    assert stages_run(run_cli(["dvc", "repro"], carol / "demo", carol)) == ALL_STAGES
    mine, theirs = outputs(team["snapshot"]), outputs(carol / "demo")
    assert mine.keys() == theirs.keys()
    assert [name for name in mine if mine[name] != theirs[name]] == []


def test_clone_and_pull_runs_nothing_and_gives_the_same_bytes(team):
    alice, root = team["alice"], team["root"]
    assert (root / "bios-lora-dvc-remote").is_dir()  # the default remote, beside the clone
    bob = root / "bob"
    subprocess.run(["git", "clone", "-q", str(alice), str(bob)], check=True)
    run_cli(["dvc", "pull", "dvc.yaml"], bob / "demo", bob)
    assert stages_run(run_cli(["dvc", "repro"], bob / "demo", bob)) == set()
    assert outputs(bob / "demo") == outputs(team["snapshot"])


def test_analysis_param_reruns_only_analyze(team):
    alice = team["alice"]
    out = run_cli(
        ["dvc", "exp", "run", "-n", "fewer-resamples", "-S", "analyze.bootstrap_resamples=150"],
        alice / "demo",
        alice,
    )
    assert stages_run(out) == {"analyze"}


def test_lora_param_reruns_only_the_lora_chain(team):
    alice = team["alice"]
    out = run_cli(["dvc", "exp", "run", "-n", "rank4", "-S", "lora.r=4"], alice / "demo", alice)
    assert {"train", "predict@lora", "analyze"} <= stages_run(out) <= LORA_CHAIN
    assert "rank4" in run_cli(["dvc", "exp", "show", "--json"], alice / "demo", alice)
    # `dvc exp run` leaves the experiment's results in the workspace: diff them against HEAD.
    diff = json.loads(
        run_cli(["dvc", "metrics", "diff", "--json"], alice / "demo", alice, stdout_only=True)
    )
    assert "results/lora/metrics.json" in diff
    assert any("accuracy" in key for key in diff["results/lora/metrics.json"])


def test_queued_experiments_run_all(team):
    alice = team["alice"]
    # Analysis settings, so that each queued run recomputes only the analysis.
    for name, confidence in (("queued-90", 0.9), ("queued-99", 0.99)):
        run_cli(
            ["dvc", "exp", "run", "--queue", "-n", name, "-S", f"analyze.confidence={confidence}"],
            alice / "demo",
            alice,
        )
    run_cli(["dvc", "exp", "run", "--run-all"], alice / "demo", alice)
    shown = run_cli(["dvc", "exp", "show", "--json"], alice / "demo", alice)
    assert "queued-90" in shown and "queued-99" in shown


def test_run_cache_lets_a_colleague_skip_a_stage_computed_elsewhere(team):
    # Alice computed lora.r=4 as an experiment; Bob sets the same params and pulls the run cache.
    alice, bob = team["alice"], team["root"] / "bob"
    run_cli(["dvc", "push", "--run-cache", "dvc.yaml"], alice / "demo", alice)
    params_file = bob / "demo" / "params.yaml"
    params = merge_params(yaml.safe_load(params_file.read_text()), {"lora": {"r": 4}})
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    # --pull fetches the run-cache entries and the outputs they name from the remote.
    out = run_cli(["dvc", "repro", "--pull"], bob / "demo", bob)
    cached = set(re.findall(r"Stage '([^']+)' is cached", out))
    assert {"train", "predict@lora", "predict_probes@lora"} <= cached
    # analyze reruns only because Alice's experiment also had fewer bootstrap resamples
    assert stages_run(out) <= {"analyze"}


def test_dashboard_reads_the_experiments(team):
    from dashboard import data

    loaded = data.experiments(team["alice"] / "demo", 3)
    assert loaded.ok, loaded.problem
    assert {"rank4", "queued-90", "queued-99"} <= set(loaded.value["name"].astype(str))
