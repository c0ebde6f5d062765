"""``report.md``: the analysis in words, readable without the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.metrics import METRICS

if TYPE_CHECKING:
    from analysis.analyze import Analysis
    from pipeline.params import AnalyzeParams

HEADLINE = tuple(spec.name for spec in METRICS)


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _with_ci(value: Any, low: Any, high: Any, digits: int = 3) -> str:
    return f"{_num(value, digits)} [{_num(low, digits)}, {_num(high, digits)}]"


def _headline(result: Analysis) -> list[str]:
    lines = [
        "| predictor | what it is | " + " | ".join(HEADLINE) + " |",
        "| --- | --- | " + " | ".join("---" for _ in HEADLINE) + " |",
    ]
    overall = result.overall.set_index(["predictor", "metric"])
    for predictor in result.overall["predictor"].unique():
        cells = [
            _with_ci(*overall.loc[(predictor, metric), ["value", "ci_low", "ci_high"]])
            for metric in HEADLINE
        ]
        label = result.summary["predictors"][predictor]["label"]
        lines.append(f"| {predictor} | {label} | " + " | ".join(cells) + " |")
    return lines


def _top_gaps(gaps: pd.DataFrame, top: int, confidence: float) -> list[str]:
    lines = []
    alpha = 1 - confidence
    for predictor, part in gaps.groupby("predictor", sort=False):
        ranked = part.dropna(subset=["gap"]).assign(size=lambda f: f["gap"].abs())
        ranked = ranked.sort_values(["size", "profession"], ascending=[False, True]).head(top)
        lines.append(f"**{predictor}**")
        lines.append("")
        if ranked.empty:
            lines.append("- no profession with bios of both genders")
        for row in ranked.itertuples():
            significant = "significant" if row.p_holm < alpha else "not significant"
            small = (
                f"; SMALL group (women {row.n_female}, men {row.n_male}): imprecise"
                if row.small
                else ""
            )
            lines.append(
                f"- {row.profession}: gap {row.gap:+.3f} [{_num(row.gap_ci_low)}, "
                f"{_num(row.gap_ci_high)}] (TPR women {row.tpr_female:.3f}, men "
                f"{row.tpr_male:.3f}; Fisher p {_p(row.p_value)}, Holm p {_p(row.p_holm)}: "
                f"{significant} after Holm{small})"
            )
        lines.append("")
    return lines


def _proxy(proxy: pd.DataFrame, confidence: float) -> list[str]:
    lines = []
    for row in proxy.itertuples():
        if not np.isfinite(row.pearson_r):
            lines.append(
                f"- {row.predictor}: not computable ({row.n_professions} professions with both "
                "genders, or constant gaps)."
            )
            continue
        direction = "larger" if row.slope > 0 else "smaller"
        significant = row.pearson_p < 1 - confidence
        lines.append(
            f"- {row.predictor}: Pearson r = {row.pearson_r:+.2f} (p {_p(row.pearson_p)}), "
            f"Spearman rho = {row.spearman_rho:+.2f} (p {_p(row.spearman_p)}), slope "
            f"{row.slope:+.3f} per unit share over {row.n_professions} professions: "
            + (
                f"the gap is {direction} where a profession has more women: the model uses "
                "the profession as a proxy for gender."
                if significant
                else "no significant relation between the gap and the share of women."
            )
        )
    return lines


def _probes(probes: pd.DataFrame) -> list[str]:
    if probes.empty:
        return ["No probe predictions were found (results/probes/): nothing to report."]
    lines = [
        "Flip rate: share of bios whose predicted gender changes against the prediction on the "
        "original bio. Accuracy under *swapped* is against the FLIPPED label (the gender the "
        "swapped text describes); under *removed* against the original label (accuracy without "
        "gendered words). Names are never changed.",
        "",
        "| predictor | variant | n | flip rate | accuracy | accuracy on the originals |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    overall = probes[probes["profession"] == "all"]
    for row in overall.itertuples():
        lines.append(
            f"| {row.predictor} | {row.variant} | {row.n} | "
            f"{_with_ci(row.flip_rate, row.flip_ci_low, row.flip_ci_high)} | "
            f"{_with_ci(row.accuracy, row.accuracy_ci_low, row.accuracy_ci_high)} | "
            f"{_num(row.accuracy_original)} |"
        )
    return lines


def render_report(result: Analysis, params: AnalyzeParams) -> str:
    """The whole report as Markdown."""
    data = result.summary["data"]
    confidence = params.confidence
    lines = ["# Bias in Bios: analysis report", ""]
    if data.get("synthetic"):
        lines += [
            "> **SYNTHETIC DATA.** These numbers come from the suite's generated sample "
            f"(source: {data.get('source')}), not from Bias in Bios: they exercise the pipeline "
            "and say nothing about real models on real bios.",
            "",
        ]
    lines += [
        f"Test bios: {data['n_test']:,} (source: {data.get('source')}). Every predictor is "
        "scored on the same bios, joined by id. Intervals are "
        f"{confidence:.0%}: Wilson for accuracy, percentile bootstrap "
        f"({params.bootstrap_resamples:,} resamples, seeded) for the other metrics. "
        "Positive class: female.",
        "",
        "## Headline",
        "",
        *_headline(result),
        "",
    ]
    if "random_head" in set(result.overall["predictor"]):
        lines += [
            "Note: random_head is GPT-2 with an untrained classification head, at chance by "
            "construction; it is a reference point, not a model to compare against.",
            "",
        ]
    lines += ["## Is one predictor better than another? (exact McNemar, Holm across pairs)", ""]
    if result.pairs.empty:
        lines.append("Only one predictor: no pairs to compare.")
    lines += [f"- {row.verdict}" for row in result.pairs.itertuples()]
    lines += [
        "",
        f"## The {params.top_gaps} professions with the largest true-positive-rate gaps",
        "",
        "Gap = TPR of women - TPR of men in the profession (TPR: share of that gender's bios "
        "predicted as that gender). Interval: Newcombe; test: Fisher exact, Holm-adjusted "
        f"across professions; groups under {params.min_group_size} bios are flagged SMALL.",
        "",
        *_top_gaps(result.gaps, params.top_gaps, confidence),
        "## Proxy bias: does the gap follow the profession's share of women (train split)?",
        "",
        *_proxy(result.proxy, confidence),
        "",
        "## Counterfactual probes",
        "",
        *_probes(result.probes),
        "",
    ]
    if result.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in result.notes], ""]
    return "\n".join(lines)
