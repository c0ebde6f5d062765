"""``analyze`` stage: every predictor on the same test bios, paired, with intervals and tests.

Reads every ``results/predictions/<predictor>.parquet`` present (joined to the test split by
``id``, never by position), ``data/profile.json`` (the TRAIN split's share of women per
profession, and whether the data are synthetic) and, when present, the probe texts
(``data/probes/probes.parquet``) with each predictor's ``results/probes/<predictor>.parquet``.

Writes ``results/analysis/`` (the contract the dashboard reads):

- ``metrics.json`` (DVC metrics): data, per-predictor metrics with intervals, pairs, proxy bias
  and probe summaries, and the run's provenance under ``run``;
- ``overall.csv``, ``pairs.csv``, ``groups.csv``, ``gaps.csv``, ``proxy.csv``,
  ``calibration.csv``, ``probes.csv``: tidy tables (one row per record, no index column);
- ``plots/{gaps,proxy,calibration}/<predictor>.csv``: data of the DVC plots in ``dvc.yaml``;
- ``report.md``: a summary a person can read without the dashboard.

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
from pydantic import Field

from analysis.fairness import GENDER_NAMES, group_error_rates, proxy_bias, tpr_gap_by_profession
from analysis.metrics import overall_metrics_many, reliability_curve
from analysis.probes import probe_effects
from analysis.report import render_report
from analysis.significance import compare_predictors
from pipeline import paths
from pipeline.errors import SuiteError, run_main
from pipeline.io import atomic_dir, write_json, write_text
from pipeline.labels import PROFESSIONS
from pipeline.params import Section, Seeds, parse_section, read_params
from pipeline.predictions import read_predictions
from pipeline.provenance import run_metadata

log = logging.getLogger(__name__)

# Human descriptions of the known predictors (reports and metrics.json say what each one is).
LABELS = {
    "zero_shot": "GPT-2 base, zero-shot: the unmodified language model scores female vs male "
    "continuations of a prompt",
    "random_head": "GPT-2 base with an UNTRAINED (random) classification head: at chance, a "
    "reference only",
    "lora": "GPT-2 fine-tuned with LoRA (trained classification head)",
    "pronoun_rule": "baseline: counts female vs male gendered words",
    "tfidf_logreg": "baseline: TF-IDF + logistic regression trained on the train split",
}


class AnalyzeParams(Section):
    """``analyze``: settings of the analysis (changing one never reruns a model)."""

    bootstrap_resamples: int = Field(1000, ge=10)  # percentile bootstrap, seeded by seeds.bootstrap
    confidence: float = Field(0.95, gt=0.5, lt=1.0)  # intervals; 1 - confidence = test level
    min_group_size: int = Field(30, ge=1)  # profession x gender cells below this are "small"
    calibration_bins: int = Field(10, ge=2, le=100)  # equal-width bins of P(female)
    top_gaps: int = Field(5, ge=1)  # professions with the largest |gap| listed in the report


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
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def discover_predictions(directory: Path) -> dict[str, Path]:
    """Predictions files in ``directory``: the known predictors in report order, then others."""
    found = {p.stem: p for p in sorted(directory.glob("*.parquet"))} if directory.is_dir() else {}
    ordered = [name for name in paths.PREDICTORS if name in found]
    ordered += sorted(set(found) - set(ordered))
    return {name: found[name] for name in ordered}


def align_to(ids: pd.Series, frame: pd.DataFrame, source: str, fix: str) -> pd.DataFrame:
    """Rows of ``frame`` in the order of ``ids`` (joined by id); one clear error on a mismatch."""
    index = pd.Index(frame["id"].astype(str))
    position = index.get_indexer(ids.astype(str))
    missing = ids[position < 0]
    extra = index.difference(pd.Index(ids.astype(str)))
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"{len(missing)} ids of the split missing (e.g. {missing.iloc[0]!r})")
        if len(extra):
            parts.append(f"{len(extra)} ids not in the split (e.g. {extra[0]!r})")
        raise SuiteError(f"{source}: {' and '.join(parts)}; {fix}")
    return frame.iloc[position].reset_index(drop=True)


def load_predictions(files: dict[str, Path], test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each predictor's predictions aligned row by row with ``test`` (by id)."""
    out = {}
    for name, path in files.items():
        frame = read_predictions(path)
        out[name] = align_to(
            test["id"],
            frame,
            str(path),
            "its predictions were made on another test split: rerun its predict stage",
        )
    return out


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


