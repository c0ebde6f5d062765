"""Every file the dashboard reads, loaded in one place (cached) and checked against the contract.

The dashboard never runs a model: it reads what the pipeline wrote under one study directory
(the outputs documented in ``analysis/analyze.py``, at the paths of ``pipeline/paths.py``).
Which study:

1. ``streamlit run dashboard/app.py -- --study PATH``
2. else the environment variable ``BIOS_STUDY``
3. else the real study (the repo root) when ``results/analysis/metrics.json`` exists there
4. else ``demo/``

Loaders are keyed on each file's modification time and size, so a rerun of the pipeline shows
up on the next page load without restarting the dashboard.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from pipeline import paths
from pipeline.predictions import COLUMNS as PREDICTION_COLUMNS
from pipeline.prepare import SPLIT_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_STUDY = REPO_ROOT / "demo"
STUDY_ENV = "BIOS_STUDY"

# The analysis stage's outputs and the columns of every file this app reads, as the pipeline
# writes them (pipeline.paths, pipeline.prepare, pipeline.predictions).
METRICS = paths.ANALYSIS_METRICS
REPORT = paths.ANALYSIS_REPORT
TABLES: dict[str, tuple[Path, tuple[str, ...]]] = {
    name: (path, paths.ANALYSIS_COLUMNS[name]) for name, path in paths.ANALYSIS_TABLES.items()
}
METRIC_NAMES = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "ece")
# Predictor stems the pipeline writes, in the order reports show them.
KNOWN_PREDICTORS = ("zero_shot", "random_head", "lora", "pronoun_rule", "tfidf_logreg")


@dataclass(frozen=True)
class Loaded:
    """One file's content, or why it could not be used (``problem``), never both."""

    name: str
    path: Path
    value: Any = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the file was read and matched the contract."""
        return self.problem is None


# --- which study --------------------------------------------------------------------------------


def resolve_study(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The study directory to show (order: ``--study``, ``BIOS_STUDY``, real study, demo)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--study")
    # parse_known_args: under pytest/AppTest argv holds pytest's own options.
    known, _ = parser.parse_known_args(list(argv) if argv is not None else [])
    environ = os.environ if environ is None else environ
    if known.study:
        return Path(known.study).expanduser().resolve()
    if environ.get(STUDY_ENV):
        return Path(environ[STUDY_ENV]).expanduser().resolve()
    if (REPO_ROOT / METRICS).is_file():
        return REPO_ROOT
    return DEMO_STUDY


def is_demo(study: Path) -> bool:
    """Whether ``study`` is this checkout's bundled demo study."""
    return study.resolve() == DEMO_STUDY.resolve()


def make_command(study: Path, stage: str | None = "analyze") -> str:
    """The exact command that (re)makes a stage's outputs in ``study`` (None: every stage)."""
    if is_demo(study):
        return "make demo"
    repro = f"dvc repro {stage}" if stage else "dvc repro"
    if study.resolve() == REPO_ROOT.resolve():
        return repro
    return f"cd {study} && {repro}"


# --- cached readers (keyed on path + mtime + size) -----------------------------------------------


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


