"""Team reproducibility, end to end, with real DVC in temporary clones (offline).

Alice runs the demo exactly as ``make demo`` does, once for the session (``demo_pipeline``),
commits and pushes to the default local-directory remote. Every test that changes something
works in its own clone of Alice's commit, so the tests are independent of one another and of
their order. Which stages ran is read from DVC's own output; values are compared with the files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.metrics import wilson_interval
from pipeline import _kernels
from pipeline.lib import catalogue, paths
from pipeline.lib.io import read_parquet_metadata
from tests.conftest import (
    GIT,
    REPO,
    dvc,
    git_commit,
    merge_params,
    run_cli,
    stage_env,
    stages_run,
)

pytestmark = pytest.mark.slow

# The demo trains three seeds: train@<seed> and that seed's two predict stages each.
SEEDS = yaml.safe_load((Path(__file__).parents[1] / "demo/params.yaml").read_text())["seeds"][
    "train"
]
FIRST = paths.run_name("lora", SEEDS[0])  # the first seed's run, where one run is followed


def seed_chain(seed: int) -> set[str]:
    """The stages of one training seed's LoRA run."""
    return {f"train@{seed}", f"predict_seeded@lora-{seed}", f"predict_probes_seeded@lora-{seed}"}


UNSEEDED = [m for m in catalogue.names("model") if m not in catalogue.seeded_names()]
# Predictors of the analysis: a seeded one once per training seed (lora@seed<n>).
N_PREDICTORS = len(catalogue.names()) + len(catalogue.seeded_names()) * (len(SEEDS) - 1)
# check_params validates the whole params.yaml: any edit of the file reruns it (its output stays).
ALL_STAGES = {
    "check_params",
    "prepare",
    "base_model",
    "probe",
    "analyze",
    *(f"{stage}@{m}" for m in UNSEEDED for stage in ("predict", "predict_probes")),
    *(f"baselines@{b}" for b in catalogue.names("baseline")),
    *(stage for seed in SEEDS for stage in seed_chain(seed)),
}
# What a LoRA setting reruns: every seed's chain and the analysis (check_params: any edit).
LORA_CHAIN = {
    "check_params",
    "analyze",
    *(stage for seed in SEEDS for stage in seed_chain(seed)),
}


def outputs(study: Path) -> dict[str, bytes]:
    """Every file the pipeline wrote under data/, models/ and results/, by relative path."""
    return {
        str(file.relative_to(study)): file.read_bytes()
        for top in ("data", "models", "results")
        for file in sorted((study / top).rglob("*"))
        if file.is_file() and file.name != ".gitignore" and "raw" not in file.parts
    }


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def team(demo_pipeline) -> dict:
    """Alice's run (her tree is clean: the committed lock names it), pushed with the run cache."""
    alice = demo_pipeline["alice"]
    run_cli(["dvc", "push", "--run-cache"], alice / "demo", alice)
    return demo_pipeline


def clone(team: dict, name: str, pull: bool = True) -> Path:
    """A colleague's clone of Alice's repository (and her artifacts, pulled from the remote)."""
    where = team["root"] / name
    subprocess.run(["git", "clone", "-q", str(team["alice"]), str(where)], check=True)
    if pull:
        run_cli(["dvc", "pull"], where / "demo", where)
    return where


