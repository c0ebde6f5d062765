"""``report.html``: the written report as one self-contained page to send a colleague.

The same content as ``report.md`` (rendered with markdown-it), with the key figures of
:mod:`analysis.plots` inlined as PNG data URIs beside the sections they illustrate, inline CSS,
and no reference to any network resource: it opens offline, by e-mail, from a USB stick.
Results made from synthetic data carry the notice in a banner that repeats on every printed
page.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd
from markdown_it import MarkdownIt
from matplotlib.figure import Figure

from analysis import plots, report
from analysis.verdicts import fmt_level

if TYPE_CHECKING:
    from analysis.result import Analysis
    from pipeline.lib.params import AnalyzeParams

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; color: #1f2937; line-height: 1.45; }
h1 { border-bottom: 2px solid #7c3aed; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #e5e7eb; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .85rem; }
th, td { border: 1px solid #d1d5db; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
blockquote { margin: 1rem 0; padding: .6rem 1rem; background: #fff7ed;
             border-left: 4px solid #c2410c; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e7eb; }
figcaption { font-size: .85rem; color: #4b5563; }
.synthetic { position: fixed; top: 0; left: 0; right: 0; background: #c2410c; color: white;
             text-align: center; font-weight: bold; padding: .25rem; font-size: .85rem; }
.synthetic + main { margin-top: 2.5rem; }
@media print { h2 { break-after: avoid; } figure { break-inside: avoid; } }
"""


def figure_html(fig: Figure, caption: str) -> str:
    """A figure as an inline PNG (a data URI) with its caption and alt text."""
    buffer = io.BytesIO()
    # No timestamps or software strings: the same figure gives the same bytes.
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    text = html.escape(caption)
    return (
        f'<figure><img alt="{text}" src="data:image/png;base64,{data}">'
        f"<figcaption>{text}</figcaption></figure>"
    )


def _models(result: Analysis, *, references: bool = False) -> list[str]:
    names = list(result.overall["predictor"].unique())
    return [n for n in names if references or not result.summary["predictors"][n]["reference"]]


def _figures(
    result: Analysis,
    params: AnalyzeParams,
    histories: dict[str, pd.DataFrame] | None,
    best_steps: dict[str, int] | None,
) -> dict[str, list[str]]:
    """Figures to place after the report section whose heading starts with each key."""
    level = fmt_level(params.confidence)
    figures: dict[str, list[str]] = {}
    histories = {name: h for name, h in (histories or {}).items() if not h.empty}
    if histories:
        figures[report.PREDICTORS] = [
            figure_html(
                plots.training_curves(histories, best_steps or {}),
                f"Training, all {len(histories)} run(s) of the trained predictors (one per "
                "predictor and seed): train loss, dev accuracy and dev loss by step (circled: "
                "the step model selection kept, on dev only)",
            )
        ]
    if result.task == "gender":
        ece = result.overall[result.overall["metric"] == "ece"].set_index("predictor")["value"]
        figures[report.HEADLINE] = [
            figure_html(
                plots.reliability(
                    result.calibration, _models(result, references=True), ece.to_dict()
                ),
                "Reliability diagrams: observed fraction female against mean predicted P(female)",
            )
        ]
    else:
        figures[report.HEADLINE] = [
            figure_html(
                plots.accuracy_vs_gap_rms(
                    result.overall,
                    _models(result, references=True),
                    level,
                    plots.leakage_by_predictor(result.leakage, result.task),
                ),
                f"Occupation accuracy against GAP^RMS (the gender gaps), {level} intervals: one "
                "point per predictor and training seed; in the legend, a linear gender probe's "
                "accuracy on the representation the head reads, where it was measured",
            )
        ]
    gaps: list[str] = []
    for name in _models(result):
        gaps.append(
            figure_html(
                plots.gaps_by_profession(result.gaps, name, level),
                f"{name}: TPR gap (women - men) by profession with {level} intervals; hollow: "
                "a gender under analyze.min_group_size bios",
            )
        )
    figures[report.GAPS] = gaps
    figures[report.PROXY] = [
        figure_html(
            plots.gap_vs_share(
                result.gaps,
                result.proxy,
                name,
                band=None if result.task == "gender" else params.confidence,
            ),
            f"{name}: TPR gap against the profession's share of women (train split)",
        )
        for name in _models(result)
        if name in set(result.proxy["predictor"])
    ]
    if not result.probes.empty:
        figures[report.PROBES] = [
            figure_html(
                plots.probe_rates(result.probes, _models(result, references=True), level),
                f"Flip rate and accuracy on the counterfactual probes, {level} Wilson intervals",
            )
        ]
    if not result.leakage.empty:
        figures[report.LEAKAGE] = [
            figure_html(
                plots.leakage_rates(result.leakage, level),
                f"A linear gender probe's accuracy per representation, as is and with gender "
                f"erased (LEACE), {level} Wilson intervals; dashed: the majority rate",
            )
        ]
    return figures


def _sections(markdown: str) -> Iterable[tuple[str, str]]:
    """``(heading line, text)`` per second-level section of the report (first: the preamble)."""
    heading, lines = "", []
    for line in markdown.splitlines():
        if line.startswith("## "):
            yield heading, "\n".join(lines)
            heading, lines = line, []
        lines.append(line)
    yield heading, "\n".join(lines)


def render_html(
    result: Analysis,
    params: AnalyzeParams,
    markdown: str,
    histories: dict[str, pd.DataFrame] | None = None,
    best_steps: dict[str, int] | None = None,
) -> str:
    """The whole report as one self-contained HTML page (every seed's training curves)."""
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    figures = _figures(result, params, histories, best_steps)
    body = []
    placed = set()
    for heading, text in _sections(markdown):
        body.append(renderer.render(text))
        if heading in figures:
            body.extend(figures[heading])
            placed.add(heading)
    if set(figures) - placed:  # a figure whose section the report no longer has: a bug here
        raise RuntimeError(f"report.md has no section {sorted(set(figures) - placed)[0]!r}")
    synthetic = bool(result.summary["data"].get("synthetic"))
    banner = (
        '<div class="synthetic">SYNTHETIC DATA: generated sample, not Bias in Bios</div>'
        if synthetic
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Bias in Bios: analysis report</title>"
        f"<style>{CSS}</style></head><body>{banner}<main>{''.join(body)}</main></body></html>\n"
    )