@st.cache_data(show_spinner=False, max_entries=64)
def _read_csv(path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    del stamp  # only part of the cache key
    return pd.read_csv(path)


@st.cache_data(show_spinner=False, max_entries=64)
def _read_json(path: str, stamp: tuple[int, int]) -> Any:
    del stamp
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@st.cache_data(show_spinner=False, max_entries=64)
def _read_parquet(path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    del stamp
    return pd.read_parquet(path)


def _load(study: Path, name: str, rel: Path, reader, required: Sequence[str] = ()) -> Loaded:
    path = study / rel
    stamp = _stamp(path)
    if stamp is None:
        return Loaded(name, path, problem=f"`{rel}` is missing")
    try:
        value = reader(str(path), stamp)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        # pandas/pyarrow/json parse errors are ValueError (or OSError) subclasses.
        return Loaded(name, path, problem=f"`{rel}` could not be read ({err})")
    if required and isinstance(value, pd.DataFrame):
        absent = [c for c in required if c not in value.columns]
        if absent:
            return Loaded(name, path, problem=f"`{rel}` lacks column(s) {', '.join(absent)}")
    return Loaded(name, path, value=value)


def table(study: Path, name: str) -> Loaded:
    """One analysis table (``overall``, ``pairs``, ``groups``, ``gaps``, ``proxy``, ...)."""
    rel, required = TABLES[name]
    loaded = _load(study, name, rel, _read_csv, required)
    if loaded.ok and loaded.value.empty:
        return Loaded(name, loaded.path, problem=f"`{rel}` has no rows")
    if loaded.ok and "small" in loaded.value.columns:
        frame = loaded.value.copy()
        # CSV booleans come back as bool or as "True"/"False" strings, depending on NaNs.
        frame["small"] = frame["small"].astype(str).str.lower().eq("true")
        return Loaded(name, loaded.path, value=frame)
    return loaded


def metrics(study: Path) -> Loaded:
    """``results/analysis/metrics.json``, checked for its top-level keys."""
    loaded = _load(study, "metrics", METRICS, _read_json)
    if loaded.ok:
        value = loaded.value
        if not isinstance(value, dict) or not isinstance(value.get("predictors"), dict):
            return Loaded("metrics", loaded.path, problem=f"`{METRICS}` has no 'predictors'")
    return loaded


def profile(study: Path) -> Loaded:
    """``data/profile.json``: where the data came from and counts per profession."""
    return _load(study, "profile", paths.PROFILE, _read_json)


def report(study: Path) -> Loaded:
    """The analysis' human-readable summary (markdown written by the pipeline)."""
    path = study / REPORT
    if not path.is_file():
        return Loaded("report", path, problem=f"`{REPORT}` is missing")
    return Loaded("report", path, value=path.read_text(encoding="utf-8"))


def bios(study: Path) -> Loaded:
    """The prepared test split (bio text, profession, gender)."""
    return _load(study, "test split", paths.split_path("test"), _read_parquet, SPLIT_COLUMNS)


def predictor_order(names: Sequence[str]) -> list[str]:
    """Known predictors in their usual order, then any others alphabetically."""
    known = [p for p in KNOWN_PREDICTORS if p in names]
    return known + sorted(set(names) - set(known))


def predictions(study: Path) -> dict[str, Loaded]:
    """Every ``results/predictions/<predictor>.parquet`` of the study, by predictor."""
    folder = study / paths.PREDICTIONS_DIR
    stems = [p.stem for p in folder.glob("*.parquet")] if folder.is_dir() else []
    return {
        stem: _load(study, stem, paths.predictions_path(stem), _read_parquet, PREDICTION_COLUMNS)
        for stem in predictor_order(stems)
    }


@st.cache_data(show_spinner=False, max_entries=8)
def _examples(
    split_path: str, split_stamp: tuple[int, int], preds: tuple[tuple[str, str, Any], ...]
) -> pd.DataFrame:
    split = _read_parquet(split_path, split_stamp)
    frame = split[list(SPLIT_COLUMNS)].copy()
    frame["id"] = frame["id"].astype(str)
    for predictor, path, stamp in preds:
        pred = _read_parquet(path, stamp)[["id", "prob_female", "pred"]].copy()
        pred["id"] = pred["id"].astype(str)
        pred = pred.rename(
            columns={"prob_female": f"p_female:{predictor}", "pred": f"pred:{predictor}"}
        )
        frame = frame.merge(pred, on="id", how="left", validate="one_to_one")
    return frame


def examples(study: Path) -> Loaded:
    """The test split joined on ``id`` with every predictor's probability and label.

    Columns: the split's, then ``p_female:<predictor>`` and ``pred:<predictor>`` per predictor.
    """
    split = bios(study)
    if not split.ok:
        return Loaded("examples", split.path, problem=split.problem)
    loaded = [p for p in predictions(study).values() if p.ok]
    if not loaded:
        return Loaded(
            "examples",
            study / paths.PREDICTIONS_DIR,
            problem=f"`{paths.PREDICTIONS_DIR}/*.parquet` is missing (no readable predictions)",
        )
    preds = tuple((p.name, str(p.path), _stamp(p.path)) for p in loaded)
    return Loaded(
        "examples",
        split.path,
        value=_examples(str(split.path), _stamp(split.path), preds),
    )


# --- experiments (dvc.api) -----------------------------------------------------------------------


def repo_root(study: Path) -> Path | None:
    """The git + DVC repository holding ``study`` (nearest parent with .git and .dvc)."""
    for folder in [study.resolve(), *study.resolve().parents]:
        if (folder / ".dvc").is_dir() and (folder / ".git").exists():
            return folder
    return None


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: obj}


@st.cache_data(show_spinner="Asking DVC for experiments...", ttl=30, max_entries=8)
def _exp_show(root: str, num: int) -> list[dict[str, Any]]:
    import dvc.api  # imported here: DVC is slow to import and only this page needs it

    return dvc.api.exp_show(repo=root, num=num)


def experiments(study: Path, num: int = 3) -> Loaded:
    """DVC experiments and the last ``num`` git commits, with this study's metrics and params.

    The value is a frame with one row per experiment or revision: ``name`` (experiment name
    or git revision), ``rev``, ``type``, ``created``, then ``metric:<key>`` and
    ``param:<key>`` columns of THIS study (DVC prefixes a key with its file only when
    several files share it, so unprefixed keys are matched against the study's own files).
    """
    from dvc.exceptions import DvcException
    from scmrepo.exceptions import SCMError

    root = repo_root(study)
    if root is None:
        return Loaded(
            "experiments", study, problem=f"{study} is not inside a git repository with DVC"
        )
    try:
        rows = _exp_show(str(root), num)
    except (DvcException, SCMError) as err:
        return Loaded("experiments", study, problem=f"DVC could not list experiments: {err}")
    rel = study.resolve().relative_to(root)
    prefix = "" if str(rel) == "." else f"{rel.as_posix()}/"
    metrics_file, params_file = f"{prefix}{METRICS.as_posix()}:", f"{prefix}params.yaml:"
    own_metrics = _flatten(metrics(study).value or {})
    own_params = _flatten(_read_yaml(study / "params.yaml"))
    # The run metadata in metrics.json repeats params and versions: not worth a column each.
    own_metrics = {k: v for k, v in own_metrics.items() if not k.startswith("run.")}
    records = []
    for row in rows:
        record: dict[str, Any] = {
            "name": row.get("Experiment") or row.get("rev"),
            "rev": row.get("rev"),
            "type": row.get("typ"),
            "created": row.get("Created"),
        }
        for key, value in row.items():
            if key.startswith(metrics_file):
                if not key[len(metrics_file) :].startswith("run."):
                    record[f"metric:{key[len(metrics_file) :]}"] = value
            elif key.startswith(f"{prefix}{METRICS.parent.as_posix()}/"):
                continue  # another analysis file of this study; metrics.json is the summary
            elif key.startswith(params_file):
                record[f"param:{key[len(params_file) :]}"] = value
            elif ":" not in key and key in own_metrics:
                record[f"metric:{key}"] = value
            elif ":" not in key and key in own_params:
                record[f"param:{key}"] = value
        records.append(record)
    return Loaded("experiments", root, value=pd.DataFrame.from_records(records))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
