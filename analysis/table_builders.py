"""One builder per analysis table, from predictions aligned row by row with the test split.

Each function returns one tidy table of :data:`pipeline.lib.contract.TABLES` (or the
JSON bodies beside them); :func:`analysis.analyze.analyze` calls them in order. Statistics come
from :mod:`analysis.metrics`, :mod:`analysis.significance`, :mod:`analysis.fairness` and
:mod:`analysis.probes`; the sentences from :mod:`analysis.verdicts`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from analysis import multibootstrap
from analysis.fairness import group_error_rates, proxy_bias, tpr_gap_by_profession
from analysis.metrics import METRICS, overall_metrics_many, reliability_curve, wilson_interval
from analysis.occupation_metrics import OCCUPATION_METRICS, gap_rms, occupation_overall
from analysis.probes import probe_effects
from analysis.result import Analysis
from analysis.significance import compare_predictors, holm_level
from analysis.verdicts import (
    erasure_check_sentence,
    gap_rms_verdict,
    majority_reading,
    occupation_probe_verdict,
    one_class_warning,
    probe_verdict,
    procedure_proxy_verdict,
    procedure_verdict,
    proxy_direction,
    proxy_verdict,
    toy_model_notice,
    variance_split_sentence,
)
from pipeline.lib import catalogue, paths
from pipeline.lib.contract import ALL_PROFESSIONS, TABLES, PairFamily, ProbeVariant
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import FEMALE, GENDERS, PROFESSIONS
from pipeline.lib.params import AnalyzeParams

log = logging.getLogger(__name__)

PROBE_COLUMNS = list(TABLES["probes"].columns)


def _front(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column, *[c for c in frame.columns if c != column]]]


def _clean(value: Any) -> Any:
    """JSON-safe scalar: NaN and infinities become None, numpy scalars plain Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _female(features: pd.DataFrame) -> np.ndarray:
    """Whether each bio's subject is a woman (from :func:`sensitive_features`)."""
    return (features["gender"] == GENDERS[FEMALE]).to_numpy()


def sensitive_features(test: pd.DataFrame) -> pd.DataFrame:
    """Profession id, profession name and gender name of every test bio."""
    return pd.DataFrame(
        {
            "profession_id": test["profession_id"].to_numpy(np.int64),
            "profession": test["profession"].to_numpy(object),
            "gender": np.array(GENDERS, dtype=object)[test["gender_id"].to_numpy(np.int64)],
        }
    )


def metric_names(task: str = "gender") -> tuple[str, ...]:
    """The overall metrics of ``task``, in report order (each declared once, with its formula)."""
    if task == "gender":
        return tuple(spec.name for spec in METRICS)
    return tuple(spec.name for spec in OCCUPATION_METRICS)


