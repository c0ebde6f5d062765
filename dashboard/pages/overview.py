"""Overview page: which data and predictors, headline metrics with intervals, the primary test.

An occupation study (``pipeline.lib.tasks``) also gets its GAP^RMS verdicts (gap_rms.csv) and
accuracy against GAP^RMS; the headline metrics are those its analysis declares.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import plots
from analysis.verdicts import fmt_p
from analysis.verdicts import model_description as describe
from dashboard import data, ui
from pipeline.lib import catalogue
from pipeline.lib.contract import PairFamily

study = ui.study()
st.title("Overview")
task = ui.task_line(study)
specs = data.metric_specs(task)  # the task's headline metrics, as its analysis declares them
metric_names = [spec.name for spec in specs]

# --- which data ----------------------------------------------------------------------------------
profile = data.profile(study)
summary = data.summary(study)
source = None
if summary.ok:
    source = summary.value["data"]
elif profile.ok and isinstance(profile.value, dict):
    source = profile.value
if source is not None:
    kind = {"hub": "Bias in Bios (Hugging Face hub)", "local": "local files", "sample": "sample"}
    name = kind.get(source.get("source", ""), str(source.get("source")))
    n_test = source.get("n_test")
    st.markdown(
        f"**Data:** {name}" + (f" · **test bios:** {n_test:,}" if isinstance(n_test, int) else "")
    )

# --- status of every results file: on top only when something is wrong --------------------------
checks = [summary, data.metrics(study), profile, data.bios(study)]
checks += [data.table(study, name) for name in data.task_tables(task)]
preds = data.predictions(study)
files_ok = all(c.ok for c in checks) and bool(preds)


def files_status() -> None:
    """Every results file and whether it matched the contract."""
    with st.expander(
        "Results files"
        + (f" (all {len(checks) + len(preds)} ok)" if files_ok else " (some are missing)"),
        expanded=not summary.ok,
    ):
        status = pd.DataFrame(
            [
                {"file": str(c.path.relative_to(study)), "status": "ok" if c.ok else c.problem}
                for c in [*checks, *preds.values()]
            ]
        )
        st.dataframe(status, hide_index=True, key="t_status")
        if not preds:
            st.caption(f"No predictions under `{data.paths.PREDICTIONS_DIR}`.")


if not files_ok:
    files_status()
ui.require(study, summary, data.table(study, "overall"))

labels = ui.labels(study)
level = ui.level(study)

# The occupation task's second answer (gap_rms.csv): shown right under the first, so that both
# verdicts are on the first screen; the other GAP^RMS comparisons are in their own section.
gap_rms = data.table(study, "gap_rms") if task == "occupation" else None


def primary_gap_rms_verdict() -> None:
    """The primary GAP^RMS verdict, in the analysis' words (a narrower gap: a negative diff)."""
    if gap_rms is None or not gap_rms.ok:
        return
    for pair in gap_rms.value[gap_rms.value["family"] == PairFamily.PRIMARY].itertuples():
        narrows = pd.notna(pair.significant) and pair.significant and pair.diff < 0
        (st.success if narrows else st.info)(pair.verdict)


# --- the answer first: the primary comparison, over training seeds when it has several ----------
st.header("Does fine-tuning beat the base model?")
pairs = data.table(study, "pairs")
primary_names = (summary.value.get("settings") or {}).get("primary")
shown = {catalogue.split_run(n)[0] for n in summary.value["predictors"]}
missing = [n for n in primary_names or [] if n not in shown]
if missing:
    st.info(
        " ".join(f"The predictions for `{name}` are missing." for name in missing)
        + f" Make them, and the analysis, with `{data.make_command(study, None)}`."
    )
elif not pairs.ok:
    st.info(f"{pairs.problem}. Make it with `{data.make_command(study, 'analyze')}`.")
elif not primary_names or (pairs.value["family"] != PairFamily.PRIMARY).all():
    notes = [n for n in summary.value.get("notes", []) if "primary" in n]
    st.info(
        (notes[0] if notes else "No primary comparison in this analysis.")
        + f" Make the missing predictions, then `{data.make_command(study, 'analyze')}`."
    )
