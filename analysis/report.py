"""``report.md``: the analysis in words, readable without the dashboard.

It presents what the analysis decided (the verdict columns of the tables, written by
:mod:`analysis.verdicts`); it decides nothing itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.metrics import METRICS
from analysis.occupation_metrics import OCCUPATION_METRICS
from analysis.verdicts import fmt_level, gap_line, leakage_sentence, model_description
from pipeline.lib.contract import ALL_PROFESSIONS, PairFamily

if TYPE_CHECKING:
    import pandas as pd

    from analysis.result import Analysis
    from pipeline.lib.params import AnalyzeParams


# The report's sections that the HTML report puts figures under (analysis.html_report): each
# heading is written here once and matched there exactly.
HEADLINE = "## Headline"
PREDICTORS = "## Predictors"
GAPS = "## Where the gender gaps are"
PROXY = "## Proxy bias: does the gap follow the profession's share of women (train split)?"
PROBES = "## Counterfactual probes"
GAP_RMS = "## Gender gaps over training seeds (GAP^RMS)"
LEAKAGE = "## Mitigation: what erasing gender (LEACE) changes, and gender leakage"


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _with_ci(value: Any, low: Any, high: Any, digits: int = 3) -> str:
    return f"{_num(value, digits)} [{_num(low, digits)}, {_num(high, digits)}]"


def _models(result: Analysis) -> list[str]:
    lines = ["| predictor | what it is | model |", "| --- | --- | --- |"]
    for name in result.overall["predictor"].unique():
        entry = result.summary["predictors"][name]
        model = model_description(entry.get("model") or {})
        lines.append(f"| {name} | {entry['label']}: {entry['description']} | {model} |")
    return lines


def _warnings(result: Analysis) -> list[str]:
    """One warning line per predictor the analysis flagged (one class for nearly every bio)."""
    lines = []
    for name, entry in result.summary["predictors"].items():
        if entry.get("warning"):
            lines += [f"> **Warning, {name}:** {entry['warning']}", ""]
    return lines


def _metrics(task: str) -> list[tuple[str, str]]:
    """``(name, label)`` of the task's overall metrics, in report order."""
    specs = METRICS if task == "gender" else OCCUPATION_METRICS
    return [(spec.name, spec.label) for spec in specs]


def _headline(result: Analysis) -> list[str]:
    metrics = _metrics(result.task)
    lines = [
        "| predictor | " + " | ".join(label for _, label in metrics) + " |",
        "| --- | " + " | ".join("---" for _ in metrics) + " |",
    ]
    overall = result.overall.set_index(["predictor", "metric"])
    for predictor in result.overall["predictor"].unique():
        cells = [
            _with_ci(*overall.loc[(predictor, name), ["value", "ci_low", "ci_high"]])
            for name, _ in metrics
        ]
        lines.append(f"| {predictor} | " + " | ".join(cells) + " |")
    return lines


def _primary_procedure(result: Analysis) -> pd.DataFrame:
    """The primary comparison's procedure.csv row (none when neither side is trained per seed)."""
    return result.procedure[result.procedure["family"] == PairFamily.PRIMARY]


def _procedure(result: Analysis, params: AnalyzeParams) -> list[str]:
    """The primary comparison over training seeds: the procedure first, then each seed."""
    row = _primary_procedure(result).iloc[0]
    primary = result.pairs[result.pairs["family"] == PairFamily.PRIMARY]
    lines = [
        f"{row.predictor_b} against {row.predictor_a} (analyze.primary) as a procedure: the mean "
        f"over {row.n_seeds} training seed(s) (seeds.train) of the accuracy difference on the "
        f"same {row.n_bios:,} test bios. Its interval and p-value are the Multi-Bootstrap "
        "(Sellam et al., 2022): seeds and test bios resampled jointly, with replacement, "
        f"{row.resamples:,} times (seeded), zero-shot paired on the same resampled bios.",
        "",
        f"**{row.verdict}**",
        "",
        row.variance_verdict,
        "",
    ]
    if row.n_seeds > 1:
        lines += [
            "Each seed against the same baseline (exact McNemar, Holm-adjusted across the seeds):",
            "",
            *[f"- {r.verdict}" for r in primary.itertuples()],
        ]
    return lines


