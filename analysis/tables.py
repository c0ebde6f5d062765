"""One builder per analysis table, from predictions aligned row by row with the test split.

Each function returns one tidy table of :data:`pipeline.lib.paths.ANALYSIS_COLUMNS` (or the
JSON bodies beside them); :func:`analysis.analyze.analyze` calls them in order. Statistics come
from :mod:`analysis.metrics`, :mod:`analysis.significance`, :mod:`analysis.fairness` and
:mod:`analysis.probes`; the sentences from :mod:`analysis.verdicts`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import pandas as pd

from analysis.fairness import group_error_rates, proxy_bias, tpr_gap_by_profession
from analysis.metrics import METRICS, overall_metrics_many, reliability_curve
from analysis.probes import probe_effects
from analysis.result import Analysis
from analysis.significance import compare_predictors
from analysis.verdicts import probe_verdict
from pipeline.lib import catalogue, paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import GENDERS, PROFESSIONS
from pipeline.lib.params import AnalyzeParams

log = logging.getLogger(__name__)

PROBE_COLUMNS = list(paths.ANALYSIS_COLUMNS["probes"])


def _front(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column, *[c for c in frame.columns if c != column]]]


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN and infinities become None, numpy scalars plain Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sensitive_features(test: pd.DataFrame) -> pd.DataFrame:
    """Profession id, profession name and gender name of every test bio."""
    return pd.DataFrame(
        {
            "profession_id": test["profession_id"].to_numpy(np.int64),
            "profession": test["profession"].to_numpy(object),
            "gender": np.array(GENDERS, dtype=object)[test["gender_id"].to_numpy(np.int64)],
        }
    )


def overall_table(
    y: np.ndarray, predictions: dict[str, pd.DataFrame], params: AnalyzeParams, seed: int
) -> pd.DataFrame:
    """Every metric of :data:`analysis.metrics.METRICS` per predictor, with its interval."""
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
    return _front(overall.reset_index(), "predictor")


def primary_pair(
    predictions: dict[str, pd.DataFrame], params: AnalyzeParams, notes: list[str]
) -> tuple[str, str] | None:
    """``analyze.primary`` if both have predictions; else None, with a note saying so."""
    absent = [name for name in params.primary if name not in predictions]
    if not absent:
        return (params.primary[0], params.primary[1])
    log.warning("analyze.primary: no predictions of %s; no primary comparison", absent)
    notes.append(
        f"No primary comparison: analyze.primary names {', '.join(params.primary)} but "
        f"{', '.join(absent)} has no predictions."
    )
    return None


def pairs_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    primary: tuple[str, str] | None,
    params: AnalyzeParams,
) -> pd.DataFrame:
    """Every pair of predictors on the same bios: exact McNemar tests by family."""
    predicted = pd.DataFrame(
        {name: frame["pred"].to_numpy(np.int64) for name, frame in predictions.items()}
    )
    return compare_predictors(
        y_true=y,
        predictions=predicted,
        confidence=params.confidence,
        primary=primary,
        references=[name for name in predictions if catalogue.is_reference(name)],
        labels={name: catalogue.label(name) for name in predictions},
    )


def missing_professions(test: pd.DataFrame, notes: list[str]) -> None:
    """Note (and log) the professions without test bios: they have no rows anywhere."""
    present = set(test["profession_id"])
    missing = [PROFESSIONS[i] for i in range(len(PROFESSIONS)) if i not in present]
    if missing:
        log.warning(
            "%d professions have no test bios and are skipped: %s", len(missing), ", ".join(missing)
        )
        notes.append(f"Professions without test bios (skipped): {', '.join(missing)}.")


def groups_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    features: pd.DataFrame,
    params: AnalyzeParams,
) -> pd.DataFrame:
    """Error rate and TPR per predictor x profession x gender."""
    parts = [
        group_error_rates(
            y_true=y,
            y_pred=frame["pred"].to_numpy(np.int64),
            sensitive_features=features,
            confidence=params.confidence,
            min_group_size=params.min_group_size,
        )
        .reset_index()
        .assign(predictor=name)
        for name, frame in predictions.items()
    ]
    return _front(pd.concat(parts, ignore_index=True), "predictor")


def gaps_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    features: pd.DataFrame,
    share_women: pd.Series,
    params: AnalyzeParams,
) -> pd.DataFrame:
    """The TPR gap (women - men) per predictor x profession, with the train share of women."""
    parts = []
    for name, frame in predictions.items():
        gaps = tpr_gap_by_profession(
            y_true=y,
            y_pred=frame["pred"].to_numpy(np.int64),
            profession=features["profession_id"],
            confidence=params.confidence,
            min_group_size=params.min_group_size,
        )
        gaps.index.name = "profession_id"
        gaps["share_women"] = share_women.reindex(gaps.index).to_numpy()
        gaps = gaps.reset_index()
        gaps.insert(1, "profession", [PROFESSIONS[i] for i in gaps["profession_id"]])
        parts.append(gaps.assign(predictor=name))
    return _front(pd.concat(parts, ignore_index=True), "predictor")


def proxy_table(gaps: pd.DataFrame, share_women: pd.Series, params: AnalyzeParams) -> pd.DataFrame:
    """Per predictor: the gap against the profession's share of women (r, rho, slope)."""
    rows = []
    for name, part in gaps.groupby("predictor", sort=False):
        proxy = proxy_bias(
            gap=part.set_index("profession_id")["gap"],
            share_women=share_women,
            confidence=params.confidence,
        )
        rows.append({"predictor": name, **proxy.to_dict()})
    proxy = pd.DataFrame(rows).infer_objects()
    proxy["n_professions"] = proxy["n_professions"].astype(np.int64)
    return proxy


