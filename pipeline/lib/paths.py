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


# The stage groups of a seeded predictor's runs (dvc.yaml): each train group and the predict
# group that scores its runs. The catalogue says which train group a predictor is in
# (pipeline.lib.catalogue.train_stage); a run records its train stage in its metadata.json.
SEEDED_STAGE_GROUPS = {"train": "predict_seeded", "train_erased": "predict_erased"}


def predict_stage(predictor: str, seed: int | None = None, train_stage: str | None = None) -> str:
    """The DVC stage of a model predictor (one seed's run of it): ``predict_seeded@lora-1234``.

    One stage scores both the test split and the probe texts (``predict@zero_shot``). A seed's
    run is scored by the predict group paired with the train stage that made it
    (``train_stage``, e.g. ``train_erased@leace_head_only-1234``; default: ``train``).
    """
    if seed is None:
        return f"predict@{predictor}"
    group = SEEDED_STAGE_GROUPS[(train_stage or "train").split("@")[0]]
    return f"{group}@{predictor}-{seed}"


def checkpoints_dir(predictor: str) -> Path:
    """The resumable checkpoints of a trained predictor's runs in progress."""
    return CHECKPOINTS_DIR / predictor


# LEACE erasers (pipeline/lib/erasure.py): one folder per representation they erase gender from
# (models/erasers/base: the frozen base's, which head-only heads read), made by the erase stage.
ERASERS_DIR = TRAINED_DIR / "erasers"
# The gender probes' answers on every test bio, per representation, as is and erased
# (results/leakage/base.parquet): what the analysis reports as leakage.
LEAKAGE_DIR = Path("results/leakage")


# The one representation erased so far: the frozen base's, which head_only reads as it is and
# every `erased` predictor (leace_head_only) reads erased (pipeline/erase.py fits its eraser).
BASE_REPRESENTATION = "base"


def eraser_dir(representation: str) -> Path:
    """The LEACE eraser of one representation (``models/erasers/base``)."""
    return ERASERS_DIR / representation


def leakage_path(representation: str) -> Path:
    """The leakage probes' answers for one representation (``results/leakage/base.parquet``)."""
    return LEAKAGE_DIR / f"{representation}.parquet"


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
# A predictor's name (the catalogue's form), optionally one training seed's run of it.
RUN_NAME = re.compile(r"^([a-z][a-z0-9_]*)(?:@seed([0-9]+))?$")


def run_name(predictor: str, seed: int) -> str:
    """The name of one training seed's run of a seeded predictor: ``lora@seed1234``."""
    return f"{predictor}@seed{seed}"


def split_run(name: str) -> tuple[str, int | None]:
    """``("lora", 1234)`` for ``lora@seed1234``; ``(name, None)`` for any other name."""
    match = RUN_NAME.match(name)
    if match is None or match.group(2) is None:
        return name, None
    return match.group(1), int(match.group(2))


def predictions_path(predictor: str) -> Path:
    """The predictions of one predictor on the test split."""
    return PREDICTIONS_DIR / f"{predictor}.parquet"


def probe_predictions_path(predictor: str) -> Path:
    """The predictions of one predictor on the probe texts."""
    return PROBE_PREDICTIONS_DIR / f"{predictor}.parquet"


# Outputs of the analyze stage: the folder ANALYSIS_DIR (tables, report, summary, plot data),
# replaced whole by each run, and beside it the headline numbers as DVC metrics (what `dvc exp
# show` and `dvc metrics diff` show). What is inside each file: pipeline/lib/contract.py.
ANALYSIS_METRICS = Path("results/metrics.json")
ANALYSIS_SUMMARY = ANALYSIS_DIR / "summary.json"
ANALYSIS_REPORT = ANALYSIS_DIR / "report.md"
ANALYSIS_REPORT_HTML = ANALYSIS_DIR / "report.html"  # the same, self-contained, with figures
# Per-predictor plot data for DVC's top-level `plots:` (one file per predictor and plot, so that
# DVC draws one panel per predictor with its built-in templates; the plots: contract.PLOTS).
ANALYSIS_PLOTS_DIR = ANALYSIS_DIR / "plots"


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
