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
PREDICTIONS_DIR = Path("results/predictions")
PROBES_DIR = Path("data/probes")
ANALYSIS_DIR = Path("results/analysis")


def split_path(split: str) -> Path:
    """The parquet file of one prepared split."""
    return SPLITS_DIR / f"{split}.parquet"
