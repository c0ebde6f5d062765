"""What the team tests share: the demo's stages and seeds, clones of Alice's run, its outputs.

Alice runs the demo once per session (``demo_pipeline`` in tests/conftest.py, also ``team``)
and pushes to the default local-directory remote; every test that changes something works in
its own clone of her commit (:func:`clone`), so the tests are independent of one another.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from pipeline.lib import catalogue, paths
from tests.conftest import (
    merge_params,
    run_cli,
)

# The demo trains three seeds of each trained predictor: train@<name>-<seed> and that run's
# predict stage (test split and probes) each.
SEEDS = yaml.safe_load((Path(__file__).parents[1] / "demo/params.yaml").read_text())["seeds"][
    "train"
]
FIRST = paths.run_name("lora", SEEDS[0])  # the first seed's run, where one run is followed


def seed_chain(seed: int, predictor: str = "lora") -> list[str]:
    """The stages of one training seed's run of a trained predictor, in the order they run."""
    return [catalogue.train_stage(predictor, seed), catalogue.predict_stage(predictor, seed)]


def seed_chains(seed: int) -> list[str]:
    """The stages of one training seed: every trained predictor's run of it."""
    return [stage for name in catalogue.seeded_names() for stage in seed_chain(seed, name)]


UNSEEDED = [m for m in catalogue.names("model") if m not in catalogue.seeded_names()]
# Predictors of the analysis: a seeded one once per training seed (lora@seed<n>).
N_PREDICTORS = len(catalogue.names()) + len(catalogue.seeded_names()) * (len(SEEDS) - 1)
# check_params validates the whole params.yaml: any edit of the file reruns it (its output stays).
ALL_STAGES = {
    "check_params",
    "prepare",
    "base_model",
    "probe",
    "erase",
    "analyze",
    *(catalogue.predict_stage(m) for m in UNSEEDED),
    *(f"baselines@{b}" for b in catalogue.names("baseline")),
    *(stage for seed in SEEDS for stage in seed_chains(seed)),
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
