"""``analyze`` stage: every predictor on the same test bios, paired, with intervals and tests.

Reads every ``results/predictions/<predictor>.parquet`` present (joined to the test split by
``id``, never by position), ``data/profile.json`` (the TRAIN split's share of women per
profession, and whether the data are synthetic) and, when present, the probe texts
(``data/probes/probes.parquet``) with each predictor's ``results/probes/<predictor>.parquet``.
What each predictor is comes from the catalogue (``pipeline/catalogue.yaml``); which model made
it, from its predictions' metadata.

Writes (the contract the dashboard reads):

- ``results/metrics.json`` (DVC metrics): the headline numbers only, so that ``dvc exp show``
  and ``dvc metrics diff`` stay readable: per predictor accuracy with its interval, balanced
  accuracy, F1, ROC AUC, ECE, the proxy-bias r and the probe flip rates; the primary
  comparison's accuracy difference, interval and p-value;
- ``results/analysis/`` (replaced whole by each run): ``summary.json`` (data, predictors and
  the models behind them, notes), the tidy tables ``overall.csv``, ``pairs.csv``,
  ``groups.csv``, ``gaps.csv``, ``proxy.csv``, ``calibration.csv``, ``probes.csv`` (one row
  per record, no index column), ``plots/{gaps,proxy,calibration}/<predictor>.csv`` (DVC plots)
  and ``report.md``.

Skips, each with a warning: a profession without test bios (no rows for it), a probe
predictions file whose predictor has no test predictions. Errors (one line, exit 1): no
predictions at all, a predictions file whose ids differ from the test split's, probe
predictions without the probe texts or with other ids.

Run from a study directory: ``python -m analysis.analyze`` (params: ``analyze``,
``seeds.bootstrap``). Statistics: :mod:`analysis.metrics`, :mod:`analysis.significance`,
:mod:`analysis.fairness`, :mod:`analysis.probes`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.fairness import group_error_rates, proxy_bias, tpr_gap_by_profession
from analysis.html_report import render_html
from analysis.metrics import METRICS, overall_metrics_many, reliability_curve
from analysis.probes import probe_effects
from analysis.report import render_report
from analysis.significance import compare_predictors
from analysis.verdicts import one_class_warning, probe_verdict, toy_model_notice
from pipeline.lib import catalogue, paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir, read_parquet_metadata, write_json, write_text
from pipeline.lib.labels import GENDERS, PROFESSIONS
from pipeline.lib.params import AnalyzeParams, load_stage_params
from pipeline.lib.prediction_files import read_predictions
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.tables import read_probes, read_profile, read_split

log = logging.getLogger(__name__)

PARAMS = ("analyze", "seeds.bootstrap")


@dataclass
class Analysis:
    """Every table of one analysis run (tidy frames, no index) and the metrics.json body."""

    overall: pd.DataFrame
    pairs: pd.DataFrame
    groups: pd.DataFrame
    gaps: pd.DataFrame
    proxy: pd.DataFrame
    calibration: pd.DataFrame
    probes: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)  # results/metrics.json
    summary: dict[str, Any] = field(default_factory=dict)  # results/analysis/summary.json
    notes: list[str] = field(default_factory=list)


def discover_predictions(directory: Path) -> dict[str, Path]:
    """Predictions files in ``directory``: catalogue predictors in report order, then others."""
    found = {p.stem: p for p in sorted(directory.glob("*.parquet"))} if directory.is_dir() else {}
    return {name: found[name] for name in catalogue.order(list(found))}


def in_order_of(ids: pd.Series, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` in the order of ``ids``, joined by id (never by position).

    :func:`read_predictions` with ``expected_ids`` has checked that both hold the same ids.
    """
    return frame.iloc[pd.Index(frame["id"]).get_indexer(ids.astype(str))].reset_index(drop=True)


