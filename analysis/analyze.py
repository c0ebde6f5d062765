"""``analyze`` stage: every predictor on the same test bios, paired, with intervals and tests.

Reads every ``results/predictions/<predictor>.parquet`` present (joined to the test split by
``id``, never by position), ``data/profile.json`` (the TRAIN split's share of women per
profession, and whether the data are synthetic) and, when present, the probe texts
(``data/probes/probes.parquet``) with each predictor's ``results/probes/<predictor>.parquet``.
What each predictor is comes from the catalogue (``pipeline/catalogue.yaml``); which model made
it, from its predictions' metadata.

Writes (the contract the dashboard reads):

- ``results/metrics.json`` (DVC metrics): the headline numbers only (per predictor, or per
  training seed's run ``lora@seed<n>``, accuracy with its interval and the other metrics, the
  proxy-bias r, the probe flip rates; per seeded predictor the means over seeds; ``primary``:
  the primary comparison, over seeds when it has several);
- ``results/analysis/`` (replaced whole by each run): ``summary.json``, the tidy tables of
  :data:`pipeline.lib.contract.TABLES` (one row per record, no index column; across
  training seeds: ``procedure.csv``, ``seeds.csv``, ``seed_gaps.csv``, ``seed_proxy.csv``),
  ``plots/{gaps,proxy,calibration}/<predictor>.csv`` (DVC plots), ``report.md``, ``report.html``.

Skips, each with a warning: a profession without test bios (no rows for it), a probe
predictions file whose predictor has no test predictions. Errors (one line, exit 1): no
predictions at all, a predictions file whose ids differ from the test split's, probe
predictions without the probe texts or with other ids, a seeded predictor's run missing for a
seed of ``seeds.train`` while its other runs are there.

Run from a study directory: ``python -m analysis.analyze`` (params: ``analyze``,
``seeds.bootstrap``, ``seeds.train``: a removed seed's runs are skipped with a warning). Tables:
:mod:`analysis.table_builders`; across seeds: :mod:`analysis.multibootstrap`. Every file
read and written is checked against :mod:`pipeline.lib.contract`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import table_builders as builders
from analysis.html_report import render_html
from analysis.report import render_report
from analysis.result import Analysis
from pipeline.lib import catalogue, contract, paths, tasks
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir, write_json, write_text
from pipeline.lib.labels import GENDERS, PROFESSIONS
from pipeline.lib.params import AnalyzeParams, load_stage_params
from pipeline.lib.prediction_files import check_same_ids, read_predictions
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.tables import (
    read_document,
    read_numbers,
    read_prepared,
    read_probes,
    read_profile,
    read_split,
    read_suite_metadata,
)

log = logging.getLogger(__name__)
GENDER_IDS = tuple(range(len(GENDERS)))  # 0 male, 1 female

PARAMS = ("analyze", "seeds.bootstrap", "seeds.train")


def discover_predictions(directory: Path, task: str = "gender") -> dict[str, Path]:
    """Predictions files in ``directory``: catalogue predictors in report order, then others."""
    found = {p.stem: p for p in sorted(directory.glob("*.parquet"))} if directory.is_dir() else {}
    return {name: found[name] for name in catalogue.order(list(found), task)}


def in_order_of(ids: pd.Series, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` in the order of ``ids``, joined by id (never by position).

    :func:`read_predictions` with ``expected_ids`` has checked that both hold the same ids.
    """
    return frame.iloc[pd.Index(frame["id"]).get_indexer(ids.astype(str))].reset_index(drop=True)


def load_predictions(
    files: dict[str, Path], test: pd.DataFrame, task: str = "gender"
) -> dict[str, pd.DataFrame]:
    """Each predictor's predictions aligned row by row with ``test`` (by id)."""
    hint = "its predictions were made on another test split: rerun its predict stage"
    return {
        name: in_order_of(
            test["id"],
            read_predictions(path, expected_ids=test["id"], mismatch_hint=hint, task=task),
        )
        for name, path in files.items()
    }


def train_share_women(profile: dict[str, Any]) -> pd.Series:
    """Share of women per profession id in the TRAIN split, from data/profile.json."""
    professions = contract.validate(contract.Profile, profile, paths.PROFILE).splits["train"]
    shares = {
        PROFESSIONS.index(name): stats.share_women
        for name, stats in professions.professions.items()
    }
    series = pd.Series(shares, dtype=np.float64).sort_index()
    series.index.name = "profession_id"
    return series


