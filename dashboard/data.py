"""Every file the dashboard reads, loaded in one place (cached) and checked against the contract.

The result pages read what the pipeline wrote under one study directory (the outputs documented
in ``analysis/analyze.py``, at the paths of ``pipeline/lib/paths.py``); only "Try a bio" runs
the study's predictors, through ``pipeline.commands.score``.
Which study:

1. ``streamlit run dashboard/app.py -- --study PATH``
2. else the environment variable ``BIOS_STUDY``
3. else the real study (the repo root) when ``results/metrics.json`` exists there
4. else ``demo/``

Loaders are keyed on each file's modification time and size, so a rerun of the pipeline shows
up on the next page load without restarting the dashboard.

A study has one task (``pipeline.lib.tasks``: ``gender`` or ``occupation``; :func:`task`): it
decides which analysis tables exist (:func:`task_tables`), which headline metrics they hold
(:func:`metric_specs`) and the schema of the predictions files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from analysis.metrics import METRICS as METRIC_SPECS
from analysis.occupation_metrics import OCCUPATION_METRICS
from pipeline.lib import catalogue, contract, paths, tasks

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_STUDY = REPO_ROOT / "demo"
STUDY_ENV = "BIOS_STUDY"

# The analysis stage's outputs; what is inside every file this app reads: pipeline.lib.contract.
METRICS = paths.ANALYSIS_METRICS
SUMMARY = paths.ANALYSIS_SUMMARY
REPORT = paths.ANALYSIS_REPORT
# The analysis tables the pages read (:func:`table`), by name: the gender task's
# (:func:`task_tables` gives any task's).
TABLES = {name: contract.TABLES[name] for name in contract.ANALYSIS_TABLES}
METRIC_NAMES = tuple(spec.name for spec in METRIC_SPECS)
# Each task's headline metrics (name, label, direction), declared once by its analysis module.
TASK_METRICS = {"gender": METRIC_SPECS, "occupation": OCCUPATION_METRICS}
# How the Experiments page prefixes each DVC metrics file's keys.
# A trained run's results/training/<name>/seed_<n>/metrics.json gets "train.<name>.seed_<n>.".
METRIC_SCOPES = {METRICS.as_posix(): ""}


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


def file_stamp(path: Path) -> tuple[int, int] | None:
    """A file's modification time and size (None if absent): a cache key that follows reruns."""
    return _stamp(path)


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


def _load(
    study: Path,
    name: str,
    rel: Path,
    reader,
    required: Sequence[str] = (),
    spec: contract.TableSpec | None = None,
) -> Loaded:
    """Read ``study / rel`` and check it against what the contract declares for ``rel``.

    A table (:data:`pipeline.lib.contract.TABLES`) comes back with its CSV text turned into
    numbers and nullable booleans; a JSON document is checked against its model and comes back
    as read. ``required``: the columns a file the contract does not declare must have.
    ``spec``: the table's declaration where the path alone does not say it (an occupation
    study's predictions, at the gender task's paths).
    """
    path = study / rel
    stamp = _stamp(path)
    if stamp is None:
        return Loaded(name, path, problem=f"`{rel}` is missing")
    try:
        value = reader(str(path), stamp)
    except (ValueError, OSError) as err:
        # pandas/pyarrow/json parse errors (UnicodeDecodeError too) are ValueError or OSError.
        return Loaded(name, path, problem=f"`{rel}` could not be read ({_first_line(err)})")
    except RecursionError:  # JSON nested thousands deep: not something the pipeline writes
        return Loaded(name, path, problem=f"`{rel}` could not be read (nested too deeply)")
    spec = spec or contract.declared(rel)
    try:
        if isinstance(spec, contract.TableSpec):
            value = contract.check_table(value, spec, rel)
        elif spec is not None:
            contract.validate(spec, value, rel)
    except contract.ContractError as err:
        return Loaded(name, path, problem=f"`{rel}` {err.detail}{_WRITTEN_ELSEWHERE}")
    if spec is None and isinstance(value, pd.DataFrame):
        absent = [c for c in required if c not in value.columns]
        if absent:
            return Loaded(name, path, problem=f"`{rel}` lacks column(s) {', '.join(absent)}")
    return Loaded(name, path, value=value)