def _other_procedures(result: Analysis, params: AnalyzeParams) -> list[str]:
    """Every other trained predictor over seeds, against both sides of the primary comparison."""
    rows = result.procedure[result.procedure["family"] == PairFamily.SECONDARY]
    if rows.empty:
        return []
    return [
        "",
        "## Other trained predictors over training seeds",
        "",
        f"Each other trained predictor against both sides of analyze.primary "
        f"({' vs '.join(params.primary)}), as procedures: the Multi-Bootstrap as above (two "
        "trained predictors paired by seed), these "
        f"{len(rows)} comparisons Holm-adjusted together at the "
        f"{fmt_level(1 - params.confidence)} level, each interval at the level Holm stopped at.",
        "",
        *[f"- {row.verdict}" for row in rows.itertuples()],
    ]


def _comparisons(result: Analysis, params: AnalyzeParams) -> list[str]:
    pairs = result.pairs
    level = fmt_level(1 - params.confidence)
    primary = pairs[pairs["family"] == PairFamily.PRIMARY]
    secondary = pairs[pairs["family"] == PairFamily.SECONDARY]
    reference = pairs[pairs["family"] == PairFamily.REFERENCE]
    lines = ["## The primary comparison", ""]
    if primary.empty:
        lines.append(
            f"No primary comparison: analyze.primary ({' vs '.join(params.primary)}) needs "
            "predictions of both."
        )
    elif not _primary_procedure(result).empty:
        lines += _procedure(result, params)
    else:
        row = primary.iloc[0]
        lines += [
            f"{row.predictor_b} against {row.predictor_a} (analyze.primary), tested alone at the "
            f"{level} level with the exact McNemar test; the interval is that test inverted "
            "(exact, conditional on the discordant bios), so it excludes 0 exactly when the "
            "test is significant.",
            "",
            f"**{row.verdict}**",
        ]
    lines += _other_procedures(result, params)
    lines += ["", "## Secondary comparisons", ""]
    if secondary.empty:
        lines.append("None: no other pair of tested predictors.")
    else:
        ci_level = fmt_level(float(secondary["ci_level"].iloc[0]))
        lines += [
            f"Every other pair of predictors that are not untrained references: {len(secondary)} "
            f"exact McNemar tests, Holm-adjusted within this family at the {level} level. Their "
            f"intervals are at {ci_level}, the level at which Holm's procedure stopped, so each "
            "excludes 0 exactly when Holm rejects.",
            "",
            *[f"- {row.verdict}" for row in secondary.itertuples()],
        ]
    if not reference.empty:
        lines += [
            "",
            "Chance references are shown for orientation, never tested:",
            "",
            *[f"- {row.verdict}" for row in reference.itertuples()],
        ]
    return lines


def _gap_rms(result: Analysis, params: AnalyzeParams) -> list[str]:
    """The occupation task's GAP^RMS comparisons over training seeds (none for gender)."""
    if result.gap_rms.empty:
        return []
    return [
        GAP_RMS,
        "",
        "GAP^RMS: the root mean square over professions (those with test bios of both genders) "
        "of the TPR gap between women and men, in percentage points; a seeded predictor's is the "
        "mean over its runs. Compared as the accuracy above: the Multi-Bootstrap over seeds and "
        "test bios; the primary comparison alone, the others Holm-adjusted together at the "
        f"{fmt_level(1 - params.confidence)} level. A negative difference narrows the gaps.",
        "",
        *[f"- {row.verdict}" for row in result.gap_rms.itertuples()],
        "",
    ]


