"""Every artifact path, relative to the study directory; ``dvc.yaml`` declares the same ones.

``tests/test_dvc_yaml.py`` checks that the two agree, so a path is decided here once.
"""

from __future__ import annotations

from pathlib import Path

SPLITS = ("train", "dev", "test")

SPLITS_DIR = Path("data/splits")
PROFILE = Path("data/profile.json")
BASE_MODEL_DIR = Path("models/base")
LORA_DIR = Path("models/lora")
# Resumable training checkpoints: NOT a DVC out (DVC deletes a stage's outs before running it,
# which would throw the checkpoints away); one subfolder per run fingerprint, removed on success.
LORA_CHECKPOINTS_DIR = Path("checkpoints/lora")
LORA_HISTORY = Path("results/lora/history.csv")  # DVC plot: dev metrics per evaluation step
LORA_METRICS = Path("results/lora/metrics.json")  # DVC metrics: final dev metrics
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


def predictions_path(predictor: str) -> Path:
    """The predictions of one predictor on the test split."""
    return PREDICTIONS_DIR / f"{predictor}.parquet"


def probe_predictions_path(predictor: str) -> Path:
    """The predictions of one predictor on the probe texts."""
    return PROBE_PREDICTIONS_DIR / f"{predictor}.parquet"