def train_female_share(profile: dict[str, Any]) -> float:
    """The TRAIN split's share of women over every profession, from data/profile.json."""
    professions = contract.validate(contract.Profile, profile, paths.PROFILE).splits["train"]
    women = sum(stats.female for stats in professions.professions.values())
    total = sum(stats.female + stats.male for stats in professions.professions.values())
    return women / total if total else float("nan")


def read_leakage(test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The erase stage's gender probes (results/leakage/*.parquet), aligned with the test split.

    One line naming the stage to rerun if a file is unreadable, lacks a column or does not hold
    exactly the test split's bios.
    """
    spec = contract.TABLES["leakage_probes"]
    out = {}
    for path in sorted(paths.LEAKAGE_DIR.glob("*.parquet")):
        frame = read_prepared(path, spec.columns, what="leakage probes", stage="erase", spec=spec)
        for column in ("pred", "pred_erased"):
            bad = ~frame[column].isin(GENDER_IDS)
            if bad.any():
                raise SuiteError(
                    f"{path}: {column} holds {frame[column][bad].iloc[0]!r}, not a gender id "
                    "(0 male, 1 female); run the erase stage again (dvc repro erase)"
                )
        hint = "its bios are not the test split's; run the erase stage again (dvc repro erase)"
        check_same_ids(frame["id"], test["id"], path, hint)
        out[path.stem] = in_order_of(test["id"], frame)
    return out


def analyze(
    test: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    share_women: pd.Series,
    params: AnalyzeParams,
    seed: int,
    probes: pd.DataFrame | None = None,
    probe_predictions: dict[str, pd.DataFrame] | None = None,
    data: dict[str, Any] | None = None,
    models: dict[str, dict[str, Any]] | None = None,
    task: str = "gender",
    leakage: dict[str, pd.DataFrame] | None = None,
    train_female: float | None = None,
) -> Analysis:
    """The stage's pure core: every table from aligned predictions.

    Args:
        test: the test split (id, profession_id, profession, gender_id, ...).
        predictions: ``{predictor: frame}`` aligned row by row with ``test``.
        share_women: TRAIN share of women, indexed by profession_id.
        params: the analyze section.
        seed: seeds.bootstrap.
        probes: the probe texts (id, source_id, variant, expected_gender_id), if any.
        probe_predictions: ``{predictor: frame}`` aligned row by row with ``probes``.
        data: where the data came from (data/profile.json's ``source`` and ``synthetic``).
        models: per predictor, the model behind it (its predictions' ``model_info``), if known.
        task: what the predictors predict (:mod:`pipeline.lib.tasks`): the label is the test
            split's ``gender_id`` (gender) or ``profession_id`` (occupation, gender the
            protected attribute).
        leakage: the erase stage's gender probes per representation, aligned with ``test``.
        train_female: the TRAIN split's share of women (its majority gender is what a constant
            answer gives: the rate leakage is read against); default: the test split's.
    """
    if not predictions:
        raise SuiteError("no predictions to analyze")
    notes: list[str] = []
    label = tasks.get(task).label_column
    y = test[label].to_numpy(np.int64)
    # the protected attribute when it is not the label itself (the occupation task)
    gender = None if task == "gender" else test["gender_id"].to_numpy(np.int64)
    overall = builders.overall_table(y, predictions, params, seed, task=task, gender=gender)
    primary = builders.primary_pair(predictions, params, notes)
    pairs = builders.pairs_table(y, predictions, primary, params, task)
    builders.missing_professions(test, notes)
    features = builders.sensitive_features(test)
    gaps = builders.gaps_table(y, predictions, features, share_women, params, gender)
    result = Analysis(
        procedure=builders.procedure_table(y, predictions, pairs, params, seed, task),
        seeds=builders.seeds_table(overall),
        seed_gaps=builders.seed_gaps_table(y, predictions, gaps, features, params, seed, task),
        seed_proxy=builders.seed_proxy_table(
            y, predictions, gaps, features, share_women, params, seed, task
        ),
        overall=overall,
        pairs=pairs,
        groups=builders.groups_table(y, predictions, features, params),
        gaps=gaps,
        proxy=builders.proxy_table(gaps, share_women, params),
        calibration=builders.calibration_table(y, predictions, params)
        if task == "gender"
        else pd.DataFrame(),
        probes=builders.probe_table(
            test, predictions, probes, probe_predictions or {}, params, label
        ),
        notes=notes,
        task=task,
    )
    if task != "gender":
        result.gap_rms = builders.gap_rms_table(y, predictions, features, params, seed, task)
        result.scrubbed = builders.scrubbed_table(
            test, predictions, probes, probe_predictions or {}, params, seed
        )
    female_share = float(test["gender_id"].mean()) if train_female is None else train_female
    result.leakage = builders.leakage_table(leakage or {}, female_share, params, seed)
    result.metrics = builders.headline_metrics(result, task)
    result.summary = builders.summary_body(
        result, test, predictions, params, primary, data, models, task
    )
    if task == "gender":
        checks = builders.erasure_checks(
            result.overall, test["gender_id"].to_numpy(np.int64), female_share, params.confidence
        )
        if checks:
            result.summary["erasure_checks"] = checks
    return result


def current_runs(files: dict[str, Path], train_seeds: list[int]) -> dict[str, Path]:
    """``files`` without the runs of seeds that are no longer in ``seeds.train``.

    DVC leaves a removed seed's outputs in the workspace: they are skipped with a warning.
    """
    stale = {
        n: s for n in files if (s := paths.split_run(n)[1]) is not None and s not in train_seeds
    }
    for name, seed in stale.items():
        log.warning("%s: seed %d is not in seeds.train; skipped (a removed run)", files[name], seed)
    return {name: path for name, path in files.items() if name not in stale}


def require_every_seed(files: dict[str, Path], train_seeds: list[int]) -> None:
    """Stop when a seeded predictor has runs here but not one for every seed of ``seeds.train``.

    Skipping the missing run would give a procedure-level result over fewer seeds than the
    study declares, without a word. (A predictor with no run at all is absent from the report.)
    """
    runs: dict[str, set[int]] = {}
    for name in files:
        predictor, seed = paths.split_run(name)
        if seed is not None:
            runs.setdefault(predictor, set()).add(seed)
    for predictor, seeds in runs.items():
        for seed in train_seeds:
            if seed not in seeds:
                missing = paths.predictions_path(paths.run_name(predictor, seed))
                stage = catalogue.predict_stage(predictor, seed)
                raise SuiteError(
                    f"{missing}: not found, but seed {seed} is in seeds.train; make it with "
                    f"`dvc repro {stage}` (or remove the seed from seeds.train)"
                )


def _read_training(
    train_seeds: list[int], task: str = "gender"
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Every trained run's curve and selected step, for the HTML report (those present)."""
    histories, best_steps = {}, {}
    for predictor in catalogue.seeded_names(task):
        for seed in train_seeds:
            history_file = paths.train_history(predictor, seed)
            metrics_file = paths.train_metrics(predictor, seed)
            if not (history_file.exists() and metrics_file.exists()):
                continue
            name = paths.run_name(predictor, seed)
            fix = f"run the train stage again (dvc repro {catalogue.train_stage(predictor, seed)})"
            # Through the suite's checked readers: a corrupt file is one line, not a traceback.
            histories[name] = read_numbers(
                history_file,
                contract.TABLES["history"].columns,
                what="training history",
                missing_hint=fix,
            )
            metrics = read_document(
                metrics_file, contract.TrainMetrics, what="the train stage's metrics", fix=fix
            )
            if metrics.best_step is not None:
                best_steps[name] = metrics.best_step
    return histories, best_steps


def _read_profile() -> dict[str, Any]:
    return read_profile(paths.require(paths.PROFILE, "prepare"))


def _read_probes(
    names: set[str], task: str = "gender"
) -> tuple[pd.DataFrame | None, dict[str, pd.DataFrame]]:
    files = discover_predictions(paths.PROBE_PREDICTIONS_DIR, task)
    if not files:
        return None, {}
    if not paths.PROBES_FILE.is_file():
        raise SuiteError(
            f"{paths.PROBE_PREDICTIONS_DIR} holds probe predictions but {paths.PROBES_FILE} is "
            "missing; run the probe stage"
        )
    probes = read_probes(paths.PROBES_FILE, ["id", "source_id", "variant", "expected_gender_id"])
    out = {}
    for name, path in files.items():
        if name not in names:
            log.warning("%s: no test predictions of %s; its probes are skipped", path, name)
            continue
        hint = "they were made on other probe texts: rerun its predictions on the probes"
        out[name] = in_order_of(
            probes["id"],
            read_predictions(path, expected_ids=probes["id"], mismatch_hint=hint, task=task),
        )
    return probes, out


def write_outputs(
    result: Analysis, report: str, meta: dict[str, Any], out_dir: Path, report_html: str = ""
) -> None:
    """Write every table of the task, the plot data, summary.json, report.md and report.html."""
    tables = {name: getattr(result, name) for name in contract.TASK_TABLES[result.task]}
    for name, frame in tables.items():
        spec = contract.TABLES[name]
        # the dashboard reads these columns: a builder out of step with the contract stops here
        contract.check_table(frame, spec, spec.path, exact=True)
        frame.to_csv(out_dir / Path(spec.path).name, index=False)
    for plot, (source, _, required) in contract.PLOTS.items():
        if source not in tables:  # the occupation task has no reliability curve of P(female)
            continue
        spec = contract.TABLES[f"plot_{plot}"]
        for predictor, part in tables[source].groupby("predictor", sort=False):
            relative = spec.file(predictor=predictor).relative_to(paths.ANALYSIS_DIR)
            (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            part[list(spec.columns)].dropna(subset=list(required)).to_csv(
                out_dir / relative, index=False
            )
    summary = contract.checked(
        contract.Summary, {**result.summary, "run": meta}, paths.ANALYSIS_SUMMARY
    )
    write_json(summary, out_dir / paths.ANALYSIS_SUMMARY.name)
    write_text(report, out_dir / paths.ANALYSIS_REPORT.name)
    if report_html:
        write_text(report_html, out_dir / paths.ANALYSIS_REPORT_HTML.name)


def main() -> None:
    """Read params, the split, the profile and every predictions file; write the analysis."""
    parser = argparse.ArgumentParser(description="Analyse every predictor on the test bios.")
    tasks.add_argument(parser)
    task = parser.parse_args().task
    params = load_stage_params(PARAMS)
    test_path = paths.require(paths.split_path("test"), "prepare")
    files = current_runs(discover_predictions(paths.PREDICTIONS_DIR, task), params["seeds.train"])
    require_every_seed(files, params["seeds.train"])
    if not files:
        raise SuiteError(
            f"no predictions in {paths.PREDICTIONS_DIR}/; run the predict, train or baselines "
            "stages first"
        )
    with run_log("analyze"):
        test = read_split(test_path, ["id", "profession_id", "profession", "gender_id"])
        profile = _read_profile()
        predictions = load_predictions(files, test, task)
        models = {
            name: read_suite_metadata(path).get("model_info", {}) for name, path in files.items()
        }
        probes, probe_predictions = _read_probes(set(predictions), task)
        log.info("analysing %s on %d test bios", ", ".join(predictions), len(test))
        result = analyze(
            test,
            predictions,
            train_share_women(profile),
            params["analyze"],
            params["seeds.bootstrap"],
            probes=probes,
            probe_predictions=probe_predictions,
            data=profile,
            models=models,
            task=task,
            leakage=read_leakage(test),
            train_female=train_female_share(profile),
        )
        report = render_report(result, params["analyze"])
        histories, best_steps = _read_training(params["seeds.train"], task)
        report_html = render_html(result, params["analyze"], report, histories, best_steps)
        with atomic_dir(paths.ANALYSIS_DIR) as tmp:
            write_outputs(result, report, run_metadata("analyze", params), tmp, report_html)
        metrics = contract.checked(contract.HeadlineMetrics, result.metrics, paths.ANALYSIS_METRICS)
        write_json(metrics, paths.ANALYSIS_METRICS)
        log.info("wrote %s and %s", paths.ANALYSIS_DIR, paths.ANALYSIS_METRICS)


if __name__ == "__main__":
    run_main(main)