def _seeds(result: Analysis, params: AnalyzeParams) -> list[str]:
    """Across training seeds: each metric's spread, and the gaps that hold over seeds."""
    if result.seeds.empty:
        return []
    lines = ["## Across training seeds", ""]
    for procedure, part in result.seeds.groupby("predictor", sort=False):
        seeds = result.summary["settings"]["training_seeds"].get(procedure, [])
        lines += [
            f"{procedure}: {len(seeds)} training seed(s) ({', '.join(map(str, seeds))}); each "
            "seed's metrics with their intervals are in the headline table above.",
            "",
            "| metric | mean | SD | min | max |",
            "| --- | --- | --- | --- | --- |",
            *[
                f"| {r.metric} | {_num(r.mean)} | {_num(r.sd)} | {_num(r.min)} | {_num(r.max)} |"
                for r in part.itertuples()
            ],
            "",
        ]
    level = fmt_level(params.confidence)
    for procedure, part in result.seed_gaps.groupby("predictor", sort=False):
        n_seeds = int(part["n_seeds"].iloc[0])
        ranked = part[~part["small"]]
        stable = ranked[ranked["stable"]].sort_values("gap", key=abs, ascending=False)
        held = set(stable["profession_id"])
        single = int(ranked.loc[~ranked["profession_id"].isin(held), "seeds_significant"].sum())
        lines += [
            f"Gaps of {procedure} across its {n_seeds} seed(s): the mean over seeds of each "
            f"profession's TPR gap with its {level} Multi-Bootstrap interval (seeds and bios "
            "resampled jointly; not adjusted across professions), over professions with at "
            f"least {params.min_group_size} test bios of each gender. A gap is *stable* when that "
            "interval excludes 0.",
            "",
        ]
        lines += [
            f"- {r.profession}: gap {r.gap:+.3f} ({level} CI {r.gap_ci_low:+.3f} to "
            f"{r.gap_ci_high:+.3f}), significant alone in {r.seeds_significant} of {n_seeds} seeds"
            for r in stable.itertuples()
        ] or ["- no stable gap"]
        lines += [
            "",
            f"Single-seed significant gaps that did not hold across seeds: {single} (seed x "
            "profession gaps significant after Holm in one seed's gaps.csv rows, in professions "
            "whose gap is not stable).",
            "",
        ]
    return lines


def _gaps(result: Analysis, params: AnalyzeParams) -> list[str]:
    alpha, confidence, minimum = 1 - params.confidence, params.confidence, params.min_group_size
    tpr = (
        "share of that gender's bios predicted as that gender"
        if result.task == "gender"
        else "share of that gender's bios of the profession predicted as that profession"
    )
    lines = [
        f"Gap = TPR of women - TPR of men in a profession (TPR: {tpr}), with Newcombe's "
        f"{fmt_level(confidence)} interval and "
        "Fisher's exact test, Holm-adjusted across professions. Listed per predictor: up to "
        f"{params.top_gaps} professions where both genders have at least {minimum} test bios "
        "(analyze.min_group_size), ranked by the evidence of a gap: the bound of its interval "
        "nearest zero (the smallest gap the data support; 0 if the interval includes 0), then "
        "by the Holm-adjusted p-value. Only significant gaps are listed.",
        "",
    ]
    for predictor, part in result.gaps.groupby("predictor", sort=False):
        if result.summary["predictors"][predictor]["reference"]:
            lines += [
                f"**{predictor}**: an untrained reference, not ranked (its gaps are in gaps.csv).",
                "",
            ]
            continue
        ranked = part[~part["small"] & part["significant"]].sort_values(
            ["evidence", "p_holm", "profession"], ascending=[False, True, True]
        )
        lines.append(f"**{predictor}**")
        lines.append("")
        if ranked.empty:
            lines.append(
                f"- no profession with at least {minimum} bios of each gender has a significant gap"
            )
        for row in ranked.head(params.top_gaps).to_dict(orient="records"):
            lines.append(f"- {gap_line(row, alpha, confidence)}")
        lines.append("")
    cells = result.summary["cells"]
    if cells["small"]:
        listed = ", ".join(
            f"{cell['profession']} ({cell['gender']}: {cell['n']})" for cell in cells["small_cells"]
        )
        lines += [
            f"Too few bios to rank (under {minimum} of a gender; {cells['small']} of the "
            f"{cells['with_bios']} profession x gender cells with test bios): {listed}. Their "
            "gaps are in gaps.csv, flagged small.",
            "",
        ]
    return lines