def _metric_dict(row: pd.Series) -> dict[str, float | None]:
    return {
        "value": _clean(row["value"]),
        "ci_low": _clean(row["ci_low"]),
        "ci_high": _clean(row["ci_high"]),
    }


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
    """
    if not predictions:
        raise SuiteError("no predictions to analyze")
    notes: list[str] = []
    y = test["gender_id"].to_numpy(np.int64)
    started = time.perf_counter()
    overall, draws = overall_metrics_many(
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
    labels = pd.DataFrame(
        {name: frame["pred"].to_numpy(np.int64) for name, frame in predictions.items()}
    )
    pairs = compare_predictors(
        y_true=y,
        predictions=labels,
        seed=seed,
        resamples=params.bootstrap_resamples,
        confidence=params.confidence,
        accuracy_draws={name: d["accuracy"] for name, d in draws.items()},
    ).reset_index()

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
            "gender": test["gender_id"].map(GENDER_NAMES).to_numpy(object),
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
        proxy = proxy_bias(gap=gaps.set_index("profession_id")["gap"], share_women=share_women)
        proxy_rows.append({"predictor": name, **proxy.to_dict()})
        curve = reliability_curve(
            y_true=y, prob=frame["prob_female"].to_numpy(np.float64), bins=params.calibration_bins
        ).reset_index()
        curve["bin_low"] = curve["bin"] / params.calibration_bins
        curve["bin_high"] = (curve["bin"] + 1) / params.calibration_bins
        calibration_parts.append(curve.assign(predictor=name))

    groups = _front(pd.concat(groups_parts, ignore_index=True), "predictor")
    gaps = _front(pd.concat(gaps_parts, ignore_index=True), "predictor")
    proxy = pd.DataFrame(proxy_rows)
    proxy["n_professions"] = proxy["n_professions"].astype(np.int64)
    calibration = _front(pd.concat(calibration_parts, ignore_index=True), "predictor")
    probe_table = _probe_table(test, predictions, probes, probe_predictions or {}, params)

    overall_flat = _front(overall.reset_index(), "predictor")
    small_cells = int(groups.loc[groups["small"], ["predictor"]].shape[0])
    if small_cells:
        notes.append(
            f"{small_cells} profession x gender cells (over all predictors) have fewer than "
            f"{params.min_group_size} bios and are flagged small: their rates and gaps are "
            "imprecise."
        )
    metrics = {
        "data": {
            "source": str((data or {}).get("source", "unknown")),
            "synthetic": bool((data or {}).get("synthetic", False)),
            "n_test": len(test),
        },
        "predictors": {
            name: {
                "label": LABELS.get(name, name),
                "n": len(test),
                **{metric: _metric_dict(row) for metric, row in overall.loc[name].iterrows()},
            }
            for name in predictions
        },
        "pairs": {
            f"{row.predictor_a}__vs__{row.predictor_b}": {
                "p_value": _clean(row.p_value),
                "p_holm": _clean(row.p_holm),
                "acc_diff": _clean(row.acc_diff),
                "diff_ci_low": _clean(row.diff_ci_low),
                "diff_ci_high": _clean(row.diff_ci_high),
            }
            for row in pairs.itertuples()
        },
        "proxy": {
            row["predictor"]: {k: _clean(v) for k, v in row.items() if k != "predictor"}
            for row in proxy_rows
        },
    }
    if not probe_table.empty:
        overall_probes = probe_table[probe_table["profession"] == "all"]
        metrics["probes"] = {
            f"{row.predictor}__{row.variant}": {
                "n": int(row.n),
                "flip_rate": _clean(row.flip_rate),
                "accuracy": _clean(row.accuracy),
            }
            for row in overall_probes.itertuples()
        }
    return Analysis(
        overall=overall_flat,
        pairs=pairs,
        groups=groups,
        gaps=gaps,
        proxy=proxy,
        calibration=calibration,
        probes=probe_table,
        metrics=metrics,
        notes=notes,
    )


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


def _read_profile() -> dict[str, Any]:
    return json.loads(paths.require(paths.PROFILE, "prepare").read_text())


def _read_probes(names: set[str]) -> tuple[pd.DataFrame | None, dict[str, pd.DataFrame]]:
    files = discover_predictions(paths.PROBE_PREDICTIONS_DIR)
    if not files:
        return None, {}
    if not paths.PROBES_FILE.is_file():
        raise SuiteError(
            f"{paths.PROBE_PREDICTIONS_DIR} holds probe predictions but {paths.PROBES_FILE} is "
            "missing; run the probe stage"
        )
    probes = pd.read_parquet(paths.PROBES_FILE)
    for column in ("id", "source_id", "variant", "expected_gender_id"):
        if column not in probes.columns:
            raise SuiteError(f"{paths.PROBES_FILE}: no column {column!r}; rerun the probe stage")
    out = {}
    for name, path in files.items():
        if name not in names:
            log.warning("%s: no test predictions of %s; its probes are skipped", path, name)
            continue
        out[name] = align_to(
            probes["id"],
            read_predictions(path),
            str(path),
            "they were made on other probe texts: rerun its predictions on the probes",
        )
    return probes, out


def write_outputs(result: Analysis, report: str, meta: dict[str, Any], out_dir: Path) -> None:
    """Write every table, the plot data, metrics.json and report.md into ``out_dir``."""
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
    write_json({**result.metrics, "run": meta}, out_dir / paths.ANALYSIS_METRICS.name)
    write_text(report, out_dir / paths.ANALYSIS_REPORT.name)


def main() -> None:
    """Read params, the split, the profile and every predictions file; write the analysis."""
    raw = read_params()
    params = parse_section(raw, "analyze", AnalyzeParams)
    seeds = parse_section(raw, "seeds", Seeds)
    test_path = paths.require(paths.split_path("test"), "prepare")
    files = discover_predictions(paths.PREDICTIONS_DIR)
    if not files:
        raise SuiteError(
            f"no predictions in {paths.PREDICTIONS_DIR}/; run the predict, train or baselines "
            "stages first"
        )
    test = pd.read_parquet(test_path, columns=["id", "profession_id", "profession", "gender_id"])
    profile = _read_profile()
    predictions = load_predictions(files, test)
    probes, probe_predictions = _read_probes(set(predictions))
    log.info("analysing %s on %d test bios", ", ".join(predictions), len(test))
    result = analyze(
        test,
        predictions,
        train_share_women(profile),
        params,
        seeds.bootstrap,
        probes=probes,
        probe_predictions=probe_predictions,
        data=profile,
    )
    meta = run_metadata("analyze", {"analyze": params}, {"bootstrap": seeds.bootstrap})
    report = render_report(result, params, LABELS)
    with atomic_dir(paths.ANALYSIS_DIR) as tmp:
        write_outputs(result, report, meta, tmp)
    log.info("wrote %s", paths.ANALYSIS_DIR)


if __name__ == "__main__":
    run_main(main)
