"""Team reproducibility, end to end, with real DVC in temporary clones (offline).

Alice runs the demo exactly as ``make demo`` does, once for the session (``demo_pipeline``),
commits and pushes to the default local-directory remote. Every test that changes something
works in its own clone of Alice's commit, so the tests are independent of one another and of
their order. Which stages ran is read from DVC's own output; values are compared with the files.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.lib import catalogue, contract, paths
from pipeline.lib.io import read_parquet_metadata
from tests.conftest import (
    GIT,
    dvc,
    run_cli,
    stages_run,
)
from tests.team import (
    ALL_STAGES,
    FIRST,
    N_PREDICTORS,
    SEEDS,
    clone,
    outputs,
    read_json,
    seed_chains,
    set_params,
)

pytestmark = pytest.mark.slow


def test_repro_runs_every_stage_and_then_nothing(demo_pipeline):
    assert stages_run(demo_pipeline["first"]) == ALL_STAGES
    assert stages_run(demo_pipeline["second"]) == set()
    print(
        f"make demo: {demo_pipeline['first_seconds']:.1f} s, "
        f"no-op repro {demo_pipeline['noop_seconds']:.2f} s"
    )
    summary = read_json(demo_pipeline["snapshot"] / paths.ANALYSIS_SUMMARY)
    # every predictor of the catalogue, the seeded one as its runs (lora@seed<n>)
    assert {paths.split_run(name)[0] for name in summary["predictors"]} == set(catalogue.names())
    assert len(summary["predictors"]) == N_PREDICTORS
    assert summary["data"]["synthetic"] is True


def test_the_demo_shows_lora_fine_tuning_beating_zero_shot_over_its_seeds(demo_pipeline):
    """The demo's procedure-level gain is significant, and the report's numbers are the files'."""
    from scipy.stats import binomtest
    from statsmodels.stats.multitest import multipletests

    study = demo_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test"))[["id", "gender_id"]]
    correct = {}
    for name in ("zero_shot", *(paths.run_name("lora", s) for s in SEEDS)):
        pred = pd.read_parquet(study / paths.predictions_path(name))[["id", "pred"]]
        joined = test.merge(pred, on="id", validate="one_to_one")
        correct[name] = (joined["pred"] == joined["gender_id"]).to_numpy()
    runs = [paths.run_name("lora", s) for s in SEEDS]
    # Per seed: exact McNemar (the binomial test on the discordant bios), Holm across seeds.
    p_values = []
    for run in runs:
        lora_only = int((correct[run] & ~correct["zero_shot"]).sum())
        zero_only = int((correct["zero_shot"] & ~correct[run]).sum())
        p_values.append(binomtest(lora_only, lora_only + zero_only, 0.5).pvalue)
    holm = multipletests(p_values, method="holm")[1]
    level = yaml.safe_load((study / "params.yaml").read_text())["analyze"]["confidence"]
    mean_diff = float(np.mean([correct[r].mean() - correct["zero_shot"].mean() for r in runs]))

    procedure = pd.read_csv(study / contract.TABLES["procedure"].file()).iloc[0]
    assert procedure["n_seeds"] == len(SEEDS) == 3
    assert procedure["acc_diff"] == pytest.approx(mean_diff, abs=1e-12)
    assert procedure["seeds_significant"] == int((holm < 1 - level).sum())
    assert bool(procedure["significant"]) and procedure["diff_ci_low"] > 0
    assert procedure["p_value"] < 1 - level
    pairs = pd.read_csv(study / paths.ANALYSIS_DIR / "pairs.csv")
    primary = pairs[pairs["family"] == "primary"].set_index("predictor_b")
    assert list(primary.index) == runs
    assert primary["p_value"].tolist() == pytest.approx(p_values, rel=1e-9)
    assert primary["p_adjusted"].tolist() == pytest.approx(list(holm), rel=1e-9)
    report = (study / paths.ANALYSIS_DIR / "report.md").read_text()
    assert f"**{procedure['verdict']}**" in report and procedure["variance_verdict"] in report
    assert procedure["verdict"].startswith(
        f"Over {len(SEEDS)} training seeds, lora (LoRA fine-tuned) is more accurate than zero_shot"
    )
    assert f"{100 * mean_diff:.1f} percentage points on average" in procedure["verdict"]
    metrics = read_json(study / paths.ANALYSIS_METRICS)
    assert metrics["primary"]["acc_diff"] == pytest.approx(mean_diff, abs=1e-12)
    assert metrics["primary"]["n_seeds"] == len(SEEDS)
    print(f"demo: {procedure['verdict']}\n{procedure['variance_verdict']}")