_WRITTEN_ELSEWHERE = "; written by another version of the suite, or edited by hand"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def table(study: Path, name: str) -> Loaded:
    """One analysis table (``overall``, ``pairs``, ``groups``, ``gaps``, ``proxy``, ...).

    Checked against :data:`pipeline.lib.contract.TABLES`: numbers as numbers, True/False columns
    as nullable booleans (an empty cell, an untested pair, stays missing, not False).
    """
    spec = contract.TABLES[name]
    rel = Path(spec.path)
    loaded = _load(study, name, rel, _read_csv)
    if loaded.ok and loaded.value.empty:
        return Loaded(name, loaded.path, problem=f"`{rel}` has no rows")
    return loaded


def primary_procedure(procedure: Loaded) -> pd.Series | None:
    """procedure.csv's primary row (analyze.primary over seeds), or None if it has none."""
    if not procedure.ok:
        return None
    rows = procedure.value[procedure.value["family"] == contract.PairFamily.PRIMARY]
    return rows.iloc[0] if not rows.empty else None


def other_procedures(procedure: Loaded) -> pd.DataFrame:
    """procedure.csv's rows but the primary one (secondary, then mitigation).

    Other trained predictors against the primary's sides, then each mitigated predictor against
    the one it mitigates.
    """
    if not procedure.ok:
        return pd.DataFrame()
    return procedure.value[procedure.value["family"] != contract.PairFamily.PRIMARY]


def metrics(study: Path) -> Loaded:
    """``results/metrics.json``: the headline numbers (numbers per predictor, and primary)."""
    return _load(study, "metrics", METRICS, _read_json)


def summary(study: Path) -> Loaded:
    """``results/analysis/summary.json``: the data, the predictors and the models behind them."""
    return _load(study, "summary", SUMMARY, _read_json)


def profile(study: Path) -> Loaded:
    """``data/profile.json``: where the data came from and counts per profession."""
    return _load(study, "profile", paths.PROFILE, _read_json)


def report(study: Path) -> Loaded:
    """The analysis' human-readable summary (markdown written by the pipeline)."""
    path = study / REPORT
    if not path.is_file():
        return Loaded("report", path, problem=f"`{REPORT}` is missing")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        return Loaded("report", path, problem=f"`{REPORT}` could not be read ({_first_line(err)})")
    except UnicodeDecodeError as err:
        return Loaded(
            "report", path, problem=f"`{REPORT}` is not UTF-8 text (byte offset {err.start})"
        )
    return Loaded("report", path, value=text)


@st.cache_data(show_spinner=False, max_entries=16)
def _params_task(path: str, stamp: tuple[int, int]) -> str | None:
    del stamp
    try:
        with open(path, encoding="utf-8") as handle:
            params = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return params.get("task") if isinstance(params, dict) else None


def task(study: Path) -> tasks.Task:
    """The study's task: summary.json's ``task`` (absent: gender), else params.yaml's, else gender.

    The analysis summary says which task its tables are about; before there is one (or when it is
    unusable) the study's ``params.yaml`` says which task its pipeline runs.
    """
    loaded = summary(study)
    if loaded.ok and isinstance(loaded.value, dict):
        name = loaded.value.get("task") or tasks.DEFAULT
    else:
        stamp = _stamp(study / "params.yaml")
        name = _params_task(str(study / "params.yaml"), stamp) if stamp else None
    return tasks.TASKS.get(str(name or tasks.DEFAULT), tasks.TASKS[tasks.DEFAULT])


def task_tables(task_name: str) -> tuple[str, ...]:
    """The analysis tables a study of ``task_name`` has (an occupation study: no calibration)."""
    return contract.TASK_TABLES[task_name]


def metric_specs(task_name: str) -> tuple:
    """The overall metrics of ``task_name`` in report order (name, label, higher_is_better)."""
    return TASK_METRICS[task_name]


def training_seeds(study: Path, predictor: str) -> list[int]:
    """The seeds whose run of ``predictor`` has results (``results/training/<name>/seed_<n>/``)."""
    folder = study / paths.trained_results_dir(predictor)
    found = [p.name.removeprefix("seed_") for p in folder.glob("seed_*") if p.is_dir()]
    return sorted(int(s) for s in found if s.isdigit())