else:
    # The analysis decided (analysis/verdicts.py); this page only shows its sentences.
    primary = pairs.value[pairs.value["family"] == PairFamily.PRIMARY]
    procedure = data.table(study, "procedure")
    row = data.primary_procedure(procedure)
    if row is not None and int(row["n_seeds"]) > 1:
        a, b, n_seeds = row["predictor_a"], row["predictor_b"], int(row["n_seeds"])
        decided = pd.notna(row["significant"]) and row["significant"]  # parsed once, in data
        (st.success if decided and row["acc_diff"] > 0 else st.info)(row["verdict"])
        primary_gap_rms_verdict()
        # The procedure's figures: the mean over seeds and the Multi-Bootstrap interval.
        cols = st.columns(4)
        cols[0].metric(f"Accuracy, {a}", f"{100 * row['acc_a']:.1f}%")
        cols[1].metric(
            f"Accuracy, {b}, mean of {n_seeds} seeds",
            f"{100 * row['acc_b_mean']:.1f}%",
            delta=f"{100 * row['acc_diff']:+.1f} pts",
        )
        cols[2].metric(
            f"Difference, {level} CI (Multi-Bootstrap)",
            f"{100 * row['diff_ci_low']:.1f} to {100 * row['diff_ci_high']:.1f} pts",
        )
        cols[3].metric("Seeds significant alone", f"{int(row['seeds_significant'])} of {n_seeds}")
        st.caption(
            f"The primary comparison (analyze.primary: {a}, {b}) over {n_seeds} training seeds "
            f"on the same {int(row['n_bios']):,} test bios: seeds and bios resampled jointly "
            f"({int(row['resamples']):,} times). {row['variance_verdict']}"
        )
        with st.expander(
            f"Each seed alone: exact McNemar, Holm-adjusted across the {n_seeds} seeds"
        ):
            for pair in primary.itertuples():
                (st.success if pair.significant and pair.acc_diff > 0 else st.info)(pair.verdict)
            st.caption("Per seed and per metric: the Seeds and Significance pages.")
    else:
        pair = primary.iloc[0]
        a, b = pair["predictor_a"], pair["predictor_b"]
        verdict = row["verdict"] if row is not None else pair["verdict"]
        (st.success if pair["significant"] and pair["acc_diff"] > 0 else st.info)(verdict)
        primary_gap_rms_verdict()
        cols = st.columns(3)
        cols[0].metric(f"Accuracy, {a}", f"{100 * pair['acc_a']:.1f}%")
        cols[1].metric(
            f"Accuracy, {b}",
            f"{100 * pair['acc_b']:.1f}%",
            delta=f"{100 * pair['acc_diff']:+.1f} pts",
        )
        cols[2].metric("Exact McNemar p", fmt_p(pair["p_value"], exact=True, prefix=False))
        st.caption(
            f"The primary comparison (analyze.primary: {a}, {b}) on the same "
            f"{int(pair['n']):,} test bios, tested alone; its {100 * pair['ci_level']:.4g}% "
            "interval is the exact test inverted, so it excludes 0 exactly when the test is "
            "significant. Every other pair is on the Significance page."
        )