def load_predictions(files: dict[str, Path], test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each predictor's predictions aligned row by row with ``test`` (by id)."""
    hint = "its predictions were made on another test split: rerun its predict stage"
    return {
        name: in_order_of(
            test["id"], read_predictions(path, expected_ids=test["id"], mismatch_hint=hint)
        )
        for name, path in files.items()
    }


def train_share_women(profile: dict[str, Any]) -> pd.Series:
    """Share of women per profession id in the TRAIN split, from data/profile.json."""
    try:
        professions = profile["splits"]["train"]["professions"]
    except (KeyError, TypeError):
        raise SuiteError(
            f"{paths.PROFILE} has no train split profile; rerun the prepare stage"
        ) from None
    shares = {
        PROFESSIONS.index(name): stats.get("share_women")
        for name, stats in professions.items()
        if name in PROFESSIONS
    }
    series = pd.Series(shares, dtype=np.float64).sort_index()
    series.index.name = "profession_id"
    return series


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN and infinities become None, numpy scalars plain Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    """
    if not predictions:
        raise SuiteError("no predictions to analyze")
    notes: list[str] = []
    y = test["gender_id"].to_numpy(np.int64)
    started = time.perf_counter()
    overall, _ = overall_metrics_many(
        y_true=y,
        predictions={
            name: (frame["pred"].to_numpy(np.int64), frame["prob_female"].to_numpy(np.float64))
            for name, frame in predictions.items()
        },
        seed=seed,
        resamples=params.bootstrap_resamples,
        confidence=params.confidence,
        bins=params.calibration_bins,
    )
    log.info("overall metrics: %.1f s", time.perf_counter() - started)
    predicted = pd.DataFrame(
        {name: frame["pred"].to_numpy(np.int64) for name, frame in predictions.items()}
    )
    primary: tuple[str, str] | None = (params.primary[0], params.primary[1])
    absent = [name for name in params.primary if name not in predictions]
    if absent:
        log.warning("analyze.primary: no predictions of %s; no primary comparison", absent)
        notes.append(
            f"No primary comparison: analyze.primary names {', '.join(params.primary)} but "
            f"{', '.join(absent)} has no predictions."
        )
        primary = None
    pairs = compare_predictors(
        y_true=y,
        predictions=predicted,
        confidence=params.confidence,
        primary=primary,
        references=[name for name in predictions if catalogue.is_reference(name)],
        labels={name: catalogue.label(name) for name in predictions},
    )

    missing = [
        PROFESSIONS[i] for i in range(len(PROFESSIONS)) if i not in set(test["profession_id"])
    ]
    if missing:
        log.warning(
            "%d professions have no test bios and are skipped: %s", len(missing), ", ".join(missing)
        )
        notes.append(f"Professions without test bios (skipped): {', '.join(missing)}.")

    groups_parts, gaps_parts, proxy_rows, calibration_parts = [], [], [], []
    features = pd.DataFrame(
        {
            "profession_id": test["profession_id"].to_numpy(np.int64),
            "profession": test["profession"].to_numpy(object),
            "gender": np.array(GENDERS, dtype=object)[test["gender_id"].to_numpy(np.int64)],
        }
    )
    for name, frame in predictions.items():
        pred = frame["pred"].to_numpy(np.int64)
        groups = group_error_rates(
            y_true=y,
            y_pred=pred,
            sensitive_features=features,
            confidence=params.confidence,
            min_group_size=params.min_group_size,
        ).reset_index()
        groups_parts.append(groups.assign(predictor=name))
        gaps = tpr_gap_by_profession(
            y_true=y,
            y_pred=pred,
            profession=features["profession_id"],
            confidence=params.confidence,
            min_group_size=params.min_group_size,
        )
        gaps.index.name = "profession_id"
        gaps["share_women"] = share_women.reindex(gaps.index).to_numpy()
        gaps = gaps.reset_index()
        gaps.insert(1, "profession", [PROFESSIONS[i] for i in gaps["profession_id"]])
        gaps_parts.append(gaps.assign(predictor=name))
        proxy = proxy_bias(
            gap=gaps.set_index("profession_id")["gap"],
            share_women=share_women,
            confidence=params.confidence,
        )
        proxy_rows.append({"predictor": name, **proxy.to_dict()})
        curve = reliability_curve(
            y_true=y, prob=frame["prob_female"].to_numpy(np.float64), bins=params.calibration_bins
        ).reset_index()
        curve["bin_low"] = curve["bin"] / params.calibration_bins
        curve["bin_high"] = (curve["bin"] + 1) / params.calibration_bins
        calibration_parts.append(curve.assign(predictor=name))

    groups = _front(pd.concat(groups_parts, ignore_index=True), "predictor")
    gaps = _front(pd.concat(gaps_parts, ignore_index=True), "predictor")
    proxy = pd.DataFrame(proxy_rows).infer_objects()
    proxy["n_professions"] = proxy["n_professions"].astype(np.int64)
    calibration = _front(pd.concat(calibration_parts, ignore_index=True), "predictor")
    probe_table = _probe_table(test, predictions, probes, probe_predictions or {}, params)

    overall_flat = _front(overall.reset_index(), "predictor")
    cells = small_cells(test, params.min_group_size)
    if cells["small"]:
        notes.append(
            f"{cells['small']} of the {cells['with_bios']} profession x gender cells with test "
            f"bios have fewer than {params.min_group_size} bios (analyze.min_group_size): their "
            "rates and gaps are imprecise, and their professions are listed apart from the "
            "ranked gaps."
        )
    result = Analysis(
        overall=overall_flat,
        pairs=pairs,
        groups=groups,
        gaps=gaps,
        proxy=proxy,
        calibration=calibration,
        probes=probe_table,
        notes=notes,
    )
    result.metrics = headline_metrics(result)
    probe_verdicts = _probe_verdicts(probe_table, params.confidence)
    result.summary = {
        "data": {
            "source": str((data or {}).get("source", "unknown")),
            "synthetic": bool((data or {}).get("synthetic", False)),
            "n_test": len(test),
        },
        "predictors": {
            name: {
                **_predictor_summary(name, (models or {}).get(name, {})),
                "probe_verdict": probe_verdicts.get(name),
                "warning": one_class_warning(predictions[name]["pred"], params.one_class_share),
            }
            for name in predictions
        },
        "settings": {
            "confidence": params.confidence,
            "alpha": 1 - params.confidence,
            "min_group_size": params.min_group_size,
            "primary": list(primary) if primary else None,
        },
        "cells": cells,
        "notes": notes,
        "toy_model": toy_model_notice(models or {}),
    }
    return result


def small_cells(test: pd.DataFrame, min_group_size: int) -> dict[str, Any]:
    """Profession x gender cells of the test split: with bios, and under ``min_group_size``.

    Counted once per cell (they are the same for every predictor).
    """
    counts = test.groupby(["profession", "gender_id"]).size()
    small = counts[counts < min_group_size]
    return {
        "with_bios": len(counts),
        "small": len(small),
        "small_cells": [
            {"profession": profession, "gender": GENDERS[gender], "n": int(n)}
            for (profession, gender), n in small.items()
        ],
    }


def _probe_verdicts(probes: pd.DataFrame, confidence: float) -> dict[str, str]:
    """One sentence per predictor on what its counterfactual probes show."""
    overall = probes[probes["profession"] == "all"]
    verdicts = {}
    for name, part in overall.groupby("predictor", sort=False):
        rows = {row["variant"]: row for row in part.to_dict(orient="records")}
        verdicts[str(name)] = probe_verdict(rows.get("swapped"), rows.get("removed"), confidence)
    return verdicts


def _predictor_summary(name: str, model: dict[str, Any]) -> dict[str, Any]:
    spec = catalogue.spec(name)
    return {
        "label": spec.display if spec else name,
        "description": spec.description if spec else "not in the predictor catalogue",
        "kind": spec.kind if spec else "unknown",
        "reference": bool(spec and spec.reference),
        "model": model,
    }


def headline_metrics(result: Analysis) -> dict[str, Any]:
    """``results/metrics.json``: the few numbers people compare across experiments.

    Per predictor: every metric of :data:`analysis.metrics.METRICS` (accuracy with its
    interval), the proxy-bias Pearson r and the probe flip rates; and ``primary``: the accuracy
    difference of ``analyze.primary`` (second minus first) with its exact interval and p-value.
    """
    overall = result.overall.set_index(["predictor", "metric"])
    proxy = result.proxy.set_index("predictor")
    flips = result.probes[result.probes["profession"] == "all"].set_index(["predictor", "variant"])
    metrics: dict[str, Any] = {}
    for name in result.overall["predictor"].unique():
        entry = {spec.name: _clean(overall.loc[(name, spec.name), "value"]) for spec in METRICS}
        entry["accuracy_ci_low"] = _clean(overall.loc[(name, "accuracy"), "ci_low"])
        entry["accuracy_ci_high"] = _clean(overall.loc[(name, "accuracy"), "ci_high"])
        entry["proxy_r"] = _clean(proxy.loc[name, "pearson_r"]) if name in proxy.index else None
        for (predictor, variant), row in flips.iterrows():
            if predictor == name:
                entry[f"flip_rate_{variant}"] = _clean(row["flip_rate"])
        metrics[name] = entry
    primary = result.pairs[result.pairs["family"] == "primary"]
    if not primary.empty:
        row = primary.iloc[0]
        metrics["primary"] = {
            "acc_diff": _clean(row["acc_diff"]),
            "acc_diff_ci_low": _clean(row["diff_ci_low"]),
            "acc_diff_ci_high": _clean(row["diff_ci_high"]),
            "p_value": _clean(row["p_value"]),
        }
    return metrics


def _front(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column, *[c for c in frame.columns if c != column]]]


PROBE_COLUMNS = list(paths.ANALYSIS_COLUMNS["probes"])


def _probe_table(
    test: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    probes: pd.DataFrame | None,
    probe_predictions: dict[str, pd.DataFrame],
    params: AnalyzeParams,
) -> pd.DataFrame:
    if probes is None or not probe_predictions:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    position = pd.Index(test["id"].astype(str)).get_indexer(probes["source_id"].astype(str))
    if (position < 0).any():
        bad = probes["source_id"][position < 0].iloc[0]
        raise SuiteError(
            f"{paths.PROBES_FILE}: source id {bad!r} is not in the test split; "
            "rerun the probe stage"
        )
    source = test.iloc[position]
    parts = []
    for name, frame in probe_predictions.items():
        if name not in predictions:
            log.warning("probe predictions of %s but no test predictions: skipped", name)
            continue
        effects = probe_effects(
            variant=probes["variant"],
            y_expected=probes["expected_gender_id"].to_numpy(np.int64),
            y_pred=frame["pred"].to_numpy(np.int64),
            y_pred_original=predictions[name]["pred"].to_numpy(np.int64)[position],
            y_true_original=source["gender_id"].to_numpy(np.int64),
            profession=source["profession"].to_numpy(object),
            confidence=params.confidence,
        ).reset_index()
        parts.append(effects.assign(predictor=name))
    if not parts:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    return table[PROBE_COLUMNS]


def _read_training() -> tuple[pd.DataFrame | None, int | None]:
    """The LoRA training curve and selected step for the HTML report, if the study has them."""
    if not (paths.LORA_HISTORY.is_file() and paths.LORA_METRICS.is_file()):
        return None, None
    history = pd.read_csv(paths.LORA_HISTORY)
    best = json.loads(paths.LORA_METRICS.read_text(encoding="utf-8")).get("best_step")
    return history, int(best) if best is not None else None


def _read_profile() -> dict[str, Any]:
    return read_profile(paths.require(paths.PROFILE, "prepare"))


def _read_probes(names: set[str]) -> tuple[pd.DataFrame | None, dict[str, pd.DataFrame]]:
    files = discover_predictions(paths.PROBE_PREDICTIONS_DIR)
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
            probes["id"], read_predictions(path, expected_ids=probes["id"], mismatch_hint=hint)
        )
    return probes, out


def write_outputs(
    result: Analysis, report: str, meta: dict[str, Any], out_dir: Path, report_html: str = ""
) -> None:
    """Write every table, the plot data, summary.json, report.md and report.html."""
    tables = {
        "overall": result.overall,
        "pairs": result.pairs,
        "groups": result.groups,
        "gaps": result.gaps,
        "proxy": result.proxy,
        "calibration": result.calibration,
        "probes": result.probes,
    }
    for name, frame in tables.items():
        columns = list(paths.ANALYSIS_COLUMNS[name])
        if list(frame.columns) != columns:  # the dashboard reads these columns: keep them in step
            raise RuntimeError(f"{name} table has columns {list(frame.columns)}, not {columns}")
        frame.to_csv(out_dir / paths.ANALYSIS_TABLES[name].name, index=False)
    # (table, columns written, columns that must be defined for a point to be drawn)
    plot_columns = {
        "gaps": (result.gaps, ["profession", "gap", "gap_ci_low", "gap_ci_high", "small"], ["gap"]),
        "proxy": (result.gaps, ["profession", "share_women", "gap"], ["share_women", "gap"]),
        "calibration": (
            result.calibration,
            ["bin", "mean_predicted", "fraction_female", "count"],
            ["mean_predicted"],
        ),
    }
    for plot, (frame, columns, required) in plot_columns.items():
        for predictor, part in frame.groupby("predictor", sort=False):
            relative = paths.analysis_plot_path(plot, str(predictor)).relative_to(
                paths.ANALYSIS_DIR
            )
            (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            part[columns].dropna(subset=required).to_csv(out_dir / relative, index=False)
    write_json({**result.summary, "run": meta}, out_dir / paths.ANALYSIS_SUMMARY.name)
    write_text(report, out_dir / paths.ANALYSIS_REPORT.name)
    if report_html:
        write_text(report_html, out_dir / paths.ANALYSIS_REPORT_HTML.name)


def main() -> None:
    """Read params, the split, the profile and every predictions file; write the analysis."""
    params = load_stage_params(PARAMS)
    test_path = paths.require(paths.split_path("test"), "prepare")
    files = discover_predictions(paths.PREDICTIONS_DIR)
    if not files:
        raise SuiteError(
            f"no predictions in {paths.PREDICTIONS_DIR}/; run the predict, train or baselines "
            "stages first"
        )
    with run_log("analyze"):
        test = read_split(test_path, ["id", "profession_id", "profession", "gender_id"])
        profile = _read_profile()
        predictions = load_predictions(files, test)
        models = {
            name: read_parquet_metadata(path).get("model_info", {}) for name, path in files.items()
        }
        probes, probe_predictions = _read_probes(set(predictions))
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
        )
        report = render_report(result, params["analyze"])
        history, best_step = _read_training()
        report_html = render_html(result, params["analyze"], report, history, best_step)
        with atomic_dir(paths.ANALYSIS_DIR) as tmp:
            write_outputs(result, report, run_metadata("analyze", params), tmp, report_html)
        write_json(result.metrics, paths.ANALYSIS_METRICS)
        log.info("wrote %s and %s", paths.ANALYSIS_DIR, paths.ANALYSIS_METRICS)


if __name__ == "__main__":
    run_main(main)
