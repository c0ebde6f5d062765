"""Every artifact path, relative to the study directory; ``dvc.yaml`` declares the same ones.

``tests/test_dvc_pipeline.py`` checks that the two agree, so a path is decided here once.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.lib.errors import SuiteError

SPLITS = ("train", "dev", "test")

# Local input files (data.source: local) live here; the prepare stage depends on the folder.
RAW_DATA_DIR = Path("data/raw")
SPLITS_DIR = Path("data/splits")
# The check_params stage's record that the whole params.yaml is valid (constant bytes); prepare
# depends on it, so `dvc repro` validates params.yaml before any other stage.
PARAMS_CHECK = Path("results/params_check.json")
PROFILE = Path("data/profile.json")
BASE_MODEL_DIR = Path("models/base")
# Inside BASE_MODEL_DIR: which base model the study uses (source, name or path, revision).
BASE_REFERENCE_FILE = "reference.json"
# A trained predictor (pipeline/catalogue.yaml's `trained`) has one run per training seed
# (seeds.train), each in its own folder, so that adding a seed adds one train stage
# (train@<name>-<seed>) and touches no other run's outputs: its weights in
# models/<name>/seed_<n>/, its training curve and dev scores in results/training/<name>/seed_<n>/
# (one folder for every trained predictor: the analyze stage depends on it whole).
TRAINED_DIR = Path("models")
TRAINED_RESULTS_DIR = Path("results/training")
# Resumable training checkpoints: NOT a DVC out (DVC deletes a stage's outs before running it,
# which would throw the checkpoints away); checkpoints/<name>/<run fingerprint>/, removed on
# success.
CHECKPOINTS_DIR = Path("checkpoints")
HISTORY_COLUMNS = ("step", "epoch", "train_loss", "dev_accuracy", "dev_loss", "learning_rate")


def seed_folder(seed: int) -> str:
    """The folder name of one training seed's run: ``seed_<n>``."""
    return f"seed_{seed}"


def trained_dir(predictor: str, seed: int) -> Path:
    """The weights of one seed's run of a trained predictor (``models/lora/seed_1234``)."""
    return TRAINED_DIR / predictor / seed_folder(seed)


def trained_results_dir(predictor: str) -> Path:
    """Every run's curve and dev scores of a trained predictor (``results/training/lora``)."""
    return TRAINED_RESULTS_DIR / predictor


def train_history(predictor: str, seed: int) -> Path:
    """DVC plot of one run: dev metrics per evaluation step."""
    return trained_results_dir(predictor) / seed_folder(seed) / "history.csv"


def train_metrics(predictor: str, seed: int) -> Path:
    """DVC metrics of one run: final dev metrics."""
    return trained_results_dir(predictor) / seed_folder(seed) / "metrics.json"


def train_stage(predictor: str, seed: int) -> str:
    """The DVC stage of one run, as dvc.yaml's matrix names it: ``train@lora-1234``."""
    return f"train@{predictor}-{seed}"


def checkpoints_dir(predictor: str) -> Path:
    """The resumable checkpoints of a trained predictor's runs in progress."""
    return CHECKPOINTS_DIR / predictor


PREDICTIONS_DIR = Path("results/predictions")
PROBES_DIR = Path("data/probes")
ANALYSIS_DIR = Path("results/analysis")


def split_path(split: str) -> Path:
    """The parquet file of one prepared split."""
    return SPLITS_DIR / f"{split}.parquet"


# Counterfactual probes of the test split (gendered words swapped / removed) and every
# predictor's predictions on them (same schema as PREDICTIONS_DIR, one file per predictor).
PROBES_FILE = PROBES_DIR / "probes.parquet"
PROBE_PREDICTIONS_DIR = Path("results/probes")


# A seeded predictor (pipeline/catalogue.yaml's `trained`) has one run per training seed, named
# `<predictor>@seed<n>`: its predictions are results/predictions/<predictor>@seed<n>.parquet.
_RUN = re.compile(r"^([a-z][a-z0-9_]*)@seed([0-9]+)$")


def run_name(predictor: str, seed: int) -> str:
    """The name of one training seed's run of a seeded predictor: ``lora@seed1234``."""
    return f"{predictor}@seed{seed}"


def split_run(name: str) -> tuple[str, int | None]:
    """``("lora", 1234)`` for ``lora@seed1234``; ``(name, None)`` for any other name."""
    match = _RUN.match(name)
    return (match.group(1), int(match.group(2))) if match else (name, None)


def predictions_path(predictor: str) -> Path:
    """The predictions of one predictor on the test split."""
    return PREDICTIONS_DIR / f"{predictor}.parquet"


def probe_predictions_path(predictor: str) -> Path:
    """The predictions of one predictor on the probe texts."""
    return PROBE_PREDICTIONS_DIR / f"{predictor}.parquet"