# --- the occupation task: is fine-tuning fairer? GAP^RMS over training seeds ---------------------
overall = data.table(study, "overall").value
predictors = data.predictor_order(list(summary.value["predictors"]), task)
if gap_rms is not None:
    st.header("Does fine-tuning narrow the gender gaps? (GAP^RMS)")
    if not gap_rms.ok:
        st.info(f"{gap_rms.problem}. Make it with `{data.make_command(study, 'analyze')}`.")
    else:
        # The primary verdict is at the top of the page, under the accuracy verdict; then the
        # secondary comparisons and each mitigation against what it mitigates.
        for pair in gap_rms.value[gap_rms.value["family"] != PairFamily.PRIMARY].itertuples():
            st.caption(pair.verdict)
        st.caption(
            "GAP^RMS: the root mean square over professions of the TPR gap (women minus men), "
            "in TPR points; 0 is no gap. Each trained side is its mean over training seeds, "
            "with the Multi-Bootstrap interval (seeds and bios resampled jointly). The primary "
            "comparison's verdict is the second sentence at the top of the page."
        )
    found = set(zip(overall["predictor"], overall["metric"], strict=True))
    plotted = [p for p in predictors if {(p, "accuracy"), (p, "gap_rms")} <= found]
    if plotted:
        ui.figure(
            plots.accuracy_vs_gap_rms(
                overall,
                plotted,
                ui.level(study),
                plots.leakage_by_predictor(data.table(study, "leakage").value, task),
            ),
            alt="Each predictor's accuracy against its GAP^RMS, with intervals",
        )

# --- predictors and headline table ---------------------------------------------------------------
toy = summary.value.get("toy_model")
if toy:
    st.info(toy, icon=":material/toys:")
st.header("Headline metrics")
cells = overall.set_index(["predictor", "metric"])
rows, about = [], []
for predictor in predictors:
    entry = summary.value["predictors"][predictor]
    model = entry.get("model") if isinstance(entry.get("model"), dict) else {}
    # The metrics come first, their intervals after them: at 1400 px the five numbers are what
    # the eye meets; labels and model descriptions are in the table below.
    row, intervals, n = {"predictor": predictor}, {}, None
    for metric in metric_names:
        if (predictor, metric) not in cells.index:
            continue
        cell = cells.loc[(predictor, metric)]
        row[metric] = cell["value"]
        intervals[f"{metric} {level} CI"] = ui.fmt_ci(cell["ci_low"], cell["ci_high"])
        n = int(cell["n"])
    rows.append(row | intervals | {"n": n})
    label = labels.get(predictor, "")
    about.append({"predictor": predictor, "label": label, "model": describe(model)})
    if entry.get("warning"):
        st.warning(f"**{predictor}:** {entry['warning']}", icon=":material/warning:")
headline = pd.DataFrame(rows)
if task == "gender":
    st.caption(
        f"On the same test bios, each with its {level} interval (Wilson for accuracy, bootstrap "
        "otherwise; see the CSV's ci_method). ECE: expected calibration error, lower is better. "
        "Click a header to sort. The table scrolls sideways: the five metrics first, then their "
        "intervals."
    )
else:
    st.caption(
        f"On the same test bios, each with its {level} interval (see the CSV's ci_method). "
        + "; ".join(
            f"{s.name}: {s.label}, {'higher' if s.higher_is_better else 'lower'} is better"
            for s in specs
        )
        + ". Click a header to sort."
    )
number = {m: st.column_config.NumberColumn(m, format="%.4f") for m in metric_names}
ui.table(headline, "headline metrics", column_config=number)
st.subheader("Predictors")
ui.table(
    pd.DataFrame(about),
    "predictors",
    column_config={
        "label": st.column_config.TextColumn("label", width="medium"),
        "model": st.column_config.TextColumn("model", width="large"),
    },
)
with st.expander("All metrics in long form (overall.csv)"):
    ui.table(overall, "overall")

report = data.report(study)
report_html = data.report_html(study)
st.header("The written report")
if report_html.ok:
    st.download_button(
        "Download the report (one self-contained HTML page)",
        report_html.value,
        file_name="bias-in-bios-report.html",
        mime="text/html",
        key="download_report_html",
        on_click="ignore",
    )
if report.ok:
    with st.expander("Full written report (report.md)"):
        st.markdown(report.value)  # no HTML: Streamlit escapes it unless told otherwise

if files_ok:
    files_status()

# --- where next ----------------------------------------------------------------------------------
st.header("Explore")
for name, title, icon, description in ui.PAGES[1:]:
    st.page_link(f"pages/{name}.py", label=f"{title}: {description}", icon=icon)