def overall_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    params: AnalyzeParams,
    seed: int,
    *,
    task: str = "gender",
    gender: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every overall metric of ``task`` per predictor, with its interval.

    The gender task's are :data:`analysis.metrics.METRICS`; a K-class task's are
    :data:`analysis.occupation_metrics.OCCUPATION_METRICS` (they need each bio's ``gender``).
    """
    started = time.perf_counter()
    if task != "gender":
        overall = _class_overall(y, predictions, gender, params, seed)
        log.info("overall metrics: %.1f s", time.perf_counter() - started)
        return _front(overall.reset_index(), "predictor")
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


def runs_of(name: str, predictions: dict[str, Any]) -> list[str]:
    """The predictions of ``name``: its runs by seed if it is seeded, else itself (if present)."""
    runs = [
        n
        for n in predictions
        if paths.split_run(n)[1] is not None and paths.split_run(n)[0] == name
    ]
    return runs or ([name] if name in predictions else [])


def seeds_by_procedure(names: Any) -> dict[str, list[int]]:
    """``{"lora": [1234, 1235]}``: the training seeds of each seeded predictor among ``names``."""
    out: dict[str, list[int]] = {}
    for name in names:
        procedure, seed = paths.split_run(name)
        if seed is not None:
            out.setdefault(procedure, []).append(seed)
    return out


def primary_pair(
    predictions: dict[str, pd.DataFrame], params: AnalyzeParams, notes: list[str]
) -> list[tuple[str, str]]:
    """The pairs of ``analyze.primary``: one per training seed of its seeded side.

    Empty, with a note saying so, when either side has no predictions.
    """
    a_runs, b_runs = (runs_of(name, predictions) for name in params.primary)
    absent = [name for name, runs in zip(params.primary, (a_runs, b_runs), strict=True) if not runs]
    if not absent:
        return [(a, b) for a in a_runs for b in b_runs]
    log.warning("analyze.primary: no predictions of %s; no primary comparison", absent)
    notes.append(
        f"No primary comparison: analyze.primary names {', '.join(params.primary)} but "
        f"{', '.join(absent)} has no predictions."
    )
    return []


def pairs_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    primary: list[tuple[str, str]],
    params: AnalyzeParams,
    task: str = "gender",
) -> pd.DataFrame:
    """Every pair of predictors on the same bios (two seeds of one procedure excepted)."""
    predicted = pd.DataFrame(
        {name: frame["pred"].to_numpy(np.int64) for name, frame in predictions.items()}
    )
    return compare_predictors(
        y_true=y,
        predictions=predicted,
        confidence=params.confidence,
        primary=primary or None,
        references=[name for name in predictions if catalogue.is_reference(name, task)],
        labels={name: catalogue.label(name, task) for name in predictions},
        procedures={
            name: paths.split_run(name)[0]
            for name in predictions
            if paths.split_run(name)[1] is not None
        },
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
    gender: np.ndarray | None = None,
) -> pd.DataFrame:
    """The TPR gap (women - men) per predictor x profession, with the train share of women.

    ``gender``: each bio's gender id when it is not the label (the occupation task, where the
    TPR of women in an occupation is the share of its women classified as it).
    """
    parts = []
    for name, frame in predictions.items():
        gaps = tpr_gap_by_profession(
            y_true=y,
            y_pred=frame["pred"].to_numpy(np.int64),
            profession=features["profession_id"],
            **({} if gender is None else {"gender": gender}),
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
    """Per predictor: the gap against the profession's share of women (r, rho, slope).

    Only professions with at least ``analyze.min_group_size`` test bios of each gender (the
    cells the gap ranking uses too): a cell of one or two bios has a gap of -1, 0 or +1 and
    would otherwise decide the verdict alone.
    """
    rows = []
    for name, part in gaps.groupby("predictor", sort=False):
        both = part[(part["n_female"] > 0) & (part["n_male"] > 0)]
        part = part[~part["small"].astype(bool)]
        proxy = proxy_bias(
            gap=part.set_index("profession_id")["gap"],
            share_women=share_women,
            confidence=params.confidence,
        )
        # the sentence counts what the test ran on: the cells of at least min_group_size
        proxy["verdict"] = proxy_verdict(
            proxy,
            1 - params.confidence,
            min_group_size=params.min_group_size,
            n_both_genders=len(both),
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
    label: str = "gender_id",
) -> pd.DataFrame:
    """Flip rate and accuracy on the counterfactual probes, per predictor x profession x variant.

    ``label``: the test split's label column. For the gender task a probe's expected answer is
    its ``expected_gender_id`` (the swapped gender); for the occupation task it is the source
    bio's profession, whatever its gendered words say.
    """
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
        y_source = source[label].to_numpy(np.int64)
        expected = probes["expected_gender_id"] if label == "gender_id" else y_source
        effects = probe_effects(
            variant=probes["variant"],
            y_expected=np.asarray(expected, dtype=np.int64),
            y_pred=frame["pred"].to_numpy(np.int64),
            y_pred_original=predictions[name]["pred"].to_numpy(np.int64)[position],
            y_true_original=y_source,
            profession=source["profession"].to_numpy(object),
            confidence=params.confidence,
        ).reset_index()
        parts.append(effects.assign(predictor=name))
    if not parts:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    return table[PROBE_COLUMNS]


def _class_overall(
    y: np.ndarray,
    frames: dict[str, pd.DataFrame],
    gender: np.ndarray,
    params: AnalyzeParams,
    seed: int,
) -> pd.DataFrame:
    """:func:`analysis.occupation_metrics.occupation_overall` of K-class predictions frames."""
    return occupation_overall(
        y_true=y,
        predictions={
            name: (frame["pred"].to_numpy(np.int64), frame["confidence"].to_numpy(np.float64))
            for name, frame in frames.items()
        },
        gender=gender,
        seed=seed,
        resamples=params.bootstrap_resamples,
        confidence=params.confidence,
        bins=params.calibration_bins,
    )


def majority_rate(test_gender: np.ndarray, train_female_share: float) -> tuple[str, float]:
    """The train split's majority gender and its share of the test bios.

    What a constant answer (the train split's majority) scores on the test bios: the rate LEACE
    promises an erased representation cannot beat with a linear probe.
    """
    majority = FEMALE if train_female_share > 0.5 else 1 - FEMALE
    rate = float(np.mean(test_gender == majority)) if len(test_gender) else math.nan
    return GENDERS[majority], rate


def leakage_table(
    leakage: dict[str, pd.DataFrame],
    train_female_share: float,
    params: AnalyzeParams,
    seed: int,
) -> pd.DataFrame:
    """Per representation: the gender probe's accuracy as is and erased, against the majority.

    ``leakage``: the erase stage's files (results/leakage/<representation>.parquet), aligned
    with the test split. Wilson intervals; the verdict reads the interval against the rate
    (:func:`analysis.verdicts.majority_reading`). The erased row also gives erased - as is,
    with a paired bootstrap interval and p-value over the test bios (the representation is one
    for every training seed: only the bios vary).
    """
    rows = []
    for representation, frame in leakage.items():
        gender = frame["gender_id"].to_numpy(np.int64)
        majority, rate = majority_rate(gender, train_female_share)
        right = {
            version: frame[column].to_numpy(np.int64) == gender
            for version, column in (("as is", "pred"), ("erased", "pred_erased"))
        }
        change = multibootstrap.procedure_difference(
            correct=right["erased"][None].astype(np.float64),
            baseline_correct=right["as is"].astype(np.float64),
            resamples=params.bootstrap_resamples,
            seed=seed,
            confidence=params.confidence,
        )
        for version in ("as is", "erased"):
            correct = int(np.sum(right[version]))
            n = len(gender)
            low, high = wilson_interval(successes=correct, n=n, confidence=params.confidence)
            erased = version == "erased"
            rows.append(
                {
                    "representation": representation,
                    "version": version,
                    "n": n,
                    "correct": correct,
                    "accuracy": correct / n if n else math.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "majority_gender": majority,
                    "majority_rate": rate,
                    "diff": change.estimate if erased else math.nan,
                    "diff_ci_low": change.ci_low if erased else math.nan,
                    "diff_ci_high": change.ci_high if erased else math.nan,
                    "p_value": change.p_value if erased else math.nan,
                    "verdict": majority_reading(low, high, rate),
                }
            )
    return pd.DataFrame(rows, columns=list(TABLES["leakage"].columns))


def erasure_checks(
    overall: pd.DataFrame, test_gender: np.ndarray, train_female_share: float, confidence: float
) -> dict[str, str]:
    """The gender task's LEACE check: each `erased` predictor's accuracy against the majority.

    Its runs' accuracy rows (overall.csv) against the test share of the train split's majority
    gender (:func:`majority_rate`), in words (:func:`analysis.verdicts.erasure_check_sentence`).
    """
    _, rate = majority_rate(test_gender, train_female_share)
    accuracy = overall[overall["metric"] == "accuracy"]
    checks = {}
    for spec in catalogue.predictors("gender"):
        if spec.section != "erased":
            continue
        runs = accuracy[accuracy["predictor"].map(lambda n: catalogue.split_run(n)[0]) == spec.name]
        if len(runs):
            checks[spec.name] = erasure_check_sentence(
                spec.name, spec.label, runs.to_dict("records"), rate, confidence
            )
    return checks


def scrubbed_table(
    test: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    probes: pd.DataFrame | None,
    probe_predictions: dict[str, pd.DataFrame],
    params: AnalyzeParams,
    seed: int,
) -> pd.DataFrame:
    """The occupation task's overall metrics on the probed bios, unchanged and scrubbed.

    Per predictor with probe predictions: accuracy, macro-F1, top-label ECE and GAP^RMS (with
    their intervals, :func:`analysis.occupation_metrics.occupation_overall`) of its answers on
    the probed test bios as they are (``unchanged``) and with their gendered words removed
    (``scrubbed``: the probe variant ``removed``), against each bio's own profession and gender.
    The two versions share the bootstrap resamples (the same bios), so they are paired.
    """
    columns = list(TABLES["scrubbed"].columns)
    if probes is None or not probe_predictions:
        return pd.DataFrame(columns=columns)
    removed = (probes["variant"] == ProbeVariant.REMOVED).to_numpy()
    source = pd.Index(test["id"].astype(str)).get_indexer(probes["source_id"][removed].astype(str))
    y = test["profession_id"].to_numpy(np.int64)[source]
    gender = test["gender_id"].to_numpy(np.int64)[source]
    parts = []
    for name, frame in probe_predictions.items():
        if name not in predictions:
            continue
        scrubbed = frame[removed]
        unchanged = predictions[name].iloc[source]
        versions = {
            "unchanged": unchanged,
            "scrubbed": scrubbed,
        }
        table = _class_overall(y, versions, gender, params, seed)
        table = table.reset_index().rename(columns={"predictor": "version"})
        parts.append(table.assign(predictor=name))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


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


def probe_verdicts(probes: pd.DataFrame, confidence: float, task: str = "gender") -> dict[str, str]:
    """One sentence per predictor on what its counterfactual probes show."""
    overall = probes[probes["profession"] == ALL_PROFESSIONS]
    sentence = probe_verdict if task == "gender" else occupation_probe_verdict
    verdicts = {}
    for name, part in overall.groupby("predictor", sort=False):
        rows = {row["variant"]: row for row in part.to_dict(orient="records")}
        swapped, removed = rows.get(ProbeVariant.SWAPPED), rows.get(ProbeVariant.REMOVED)
        verdicts[str(name)] = sentence(swapped, removed, confidence)
    return verdicts


def _predictor_summary(name: str, model: dict[str, Any], task: str) -> dict[str, Any]:
    spec = catalogue.spec(name, task)
    return {
        "label": spec.display if spec else name,
        "description": spec.description if spec else "not in the predictor catalogue",
        "kind": spec.kind if spec else "unknown",
        "reference": bool(spec and spec.reference),
        "model": model,
    }


def summary_body(
    result: Analysis,
    test: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    params: AnalyzeParams,
    primary: list[tuple[str, str]],
    data: dict[str, Any] | None,
    models: dict[str, dict[str, Any]] | None,
    task: str = "gender",
) -> dict[str, Any]:
    """``summary.json`` without the run facts: data, predictors, settings, cells, notes.

    The note on small profession x gender cells is added to ``result.notes`` here.
    """
    cells = small_cells(test, params.min_group_size, result.notes)
    n_test = len(test)
    verdicts = probe_verdicts(result.probes, params.confidence, task)
    one_class = task == "gender"  # "gives one gender to every bio": a gender classifier's slip
    return {
        **({} if task == "gender" else {"task": task}),
        "data": {
            "source": str((data or {}).get("source", "unknown")),
            "synthetic": bool((data or {}).get("synthetic", False)),
            "n_test": n_test,
        },
        "predictors": {
            name: {
                **_predictor_summary(name, (models or {}).get(name, {}), task),
                "probe_verdict": verdicts.get(name),
                "warning": one_class_warning(predictions[name]["pred"], params.one_class_share)
                if one_class
                else None,
            }
            for name in result.overall["predictor"].unique()
        },
        "settings": {
            "confidence": params.confidence,
            "alpha": 1 - params.confidence,
            "min_group_size": params.min_group_size,
            "primary": list(params.primary) if primary else None,
            "training_seeds": seeds_by_procedure(result.overall["predictor"].unique()),
        },
        "cells": cells,
        "notes": result.notes,
        "toy_model": toy_model_notice(models or {}),
    }


def headline_metrics(result: Analysis, task: str = "gender") -> dict[str, Any]:
    """``results/metrics.json``: the few numbers people compare across experiments.

    Per predictor: every metric of :data:`analysis.metrics.METRICS` (accuracy with its
    interval), the proxy-bias Pearson r and the probe flip rates; and ``primary``: the accuracy
    difference of ``analyze.primary`` (second minus first) with its exact interval and p-value.
    """
    overall = result.overall.set_index(["predictor", "metric"])
    proxy = result.proxy.set_index("predictor")
    flips = result.probes[result.probes["profession"] == ALL_PROFESSIONS].set_index(
        ["predictor", "variant"]
    )
    metrics: dict[str, Any] = {}
    for name in result.overall["predictor"].unique():
        entry = {m: _clean(overall.loc[(name, m), "value"]) for m in metric_names(task)}
        entry["accuracy_ci_low"] = _clean(overall.loc[(name, "accuracy"), "ci_low"])
        entry["accuracy_ci_high"] = _clean(overall.loc[(name, "accuracy"), "ci_high"])
        entry["proxy_r"] = _clean(proxy.loc[name, "pearson_r"]) if name in proxy.index else None
        for (predictor, variant), row in flips.iterrows():
            if predictor == name:
                entry[f"flip_rate_{variant}"] = _clean(row["flip_rate"])
        metrics[name] = entry
    for procedure, part in result.seeds.groupby("predictor", sort=False):
        means = part.set_index("metric")
        metrics[str(procedure)] = {
            "n_seeds": int(means["n_seeds"].iloc[0]),
            **{f"{m}_mean": _clean(means.loc[m, "mean"]) for m in means.index},
            "accuracy_sd": _clean(means.loc["accuracy", "sd"]),
        }
    if not result.procedure.empty and int(result.procedure["n_seeds"].iloc[0]) > 1:
        row = result.procedure.iloc[0]
        metrics["primary"] = {
            "acc_diff": _clean(row["acc_diff"]),
            "acc_diff_ci_low": _clean(row["diff_ci_low"]),
            "acc_diff_ci_high": _clean(row["diff_ci_high"]),
            "p_value": _clean(row["p_value"]),
            "n_seeds": int(row["n_seeds"]),
            "seeds_significant": int(row["seeds_significant"]),
            "ci_method": "multi-bootstrap",
        }
        return metrics
    primary = result.pairs[result.pairs["family"] == PairFamily.PRIMARY]
    if not primary.empty:
        row = primary.iloc[0]
        metrics["primary"] = {
            "acc_diff": _clean(row["acc_diff"]),
            "acc_diff_ci_low": _clean(row["diff_ci_low"]),
            "acc_diff_ci_high": _clean(row["diff_ci_high"]),
            "p_value": _clean(row["p_value"]),
        }
    return metrics


def procedure_comparisons(
    predictions: dict[str, pd.DataFrame], params: AnalyzeParams, task: str = "gender"
) -> list[tuple[str, str, str]]:
    """``(a, b, family)`` of every comparison made over training seeds (b - a).

    ``analyze.primary`` when one of its sides is trained per seed (family ``primary``); then
    every other trained predictor ``c`` against both sides, ``(a, c)`` and ``(c, b)`` (family
    ``secondary``, Holm-adjusted within it): is it better than the "before", and does the
    "after" beat it? Then each mitigated predictor (the catalogue's ``erased``) against the
    predictor it mitigates, ``(mitigates, it)`` (family ``mitigation``, Holm within it): what
    the mitigation changes. Only predictors with predictions; references are never tested.
    """
    a, b = params.primary
    # trained per seed here: its predictions are runs <name>@seed<n> (not one unseeded file)
    present = [
        n
        for n in catalogue.seeded_names(task)
        if any(paths.split_run(r)[1] is not None for r in runs_of(n, predictions))
    ]
    tested = [n for n in present if not catalogue.is_reference(n, task)]
    both = all(runs_of(n, predictions) for n in (a, b))
    out = [(a, b, PairFamily.PRIMARY.value)] if both and (a in present or b in present) else []
    mitigated = {spec.name: spec.mitigates for spec in catalogue.predictors(task) if spec.mitigates}
    for other in tested:
        if other in (a, b) or other in mitigated:
            continue
        out += [
            (x, y, PairFamily.SECONDARY.value)
            for x, y in ((a, other), (other, b))
            if runs_of(x, predictions) and runs_of(y, predictions)
        ]
    out += [
        (counterpart, name, PairFamily.MITIGATION.value)
        for name, counterpart in mitigated.items()
        if name in present and counterpart in present
    ]
    return out


def _correct_by_seed(name: str, predictions: dict[str, pd.DataFrame], y: np.ndarray) -> np.ndarray:
    """``(S, n)`` (one row if ``name`` is not seeded): each run right or wrong on each bio."""
    runs = sorted(runs_of(name, predictions), key=lambda r: paths.split_run(r)[1] or 0)
    return np.stack([predictions[r]["pred"].to_numpy(np.int64) == y for r in runs])


def _seed_pairs(a: str, b: str, predictions: dict[str, pd.DataFrame]) -> list[frozenset[str]]:
    """The per-seed pairs of runs of ``a`` and ``b`` (a model without seeds pairs every run)."""
    runs_a, runs_b = runs_of(a, predictions), runs_of(b, predictions)
    seed_of = {r: paths.split_run(r)[1] for r in (*runs_a, *runs_b)}
    return [
        frozenset((ra, rb))
        for ra in runs_a
        for rb in runs_b
        if seed_of[ra] is None or seed_of[rb] is None or seed_of[ra] == seed_of[rb]
    ]


def procedure_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    pairs: pd.DataFrame,
    params: AnalyzeParams,
    seed: int,
    task: str = "gender",
) -> pd.DataFrame:
    """The comparisons over training seeds (:func:`procedure_comparisons`): Multi-Bootstrap.

    Each row: the mean over seeds of the accuracy difference b - a on the same test bios, its
    Multi-Bootstrap interval and p-value (seeds and bios resampled jointly; two trained
    procedures paired by seed), and how many seeds are significant alone. The primary row is
    tested alone at alpha = 1 - confidence (with one seed: exact McNemar, as the pair);
    secondary rows are Holm-adjusted within their family, their intervals at the level Holm
    stopped at, so each interval excludes 0 exactly when its row is significant.
    """
    columns = list(TABLES["procedure"].columns)
    comparisons = procedure_comparisons(predictions, params, task)
    if not comparisons:
        return pd.DataFrame(columns=columns)
    alpha = 1 - params.confidence
    rows = []
    for a, b, family in comparisons:
        rows.append(_procedure_row(y, predictions, pairs, params, seed, (a, b, family)))
    frame = pd.DataFrame(rows)

    def interval(a: str, b: str, level: float) -> multibootstrap.MultiBootstrapResult:
        return multibootstrap.procedure_difference(
            correct=_correct_by_seed(b, predictions, y),
            baseline_correct=_correct_by_seed(a, predictions, y),
            resamples=params.bootstrap_resamples,
            seed=seed,
            confidence=level,
        )

    _holm_families(frame, alpha, interval)
    for index, row in frame.iterrows():
        labels = {n: catalogue.label(n, task) for n in (row["predictor_a"], row["predictor_b"])}
        seeded = tuple(n in catalogue.seeded_names(task) for n in labels)
        frame.loc[index, "verdict"] = procedure_verdict(row, labels, alpha, seeded)
        frame.loc[index, "variance_verdict"] = variance_split_sentence(row)
    return frame[columns]


def _holm_families(
    frame: pd.DataFrame,
    alpha: float,
    interval: Callable[[str, str, float], multibootstrap.MultiBootstrapResult],
) -> None:
    """Holm-adjust each family but the primary of a comparison table in place.

    Within each family (secondary, mitigation) apart: ``interval(a, b, level)`` is the row's
    Multi-Bootstrap at ``level``: each row's interval is recomputed at the level Holm's
    procedure stopped at, so it excludes 0 exactly when the row is significant.
    ``significant`` ends as a plain bool column.
    """
    for family in (PairFamily.SECONDARY, PairFamily.MITIGATION):
        _holm_family(frame, frame["family"] == family, alpha, interval)
    frame["significant"] = frame["significant"].astype(bool)


def _holm_family(
    frame: pd.DataFrame,
    secondary: pd.Series,
    alpha: float,
    interval: Callable[[str, str, float], multibootstrap.MultiBootstrapResult],
) -> None:
    """Holm within the rows ``secondary`` (one family), intervals at Holm's level."""
    if secondary.any():
        adjusted, rejected, level = holm_level(frame.loc[secondary, "p_value"], alpha)
        frame.loc[secondary, "p_adjusted"] = adjusted
        frame.loc[secondary, "significant"] = rejected
        frame.loc[secondary, "ci_level"] = 1 - level
        for index in frame.index[secondary]:
            row = frame.loc[index]
            again = interval(row["predictor_a"], row["predictor_b"], 1 - level)
            frame.loc[index, ["diff_ci_low", "diff_ci_high"]] = [again.ci_low, again.ci_high]


def _procedure_row(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    pairs: pd.DataFrame,
    params: AnalyzeParams,
    seed: int,
    comparison: tuple[str, str, str],
) -> dict[str, Any]:
    """One comparison over seeds at ``analyze.confidence`` (Holm comes after, for the family)."""
    a, b, family = comparison
    correct, base = _correct_by_seed(b, predictions, y), _correct_by_seed(a, predictions, y)
    boot = multibootstrap.procedure_difference(
        correct=correct,
        baseline_correct=base,
        resamples=params.bootstrap_resamples,
        seed=seed,
        confidence=params.confidence,
    )
    alpha = 1 - params.confidence
    matched = set(_seed_pairs(a, b, predictions))
    per_seed = pairs[
        [
            frozenset(p) in matched
            for p in zip(pairs["predictor_a"], pairs["predictor_b"], strict=True)
        ]
    ]
    row = {
        "predictor_a": a,
        "predictor_b": b,
        "family": family,
        "n_seeds": max(len(correct), len(base)),
        "n_bios": len(y),
        "resamples": params.bootstrap_resamples,
        "acc_a": float(base.mean()),
        "acc_b_mean": float(correct.mean()),
        "acc_diff": boot.estimate,
        "diff_ci_low": boot.ci_low,
        "diff_ci_high": boot.ci_high,
        "ci_level": params.confidence,
        "p_value": boot.p_value,
        "p_adjusted": boot.p_value,
        "significant": bool(boot.p_value < alpha),
        "sd_joint": boot.sd_joint,
        "sd_seeds": boot.sd_seeds,
        "sd_bios": boot.sd_bios,
        "seed_share": boot.seed_share,
        "seeds_significant": int(per_seed["significant"].astype(bool).sum()),
        "pair_verdict": per_seed["verdict"].iloc[0] if len(per_seed) else "",
    }
    if family == PairFamily.PRIMARY and row["n_seeds"] == 1 and len(per_seed):
        one = per_seed.iloc[0]  # the paired comparison of one run: exact McNemar decides
        row.update(
            diff_ci_low=one["diff_ci_low"],
            diff_ci_high=one["diff_ci_high"],
            p_value=one["p_value"],
            p_adjusted=one["p_value"],
            significant=bool(one["significant"]),
        )
    return row


def gap_rms_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    features: pd.DataFrame,
    params: AnalyzeParams,
    seed: int,
    task: str,
) -> pd.DataFrame:
    """GAP^RMS compared over training seeds, for the comparisons of :func:`procedure_comparisons`.

    Each row: each side's GAP^RMS (a seeded side's is the mean over its runs of each run's),
    the difference b - a with its Multi-Bootstrap interval and p-value (seeds and bios resampled
    jointly, two trained procedures paired by seed). The primary row is tested alone; the
    secondary rows are Holm-adjusted within their family, each interval at the level Holm
    stopped at, so it excludes 0 exactly when its row is significant.
    """
    columns = list(TABLES["gap_rms"].columns)
    comparisons = procedure_comparisons(predictions, params, task)
    if not comparisons:
        return pd.DataFrame(columns=columns)
    profession = features["profession_id"].to_numpy(np.int64)
    female = _female(features)

    def boot(a: str, b: str, confidence: float) -> multibootstrap.MultiBootstrapResult:
        return multibootstrap.procedure_gap_rms(
            correct=_correct_by_seed(b, predictions, y),
            profession=profession,
            female=female,
            baseline_correct=_correct_by_seed(a, predictions, y),
            resamples=params.bootstrap_resamples,
            seed=seed,
            confidence=confidence,
        )

    def level(name: str) -> float:
        correct = _correct_by_seed(name, predictions, y)
        return float(np.mean([_gap_rms_of(row, profession, female) for row in correct]))

    alpha = 1 - params.confidence
    rows = []
    for a, b, family in comparisons:
        result = boot(a, b, params.confidence)
        rows.append(
            {
                "predictor_a": a,
                "predictor_b": b,
                "family": family,
                "n_seeds": max(len(runs_of(a, predictions)), len(runs_of(b, predictions))),
                "n_bios": len(y),
                "resamples": params.bootstrap_resamples,
                "gap_rms_a": level(a),
                "gap_rms_b": level(b),
                "diff": result.estimate,
                "diff_ci_low": result.ci_low,
                "diff_ci_high": result.ci_high,
                "ci_level": params.confidence,
                "p_value": result.p_value,
                "p_adjusted": result.p_value,
                "significant": bool(result.p_value < alpha),
            }
        )
    frame = pd.DataFrame(rows)
    _holm_families(frame, alpha, boot)
    frame["verdict"] = [
        gap_rms_verdict(
            row,
            {n: catalogue.label(n, task) for n in (row["predictor_a"], row["predictor_b"])},
            tuple(
                n in catalogue.seeded_names(task) for n in (row["predictor_a"], row["predictor_b"])
            ),
        )
        for _, row in frame.iterrows()
    ]
    return frame[columns]


def _gap_rms_of(correct: np.ndarray, profession: np.ndarray, female: np.ndarray) -> float:
    """GAP^RMS of one run's right/wrong answers: over occupations with bios of both genders."""
    frame = pd.DataFrame({"p": profession, "f": female, "c": correct})
    tpr = frame.groupby(["p", "f"])["c"].mean().unstack("f")
    gaps = (tpr[True] - tpr[False]).dropna() if {True, False} <= set(tpr.columns) else []
    return gap_rms(gap=np.asarray(gaps, dtype=np.float64))


def seeds_table(overall: pd.DataFrame) -> pd.DataFrame:
    """Every metric of each seeded predictor across its seeds: mean, SD, min, max."""
    runs = overall["predictor"].map(
        lambda n: paths.split_run(n)[0] if paths.split_run(n)[1] is not None else None
    )
    part = overall.assign(procedure=runs).dropna(subset=["procedure"])
    if part.empty:
        return pd.DataFrame(columns=list(TABLES["seeds"].columns))
    grouped = part.groupby(["procedure", "metric"], sort=False)["value"]
    table = grouped.agg(
        n_seeds="count", mean="mean", sd=lambda v: v.std(ddof=1), min="min", max="max"
    ).reset_index()
    return table.rename(columns={"procedure": "predictor"})[list(TABLES["seeds"].columns)]


def seed_gaps_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    gaps: pd.DataFrame,
    features: pd.DataFrame,
    params: AnalyzeParams,
    seed: int,
    task: str = "gender",
) -> pd.DataFrame:
    """Each profession's TPR gap over the seeds of each seeded predictor (Multi-Bootstrap)."""
    columns = list(TABLES["seed_gaps"].columns)
    parts = []
    for procedure in catalogue.seeded_names(task):
        runs = [r for r in runs_of(procedure, predictions) if paths.split_run(r)[1] is not None]
        if not runs:
            continue
        correct = np.stack([predictions[r]["pred"].to_numpy(np.int64) == y for r in runs])
        results = multibootstrap.procedure_gaps(
            correct=correct,
            profession=features["profession_id"].to_numpy(np.int64),
            female=_female(features),
            resamples=params.bootstrap_resamples,
            seed=seed,
            confidence=params.confidence,
        )
        single = gaps[gaps["predictor"].isin(runs)]
        significant = single[single["significant"].astype(bool)].groupby("profession_id").size()
        small = single.groupby("profession_id")["small"].first()
        for profession_id, boot in results.items():
            parts.append(
                {
                    "predictor": procedure,
                    "profession_id": profession_id,
                    "profession": PROFESSIONS[profession_id],
                    "n_seeds": len(runs),
                    "gap": boot.estimate,
                    "gap_ci_low": boot.ci_low,
                    "gap_ci_high": boot.ci_high,
                    "p_value": boot.p_value,
                    "stable": bool(boot.ci_low > 0 or boot.ci_high < 0),
                    "seeds_significant": int(significant.get(profession_id, 0)),
                    "small": bool(small.get(profession_id, True)),
                }
            )
    return pd.DataFrame(parts, columns=columns)