def history(study: Path, predictor: str, seed: int) -> Loaded:
    """One run's training curve: ``results/training/<name>/seed_<n>/history.csv``."""
    rel = paths.train_history(predictor, seed)
    loaded = _load(study, "history", rel, _read_csv, paths.HISTORY_COLUMNS)
    if loaded.ok and loaded.value.empty:
        return Loaded("history", loaded.path, problem=f"`{rel}` has no rows")
    return loaded


def train_metrics(study: Path, predictor: str, seed: int) -> Loaded:
    """One run's dev metrics: ``results/training/<name>/seed_<n>/metrics.json`` (best_step...)."""
    rel = paths.train_metrics(predictor, seed)
    loaded = _load(study, "train metrics", rel, _read_json)
    if loaded.ok and not isinstance(loaded.value, dict):
        return Loaded("train metrics", loaded.path, problem=f"`{rel}` is not an object")
    return loaded


def report_html(study: Path) -> Loaded:
    """The self-contained HTML report (bytes, for a download)."""
    path = study / paths.ANALYSIS_REPORT_HTML
    if not path.is_file():
        return Loaded("report.html", path, problem=f"`{paths.ANALYSIS_REPORT_HTML}` is missing")
    return Loaded("report.html", path, value=path.read_bytes())


def bios(study: Path) -> Loaded:
    """The prepared test split (bio text, profession, gender)."""
    return _load(study, "test split", paths.split_path("test"), _read_parquet)


def predictor_order(names: Sequence[str], task_name: str = tasks.DEFAULT) -> list[str]:
    """The task's catalogue's predictors in report order, then any others alphabetically."""
    return catalogue.order(list(names), task=task_name)


# The score column of each task's predictions files, and its column prefix in :func:`examples`.
SCORE_COLUMNS = {"gender": ("prob_female", "p_female"), "occupation": ("confidence", "confidence")}


def predictions(study: Path) -> dict[str, Loaded]:
    """Every ``results/predictions/<predictor>.parquet`` of the study, by predictor."""
    folder = study / paths.PREDICTIONS_DIR
    stems = [p.stem for p in folder.glob("*.parquet")] if folder.is_dir() else []
    name = task(study).name
    # An occupation study's predictions sit at the gender task's paths with their own schema.
    spec = contract.CLASS_PREDICTIONS["occupation_predictions"] if name == "occupation" else None
    return {
        stem: _load(study, stem, paths.predictions_path(stem), _read_parquet, spec=spec)
        for stem in predictor_order(stems, name)
    }


@st.cache_data(show_spinner=False, max_entries=8)
def _examples(
    split_path: str,
    split_stamp: tuple[int, int],
    preds: tuple[tuple[str, str, Any], ...],
    task_name: str = tasks.DEFAULT,
) -> pd.DataFrame:
    split = _read_parquet(split_path, split_stamp)
    frame = split[list(contract.TABLES["split"].columns)].copy()
    frame["id"] = frame["id"].astype(str)
    score, prefix = SCORE_COLUMNS[task_name]
    for predictor, path, stamp in preds:
        pred = _read_parquet(path, stamp)[["id", score, "pred"]].copy()
        pred["id"] = pred["id"].astype(str)
        pred = pred.rename(columns={score: f"{prefix}:{predictor}", "pred": f"pred:{predictor}"})
        frame = frame.merge(pred, on="id", how="left", validate="one_to_one")
    return frame


def examples(study: Path) -> Loaded:
    """The test split joined on ``id`` with every predictor's score and label.

    Columns: the split's, then per predictor ``pred:<predictor>`` (the predicted class id) and
    its score: ``p_female:<predictor>`` (gender task) or ``confidence:<predictor>`` (occupation
    task: the predicted profession's probability).
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
        value=_examples(str(split.path), _stamp(split.path), preds, task(study).name),
    )


# --- experiments (dvc exp show) ------------------------------------------------------------------


def dvc_root(study: Path) -> Path | None:
    """The DVC project holding ``study`` (nearest folder with ``.dvc``, itself for the demo)."""
    for folder in [study.resolve(), *study.resolve().parents]:
        if (folder / ".dvc").is_dir():
            return folder
    return None


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: obj}


def _dvc_json(root: str, *args: str) -> Any:
    """``dvc ARGS`` (a ``--json`` command) run in ``root``; its last error line if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise RuntimeError(lines[-1])
    return json.loads(result.stdout)