def calibration_table(
    y: np.ndarray, predictions: dict[str, pd.DataFrame], params: AnalyzeParams
) -> pd.DataFrame:
    """The reliability curve per predictor."""
    parts = []
    for name, frame in predictions.items():
        curve = reliability_curve(
            y_true=y, prob=frame["prob_female"].to_numpy(np.float64), bins=params.calibration_bins
        ).reset_index()
        curve["bin_low"] = curve["bin"] / params.calibration_bins
        curve["bin_high"] = (curve["bin"] + 1) / params.calibration_bins
        parts.append(curve.assign(predictor=name))
    return _front(pd.concat(parts, ignore_index=True), "predictor")


def probe_table(
    test: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    probes: pd.DataFrame | None,
    probe_predictions: dict[str, pd.DataFrame],
    params: AnalyzeParams,
) -> pd.DataFrame:
    """Flip rate and accuracy on the counterfactual probes, per predictor x profession x variant."""
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


def small_cells(
    test: pd.DataFrame, min_group_size: int, notes: list[str] | None = None
) -> dict[str, Any]:
    """Profession x gender cells of the test split: with bios, and under ``min_group_size``.

    Counted once per cell (they are the same for every predictor). If ``notes`` is given and
    some cells are small, a note saying so is appended to it.
    """
    counts = test.groupby(["profession", "gender_id"]).size()
    small = counts[counts < min_group_size]
    if len(small) and notes is not None:
        notes.append(
            f"{len(small)} of the {len(counts)} profession x gender cells with test "
            f"bios have fewer than {min_group_size} bios (analyze.min_group_size): their "
            "rates and gaps are imprecise, and their professions are listed apart from the "
            "ranked gaps."
        )
    return {
        "with_bios": len(counts),
        "small": len(small),
        "small_cells": [
            {"profession": profession, "gender": GENDERS[gender], "n": int(n)}
            for (profession, gender), n in small.items()
        ],
    }


def probe_verdicts(probes: pd.DataFrame, confidence: float) -> dict[str, str]:
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


def summary_body(
    result: Analysis,
    *,
    n_test: int,
    params: AnalyzeParams,
    primary: tuple[str, str] | None,
    cells: dict[str, Any],
    data: dict[str, Any] | None,
    models: dict[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """``summary.json`` without the run facts: data, predictors, settings, cells, notes."""
    verdicts = probe_verdicts(result.probes, params.confidence)
    return {
        "data": {
            "source": str((data or {}).get("source", "unknown")),
            "synthetic": bool((data or {}).get("synthetic", False)),
            "n_test": n_test,
        },
        "predictors": {
            name: {
                **_predictor_summary(name, (models or {}).get(name, {})),
                "probe_verdict": verdicts.get(name),
            }
            for name in result.overall["predictor"].unique()
        },
        "settings": {
            "confidence": params.confidence,
            "alpha": 1 - params.confidence,
            "min_group_size": params.min_group_size,
            "primary": list(primary) if primary else None,
        },
        "cells": cells,
        "notes": result.notes,
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