def seed_proxy_table(
    y: np.ndarray,
    predictions: dict[str, pd.DataFrame],
    gaps: pd.DataFrame,
    features: pd.DataFrame,
    share_women: pd.Series,
    params: AnalyzeParams,
    seed: int,
    task: str = "gender",
) -> pd.DataFrame:
    """The proxy-bias slope of each seeded predictor over its seeds (Multi-Bootstrap).

    Over the same professions as the per-run proxy table: at least ``analyze.min_group_size``
    bios of each gender.
    """
    columns = list(TABLES["seed_proxy"].columns)
    rows = []
    for procedure in catalogue.seeded_names(task):
        runs = [r for r in runs_of(procedure, predictions) if paths.split_run(r)[1] is not None]
        if not runs:
            continue
        part = gaps[(gaps["predictor"] == runs[0]) & ~gaps["small"].astype(bool)]
        shares = {
            int(p): float(share_women[p])
            for p in part["profession_id"]
            if p in share_women.index and np.isfinite(share_women[p])
        }
        boot = multibootstrap.procedure_proxy_slope(
            correct=np.stack([predictions[r]["pred"].to_numpy(np.int64) == y for r in runs]),
            profession=features["profession_id"].to_numpy(np.int64),
            female=_female(features),
            share_women=shares,
            resamples=params.bootstrap_resamples,
            seed=seed,
            confidence=params.confidence,
        )
        if boot is None:
            continue
        row = {
            "predictor": procedure,
            "n_seeds": len(runs),
            "n_professions": len(shares),
            "slope": boot.estimate,
            "slope_ci_low": boot.ci_low,
            "slope_ci_high": boot.ci_high,
            "p_value": boot.p_value,
            "direction": proxy_direction(boot.estimate, boot.p_value, 1 - params.confidence),
        }
        row["verdict"] = procedure_proxy_verdict(row, 1 - params.confidence, params.confidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