@st.cache_data(show_spinner="Asking DVC for experiments...", ttl=30, max_entries=8)
def _exp_show(root: str, num: int) -> list[dict[str, Any]]:
    """``dvc exp show --json`` (its documented format), run where DVC would run it."""
    return _dvc_json(root, "exp", "show", "--json", "-n", str(num))


def _short(rev: str) -> str:
    return rev if rev == "workspace" else rev[:7]


def _record(entry: dict[str, Any], kind: str, state: str | None) -> dict[str, Any]:
    """One row: the revision's name, then ``param:<key>`` and ``metric:<key>`` columns."""
    data = entry.get("data") or {}
    record: dict[str, Any] = {
        "name": entry.get("name") or _short(entry.get("rev") or ""),
        "rev": entry.get("rev"),
        "type": kind,
        "state": state,
        "created": data.get("timestamp"),
    }
    for file, content in sorted((data.get("params") or {}).items()):
        if file.endswith("params.yaml"):  # the catalogue's used fields are not settings
            for key, value in _flatten(content.get("data") or {}).items():
                record[f"param:{key}"] = value
    for file, content in sorted((data.get("metrics") or {}).items()):
        default = f"{Path(file).parent.name}."
        run = Path(file).parent.parent  # results/training/<name> for a trained run's metrics
        if run.parent.as_posix().endswith(paths.TRAINED_RESULTS_DIR.as_posix()):
            default = f"train.{run.name}.{default}"
        scope = METRIC_SCOPES.get(file, default)
        for key, value in _flatten(content.get("data") or {}).items():
            record[f"metric:{scope}{key}"] = value
    return record


@st.cache_data(show_spinner="Asking DVC for the training curves...", ttl=30, max_entries=8)
def _plots_diff(root: str, revs: tuple[str, ...], target: str) -> list[dict[str, Any]]:
    """The data of one DVC plot at several revisions (``dvc plots diff --json``)."""
    shown = _dvc_json(root, "plots", "diff", *revs, "--json", "--targets", target)
    entries = (shown.get("data") or shown).get(target) or []
    return [value for entry in entries for value in entry["content"]["data"]["values"]]


def experiment_histories(study: Path, revs: Sequence[str], predictor: str, seed: int) -> Loaded:
    """One run's training curve at each revision or experiment in ``revs`` (a ``rev`` column)."""
    root = dvc_root(study)
    if root is None or not revs:
        return Loaded("histories", study, problem="no DVC study or no revision chosen")
    try:
        target = paths.train_history(predictor, seed).as_posix()
        values = _plots_diff(str(root), tuple(revs), target)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as err:
        return Loaded("histories", study, problem=f"DVC could not read the curves: {err}")
    frame = pd.DataFrame(values)
    if frame.empty:
        return Loaded("histories", study, problem="no training curve at these revisions")
    for column in ("step", "train_loss", "dev_accuracy", "dev_loss"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return Loaded("histories", root, value=frame)


def experiments(study: Path, num: int = 3) -> Loaded:
    """The workspace, the last ``num`` git commits and their DVC experiments, side by side.

    The value is a frame with one row per revision or experiment (``name``, ``rev``, ``type``:
    workspace / commit / experiment, ``state``: queued, running, success, failed or empty,
    ``created``), then ``param:<key>`` (from ``params.yaml``) and ``metric:<key>`` columns
    (``results/metrics.json``; the train stage's are prefixed ``train.``, e.g.
    ``metric:train.dev_accuracy``). A missing value is NaN.
    """
    root = dvc_root(study)
    if root is None or not (root / "dvc.yaml").is_file():
        return Loaded("experiments", study, problem=f"{study} is not a DVC study")
    try:
        rows = _exp_show(str(root), num)
    except (RuntimeError, OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as err:
        return Loaded("experiments", study, problem=f"DVC could not list experiments: {err}")
    records = []
    for row in rows:
        kind = "workspace" if row.get("rev") == "workspace" else "commit"
        records.append(_record(row, kind, None))
        for group in row.get("experiments") or []:
            state = (group.get("executor") or {}).get("state")
            for entry in group.get("revs") or []:
                records.append(_record(entry, "experiment", state))
    return Loaded("experiments", root, value=pd.DataFrame.from_records(records))