def test_the_head_only_predictor_runs_end_to_end_in_the_demo(demo_pipeline):
    """Frozen base + trained head: its runs, weights, scores and comparisons over seeds."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    study = demo_pipeline["snapshot"]
    test = pd.read_parquet(study / paths.split_path("test"))
    base = AutoModelForSequenceClassification.from_pretrained(
        study / paths.BASE_MODEL_DIR, num_labels=2, use_safetensors=True
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(study / paths.BASE_MODEL_DIR)
    base.config.pad_token_id = tokenizer.eos_token_id
    width = base.config.n_embd
    correct = {}
    for seed in SEEDS:
        run = paths.run_name("head_only", seed)
        # the run saved its head alone: one (2, width) tensor; it trained nothing else
        head = load_file(study / paths.trained_dir("head_only", seed) / "head.safetensors")
        assert list(head) == ["score.weight"] and tuple(head["score.weight"].shape) == (2, width)
        metrics = read_json(study / paths.train_metrics("head_only", seed))
        assert metrics["trainable_params"] == 2 * width
        frame = pd.read_parquet(study / paths.predictions_path(run))
        assert len(frame) == len(test) and set(frame["predictor"]) == {run}
        # an independent scoring of a few bios: the stock classifier with the saved head
        with torch.no_grad():
            base.score.weight.copy_(head["score.weight"])
            few = test.head(8)
            logits = [base(**tokenizer(text, return_tensors="pt")).logits[0] for text in few.text]
        probs = torch.softmax(torch.stack(logits), dim=-1)[:, 1].numpy()
        shown = frame.set_index("id").loc[few["id"], "prob_female"].to_numpy()
        np.testing.assert_allclose(shown, probs, atol=1e-5)
        joined = test.merge(frame[["id", "pred"]], on="id", validate="one_to_one")
        correct[run] = (joined["pred"] == joined["gender_id"]).mean()
    procedure = pd.read_csv(study / contract.TABLES["procedure"].file())
    rows = procedure.set_index(["predictor_a", "predictor_b"])
    against_zero, against_lora = (
        rows.loc[("zero_shot", "head_only")],
        rows.loc[("head_only", "lora")],
    )
    for row in (against_zero, against_lora):
        assert row["family"] == "secondary" and row["n_seeds"] == len(SEEDS)
    mean = float(np.mean(list(correct.values())))
    assert against_zero["acc_b_mean"] == pytest.approx(mean, abs=1e-12)
    assert against_lora["acc_a"] == pytest.approx(mean, abs=1e-12)
    # the report lists both comparisons, each as the analysis worded it
    report = (study / paths.ANALYSIS_DIR / "report.md").read_text()
    assert "## Other trained predictors over training seeds" in report
    assert against_zero["verdict"] in report and against_lora["verdict"] in report
    print(f"demo: {against_zero['verdict']}\ndemo: {against_lora['verdict']}")


def test_dvc_plots_show_renders_offline_without_errors(demo_pipeline, tmp_path):
    """`dvc plots show` in the demo: exit 0, no error line, Vega inline (no CDN)."""
    demo = demo_pipeline["alice"] / "demo"
    out = tmp_path / "plots"
    result = dvc(["plots", "show", "-o", str(out)], demo, demo_pipeline["alice"])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).lower().splitlines()
    assert not [line for line in lines if "error" in line or "warning" in line], lines
    page = (out / "index.html").read_text()
    assert not re.findall(r"<script[^>]*\bsrc=", page)  # Vega is inline: nothing to fetch
    assert "vegaEmbed" in page and page.count("vegaEmbed(") >= 4  # every plot of dvc.yaml
    # Every analysis panel names its predictor (DVC titles it with its file's path).
    shown = json.loads(
        run_cli(["dvc", "plots", "show", "--json"], demo, demo_pipeline["alice"], True, True)
    )
    titles = {
        name: entry["content"]["title"]["text"]
        for name, entries in shown["data"].items()
        for entry in entries
        if name.startswith(str(paths.ANALYSIS_PLOTS_DIR))
    }
    assert len(titles) == len(contract.PLOTS) * N_PREDICTORS
    for name, title in titles.items():
        assert paths.split_run(Path(name).stem)[0] in catalogue.names(), name
        assert Path(name).stem in title, title


def test_a_fresh_clone_stays_clean_after_the_demo(demo_pipeline):
    # The committed demo/dvc.lock names exactly the outputs this code makes from scratch, so
    # DVC rewrites it with the same bytes: nothing in git changes, nothing is "dirty".
    assert demo_pipeline["status"] == "", (
        "the demo run changed tracked files; if it is demo/dvc.lock, it is out of date with "
        "the code: run `make demo` and commit demo/dvc.lock\n" + demo_pipeline["status"]
    )
    logs = sorted((demo_pipeline["snapshot"] / paths.RUNS_DIR).glob("*.json"))
    # every stage that computes writes its run log (check_params only validates: no log)
    assert {log.stem for log in logs} == ALL_STAGES - {"check_params"}
    for log in logs:
        record = read_json(log)
        assert record["git_revision"] == demo_pipeline["rev"], log.name
        assert record["git_dirty"] is False, log.name


def test_outputs_record_params_seeds_versions_and_device_but_no_time(demo_pipeline):
    snapshot = demo_pipeline["snapshot"]
    for name in ("zero_shot", FIRST, "tfidf_logreg"):
        meta = read_parquet_metadata(snapshot / paths.predictions_path(name))
        assert meta["device"].startswith("cpu") and meta["versions"]["torch"]
        assert meta["params"] and "seeds" in meta
        assert not {"git_revision", "git_dirty", "wall_seconds"} & set(meta)
    assert read_parquet_metadata(snapshot / paths.predictions_path("random_head"))["seeds"] == {
        "predict.random_head.seed": 1234
    }
    for seed in SEEDS:
        adapter = read_json(snapshot / paths.trained_dir("lora", seed) / "metadata.json")
        assert adapter["run"]["seeds"] == {"seeds.train": seed} and adapter["seed"] == seed
        assert "wall_seconds" not in adapter
    config = read_json(snapshot / paths.trained_dir("lora", SEEDS[0]) / "adapter_config.json")
    assert config["target_modules"] == sorted(config["target_modules"])
    summary = read_json(snapshot / paths.ANALYSIS_SUMMARY)
    assert summary["run"]["seeds"] == {"seeds.bootstrap": 1234, "seeds.train": SEEDS}
    assert summary["predictors"]["zero_shot"]["model"]["n_layer"] == 2


def test_clone_and_pull_runs_nothing_and_gives_the_same_bytes(team):
    assert (team["root"] / "bios-lora-dvc-remote").is_dir()  # the default remote, beside it
    bob = clone(team, "bob")
    assert stages_run(run_cli(["dvc", "repro"], bob / "demo", bob)) == set()
    assert outputs(bob / "demo") == outputs(team["snapshot"])


def test_analysis_param_reruns_only_analyze(team):
    carol = clone(team, "carol")
    out = run_cli(
        ["dvc", "exp", "run", "-n", "fewer-resamples", "-S", "analyze.bootstrap_resamples=150"],
        carol / "demo",
        carol,
    )
    # check_params validates the whole edited params.yaml (cheap, its output never changes)
    assert stages_run(out) == {"check_params", "analyze"}
    # DVC wrote the key back into params.yaml: one line of it changed, comments and all kept.
    diff = run_cli(["git", "diff", "--numstat", "demo/params.yaml"], carol, carol, True, True)
    assert diff.split()[:2] == ["1", "1"], diff


def test_git_identity_is_only_in_the_run_logs(team):
    # The same commit, a comment edit in a stage's module: every output byte stays, and DVC
    # reruns nothing past the edited stage.
    grace = clone(team, "grace")
    probe = grace / "pipeline" / "probe.py"
    probe.write_text(probe.read_text() + "\n# a comment that changes no output\n")
    subprocess.run([*GIT, "commit", "-qam", "comment"], cwd=grace, check=True)
    before = outputs(grace / "demo")
    out = run_cli(["dvc", "repro"], grace / "demo", grace)
    assert stages_run(out) == {"probe"}
    assert outputs(grace / "demo") == before


def test_adding_a_seed_trains_only_that_seed_and_the_analysis_reports_it(team):
    # Hana adds a fourth training seed: DVC runs that seed's train and predict stages and the
    # analysis, nothing else; the three cached seeds are not retrained.
    hana = clone(team, "hana")
    demo = hana / "demo"
    before = outputs(demo)
    new = max(SEEDS) + 1
    set_params(demo, {"seeds": {"train": [*SEEDS, new]}})
    out = run_cli(["dvc", "repro"], demo, hana)
    assert stages_run(out) == {*seed_chains(new), "check_params", "analyze"}
    after = outputs(demo)
    for seed in SEEDS:  # the other seeds' adapters and predictions: the same bytes
        for path in (
            paths.trained_dir("lora", seed) / "adapter_model.safetensors",
            paths.predictions_path(paths.run_name("lora", seed)),
        ):
            assert after[str(path)] == before[str(path)]
    procedure = pd.read_csv(demo / contract.TABLES["procedure"].file()).iloc[0]
    assert procedure["n_seeds"] == 4
    summary = read_json(demo / paths.ANALYSIS_SUMMARY)
    assert summary["settings"]["training_seeds"]["lora"] == [*SEEDS, new]
    assert read_json(demo / paths.ANALYSIS_METRICS)["primary"]["n_seeds"] == 4