def set_params(study: Path, change: dict) -> None:
    params = merge_params(yaml.safe_load((study / "params.yaml").read_text()), change)
    (study / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


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

    procedure = pd.read_csv(study / paths.ANALYSIS_TABLES["procedure"]).iloc[0]
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
    assert len(titles) == len(paths.ANALYSIS_PLOTS) * N_PREDICTORS
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
        adapter = read_json(snapshot / paths.lora_dir(seed) / "metadata.json")
        assert adapter["run"]["seeds"] == {"seeds.train": seed} and adapter["seed"] == seed
        assert "wall_seconds" not in adapter
    config = read_json(snapshot / paths.lora_dir(SEEDS[0]) / "adapter_config.json")
    assert config["target_modules"] == sorted(config["target_modules"])
    summary = read_json(snapshot / paths.ANALYSIS_SUMMARY)
    assert summary["run"]["seeds"] == {"seeds.bootstrap": 1234, "seeds.train": SEEDS}
    assert summary["predictors"]["zero_shot"]["model"]["n_layer"] == 2


def cpu_has_avx512() -> bool:
    try:
        return " avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def other_kernels() -> dict[str, str]:
    """Kernel settings unlike the ones Alice's run had, in every library and the thread count.

    OpenBLAS (numpy, scipy) and torch: AVX2 where Alice's environment left AVX-512 (the
    default on an AVX-512 CPU), AVX-512 where it set AVX2; on a CPU without AVX-512, the
    older AVX (Sandy Bridge) kernels and torch's scalar ones, which any x86-64 CPU runs.
    """
    if not cpu_has_avx512():
        print("this CPU has no AVX-512: comparing its AVX2 kernels with AVX and scalar ones")
        return {"OPENBLAS_CORETYPE": "Sandybridge", "ATEN_CPU_CAPABILITY": "default"}
    alice_blas = os.environ.get("OPENBLAS_CORETYPE", "SkylakeX").lower()
    alice_torch = os.environ.get("ATEN_CPU_CAPABILITY", "avx512").lower()
    return {
        "OPENBLAS_CORETYPE": "SkylakeX" if alice_blas in {"haswell", "zen"} else "Haswell",
        "ATEN_CPU_CAPABILITY": "avx512" if alice_torch == "avx2" else "avx2",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


@pytest.mark.skipif(not _kernels._cpu_runs_avx2(), reason="this CPU runs no pinned kernels")
def test_every_kind_of_stage_gives_the_same_bytes_under_other_cpu_kernels(team):
    # Ivan's machine runs other linear-algebra kernels and thread counts than Alice's. He reruns
    # every stage of the demo (one training seed of three: each seed runs the same code) and
    # gets Alice's bytes: every output, and so the committed dvc.lock, unchanged.
    ivan = clone(team, "ivan")
    demo = ivan / "demo"
    kernels = other_kernels()
    print(f"Alice's environment: {[os.environ.get(k) for k in kernels]}; Ivan's: {kernels}")
    stages = [
        "check_params",
        "prepare",
        "base_model",
        "probe",
        *(f"{stage}@{m}" for stage in ("predict", "predict_probes") for m in UNSEEDED),
        *(f"baselines@{b}" for b in catalogue.names("baseline")),
        *sorted(seed_chain(SEEDS[0])),
        "analyze",
    ]
    env = {**stage_env(ivan), **kernels}
    done = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", *stages],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert stages_run(done.stdout + done.stderr) == set(stages)
    for name in ("zero_shot", FIRST, "tfidf_logreg"):  # what each prediction file records
        meta = read_parquet_metadata(demo / paths.predictions_path(name))
        assert meta["cpu_kernels"] == _kernels.PINNED_NAME
    ours, alices = outputs(demo), outputs(team["snapshot"])
    assert ours.keys() == alices.keys()
    differ = sorted(name for name in ours if ours[name] != alices[name])
    assert not differ, f"other bytes under {kernels}: {differ}"
    status = run_cli(["git", "status", "--porcelain"], ivan, ivan, stdout_only=True)
    assert status == "", status


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
        "train": read_json(demo / paths.lora_metrics(SEEDS[0])),
        "history": pd.read_csv(demo / paths.lora_history(SEEDS[0])),
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
    history_file = paths.lora_history(SEEDS[0])
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
    assert parent[f"{paths.lora_metrics(SEEDS[0])}:dev_accuracy"] == before_train["dev_accuracy"]
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
        frame.loc["main", f"metric:train.seed_{SEEDS[0]}.dev_accuracy"]
        == read_json(demo / paths.lora_metrics(SEEDS[0]))["dev_accuracy"]
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
    assert stages_run(out) == seed_chain(new) | {"check_params", "analyze"}
    after = outputs(demo)
    for seed in SEEDS:  # the other seeds' adapters and predictions: the same bytes
        for path in (
            paths.lora_dir(seed) / "adapter_model.safetensors",
            paths.predictions_path(paths.run_name("lora", seed)),
        ):
            assert after[str(path)] == before[str(path)]
    procedure = pd.read_csv(demo / paths.ANALYSIS_TABLES["procedure"]).iloc[0]
    assert procedure["n_seeds"] == 4
    summary = read_json(demo / paths.ANALYSIS_SUMMARY)
    assert summary["settings"]["training_seeds"]["lora"] == [*SEEDS, new]
    assert read_json(demo / paths.ANALYSIS_METRICS)["primary"]["n_seeds"] == 4