# Outputs of the analyze stage (the contract the dashboard reads: docs in analysis/analyze.py):
# the folder ANALYSIS_DIR (tables, report, summary, plot data), replaced whole by each run, and
# beside it the headline numbers as DVC metrics (what `dvc exp show` and `dvc metrics diff` show).
ANALYSIS_METRICS = Path("results/metrics.json")
ANALYSIS_SUMMARY = ANALYSIS_DIR / "summary.json"
# Every analysis table and its columns, in the order the analyze stage writes them.
ANALYSIS_COLUMNS: dict[str, tuple[str, ...]] = {
    "overall": ("predictor", "metric", "value", "ci_low", "ci_high", "ci_method", "n"),
    "pairs": (
        "predictor_a",
        "predictor_b",
        "family",
        "n",
        "both_correct",
        "a_only_correct",
        "b_only_correct",
        "both_wrong",
        "acc_a",
        "acc_b",
        "acc_diff",
        "diff_ci_low",
        "diff_ci_high",
        "ci_level",
        "p_value",
        "p_adjusted",
        "significant",
        "verdict",
    ),
    "groups": (
        "predictor",
        "profession_id",
        "profession",
        "gender",
        "n",
        "errors",
        "error_rate",
        "error_ci_low",
        "error_ci_high",
        "tpr",
        "small",
    ),
    "gaps": (
        "predictor",
        "profession_id",
        "profession",
        "n_female",
        "n_male",
        "correct_female",
        "correct_male",
        "tpr_female",
        "tpr_male",
        "gap",
        "gap_ci_low",
        "gap_ci_high",
        "p_value",
        "p_holm",
        "p_bh",
        "significant",
        "evidence",
        "small",
        "share_women",
    ),
    "proxy": (
        "predictor",
        "n_professions",
        "pearson_r",
        "pearson_p",
        "spearman_rho",
        "spearman_p",
        "slope",
        "slope_stderr",
        "intercept",
        "direction",
        "verdict",
    ),
    "calibration": (
        "predictor",
        "bin",
        "mean_predicted",
        "fraction_female",
        "count",
        "bin_low",
        "bin_high",
    ),
    "probes": (
        "predictor",
        "profession",
        "variant",
        "n",
        "flips",
        "flip_rate",
        "flip_ci_low",
        "flip_ci_high",
        "accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "accuracy_original",
    ),
    # Comparisons at the level of the procedure (mean over training seeds, with the
    # Multi-Bootstrap over seeds and test bios): analyze.primary when it has a seeded side
    # (family primary), then every other trained predictor against both of its sides
    # (family secondary, Holm-adjusted).
    "procedure": (
        "predictor_a",
        "predictor_b",
        "family",
        "n_seeds",
        "n_bios",
        "resamples",
        "acc_a",
        "acc_b_mean",
        "acc_diff",
        "diff_ci_low",
        "diff_ci_high",
        "ci_level",
        "p_value",
        "p_adjusted",
        "significant",
        "sd_joint",
        "sd_seeds",
        "sd_bios",
        "seed_share",
        "seeds_significant",
        "verdict",
        "variance_verdict",
    ),
    # Every headline metric across the training seeds of each seeded predictor.
    "seeds": ("predictor", "metric", "n_seeds", "mean", "sd", "min", "max"),
    # Each profession's TPR gap at the level of the procedure (mean over seeds, Multi-Bootstrap):
    # stable when its interval excludes 0; seeds_significant counts the single-seed gaps that
    # were significant (gaps.csv, Holm across professions).
    "seed_gaps": (
        "predictor",
        "profession_id",
        "profession",
        "n_seeds",
        "gap",
        "gap_ci_low",
        "gap_ci_high",
        "p_value",
        "stable",
        "seeds_significant",
        "small",
    ),
    # The proxy-bias slope (gap on the share of women) at the level of the procedure.
    "seed_proxy": (
        "predictor",
        "n_seeds",
        "n_professions",
        "slope",
        "slope_ci_low",
        "slope_ci_high",
        "p_value",
        "direction",
        "verdict",
    ),
}
# The boolean columns of the analysis tables (CSV stores them as text).
ANALYSIS_BOOLEAN_COLUMNS = ("significant", "small")
ANALYSIS_TABLES = {name: ANALYSIS_DIR / f"{name}.csv" for name in ANALYSIS_COLUMNS}
ANALYSIS_REPORT = ANALYSIS_DIR / "report.md"
ANALYSIS_REPORT_HTML = ANALYSIS_DIR / "report.html"  # the same, self-contained, with figures
# Per-predictor plot data for DVC's top-level `plots:` (one file per predictor and plot, so that
# DVC draws one panel per predictor with its built-in templates).
ANALYSIS_PLOTS_DIR = ANALYSIS_DIR / "plots"
ANALYSIS_PLOTS = ("gaps", "proxy", "calibration")


def analysis_plot_path(plot: str, predictor: str) -> Path:
    """The data of one DVC plot for one predictor."""
    return ANALYSIS_PLOTS_DIR / plot / f"{predictor}.csv"


# Each stage's run log (git revision, times): git-ignored, depended on by no stage, so that it
# never invalidates an output (pipeline/lib/provenance.py).
RUNS_DIR = Path("runs")


def run_log_path(stage: str) -> Path:
    """The run log of one stage (``predict@lora`` -> ``runs/predict@lora.json``)."""
    return RUNS_DIR / f"{stage}.json"


def require(path: Path, stage: str) -> Path:
    """Return ``path``; stop with one line naming the stage to run when it does not exist."""
    if not path.is_file():
        raise SuiteError(f"{path}: not found; run the {stage} stage first (dvc repro {stage})")
    return path