def _probes(result: Analysis, confidence: float) -> list[str]:
    probes = result.probes
    if probes.empty:
        return ["No probe predictions were found (results/probes/): nothing to report."]
    if result.task == "gender":
        intro = (
            "Flip rate: share of bios whose predicted gender changes against the prediction on "
            "the original bio. Accuracy under *swapped* is against the FLIPPED label (the gender "
            "the swapped text describes); under *removed* against the original label (accuracy "
            "without gendered words)."
        )
    else:
        intro = (
            "Flip rate: share of bios whose predicted occupation changes when only the gendered "
            "words are swapped (*swapped*) or removed (*removed*: De-Arteaga's scrubbed bios), "
            "against the prediction on the original bio. Accuracy: the bio's own occupation in "
            "both variants."
        )
    lines = [
        f"{intro} Names are never changed. Wilson {fmt_level(confidence)} intervals.",
        "",
        "| predictor | variant | n | flip rate | accuracy | accuracy on the originals |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    overall = probes[probes["profession"] == ALL_PROFESSIONS]
    for row in overall.itertuples():
        lines.append(
            f"| {row.predictor} | {row.variant} | {row.n} | "
            f"{_with_ci(row.flip_rate, row.flip_ci_low, row.flip_ci_high)} | "
            f"{_with_ci(row.accuracy, row.accuracy_ci_low, row.accuracy_ci_high)} | "
            f"{_num(row.accuracy_original)} |"
        )
    lines.append("")
    for name, entry in result.summary["predictors"].items():
        if entry.get("probe_verdict"):
            lines.append(f"- {name}: {entry['probe_verdict']}")
    return lines + _scrubbed(result, confidence)


def _scrubbed(result: Analysis, confidence: float) -> list[str]:
    """The occupation task's accuracy and GAP^RMS on the probed bios, unchanged and scrubbed."""
    if result.scrubbed.empty:
        return []
    table = result.scrubbed.set_index(["predictor", "version", "metric"])
    n = int(result.scrubbed["n"].iloc[0])
    lines = [
        "",
        f"The same {n:,} probed bios as they are and scrubbed (their gendered words removed): "
        f"accuracy and GAP^RMS with {fmt_level(confidence)} intervals (GAP^RMS's re-centred "
        "bootstrap; both versions on the same resampled bios). How much of a predictor's gap "
        "the explicit gender indicators carry is the drop from one GAP^RMS to the other.",
        "",
        "| predictor | accuracy | accuracy, scrubbed | GAP^RMS | GAP^RMS, scrubbed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in result.scrubbed["predictor"].unique():
        cells = [
            _with_ci(*table.loc[(name, version, metric), ["value", "ci_low", "ci_high"]])
            for metric in ("accuracy", "gap_rms")
            for version in ("unchanged", "scrubbed")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _leakage(result: Analysis, confidence: float) -> list[str]:
    """The erase stage's gender probes per representation, and the gender task's LEACE check."""
    checks = result.summary.get("erasure_checks") or {}
    mitigation = [
        row.verdict
        for table in (result.procedure, result.gap_rms)
        if not table.empty
        for row in table[table["family"] == PairFamily.MITIGATION].itertuples()
    ]
    if result.leakage.empty and not checks and not mitigation:
        return []
    lines = [LEAKAGE, ""]
    if mitigation:
        lines += [
            "Each mitigated predictor against the predictor it mitigates (the catalogue's "
            "`mitigates`), as procedures over training seeds: the Multi-Bootstrap as above, "
            "paired by seed, Holm-adjusted within this family"
            + (" (accuracy and GAP^RMS apart)." if result.task != "gender" else "."),
            "",
            *[f"- {verdict}" for verdict in mitigation],
            "",
        ]
    lines += [
        "A logistic regression fitted on the train split's representations (the last token's "
        "final hidden state, what a classification head reads) predicts each test bio's gender, "
        "from the representation as it is and with gender erased by LEACE (fitted on the train "
        f"split). The majority rate is what always answering the train split's majority gender "
        f"scores on the test bios. {fmt_level(confidence)} Wilson intervals.",
        "",
    ]
    if not result.leakage.empty:
        lines += [
            "| representation | version | gender probe accuracy | majority rate | reading |",
            "| --- | --- | --- | --- | --- |",
            *[
                f"| {r.representation} | {r.version} | {_with_ci(r.accuracy, r.ci_low, r.ci_high)}"
                f" | {_num(r.majority_rate)} ({r.majority_gender}) | {r.verdict} |"
                for r in result.leakage.itertuples()
            ],
            "",
            *[
                f"- {leakage_sentence(row, confidence)}"
                for row in result.leakage.to_dict("records")
            ],
            "",
        ]
    lines += [*[f"{sentence}" for sentence in checks.values()], ""] if checks else []
    return lines


def answer_lines(result: Analysis, params: AnalyzeParams) -> list[str]:
    """The answer, as the analysis decided it: the report's (and the Overview's) first words.

    The primary comparison's verdict (over training seeds when it has several: the
    Multi-Bootstrap sentence and where its variance comes from; else the one paired test),
    for the occupation task its GAP^RMS verdict (do the gender gaps widen or narrow?), then
    the proxy-bias verdict of the primary comparison's second predictor.
    """
    primary = result.pairs[result.pairs["family"] == PairFamily.PRIMARY]
    if not _primary_procedure(result).empty:
        row = _primary_procedure(result).iloc[0]
        lines = [f"**{row.verdict}**"]
        if result.task != "gender":
            gap_rms = result.gap_rms[result.gap_rms["family"] == PairFamily.PRIMARY]
            lines += [f"**{r.verdict}**" for r in gap_rms.itertuples()]
        if int(row.n_seeds) > 1:
            lines.append(row.variance_verdict)
        after = str(row.predictor_b)
    elif not primary.empty:
        lines = [f"**{primary.iloc[0].verdict}**"]
        after = str(primary.iloc[0].predictor_b)
    else:
        return [
            f"No primary comparison: analyze.primary ({' vs '.join(params.primary)}) needs "
            "predictions of both."
        ]
    over_seeds = result.seed_proxy[result.seed_proxy["predictor"] == after]
    proxy = result.proxy[result.proxy["predictor"] == after]
    if not over_seeds.empty:
        lines.append(f"Proxy bias, {after} over its training seeds: {over_seeds.iloc[0].verdict}")
    elif not proxy.empty:
        lines.append(f"Proxy bias, {after}: {proxy.iloc[0].verdict}")
    return lines


def render_report(result: Analysis, params: AnalyzeParams) -> str:
    """The whole report as Markdown."""
    data = result.summary["data"]
    level = fmt_level(params.confidence)
    # Synthetic results say so in the title, before the answer they qualify.
    task = "" if result.task == "gender" else f" ({result.task} classification)"
    title = f"# Bias in Bios: analysis report{task}" + (
        " (SYNTHETIC data, not Bias in Bios)" if data.get("synthetic") else ""
    )
    lines = [title, ""]
    # The answer first (paragraphs, no heading), then what it rests on.
    for sentence in answer_lines(result, params):
        lines += [sentence, ""]
    if data.get("synthetic"):
        lines += [
            "> **SYNTHETIC DATA.** These numbers come from the suite's generated sample "
            f"(source: {data.get('source')}), not from Bias in Bios: they exercise the pipeline "
            "and say nothing about real models on real bios.",
            "",
        ]
    if result.summary.get("toy_model"):
        lines += [f"> **{result.summary['toy_model']}**", ""]
    task_line = (
        "Positive class: female."
        if result.task == "gender"
        else "Task: the occupation (28 professions); protected attribute: gender."
    )
    lines += [
        f"Test bios: {data['n_test']:,} (source: {data.get('source')}). Every predictor is "
        f"scored on the same bios, joined by id. {task_line}",
        "",
        *_warnings(result),
        HEADLINE,
        "",
        f"{level} intervals: Wilson for accuracy, percentile bootstrap "
        f"({params.bootstrap_resamples:,} resamples, seeded) for the others. "
        + (
            "Expected calibration error: lower is better."
            if result.task == "gender"
            else "Top-label calibration error and GAP^RMS (the root mean square over "
            "professions of the TPR gap between women and men): lower is better."
        ),
        "",
        *_headline(result),
        "",
        PREDICTORS,
        "",
        *_models(result),
        "",
        *_comparisons(result, params),
        "",
        *_gap_rms(result, params),
        *_seeds(result, params),
        "",
        GAPS,
        "",
        *_gaps(result, params),
        PROXY,
        "",
        (
            "With gap = TPR(women) - TPR(men), a model that uses the profession as a proxy for "
            "gender recognises women better and men worse where women are many: a positive slope."
            if result.task == "gender"
            else "With gap = TPR(women) - TPR(men), a classifier that leans on gender to tell "
            "occupations apart recognises women better and men worse where women are many, and "
            "so compounds the imbalance (De-Arteaga et al. 2019): a positive slope."
        )
        + " Tested "
        f"with Pearson's r at the {fmt_level(1 - params.confidence)} level, per predictor, over "
        f"the professions with at least {params.min_group_size} test bios of each gender "
        "(analyze.min_group_size): a smaller cell's gap is too noisy to carry the relation.",
        "",
        *[f"- {row.predictor}: {row.verdict}" for row in result.proxy.itertuples()],
        *[
            f"- {row.predictor}, over its training seeds: {row.verdict}"
            for row in result.seed_proxy.itertuples()
        ],
        "",
        PROBES,
        "",
        *_probes(result, params.confidence),
        "",
        *_leakage(result, params.confidence),
    ]
    if result.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in result.notes], ""]
    return "\n".join(lines)
