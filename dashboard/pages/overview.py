"""Overview page: which data and predictors, headline metrics with intervals, the primary test."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.verdicts import fmt_p
from analysis.verdicts import model_description as describe
from dashboard import data, ui
from pipeline.lib import catalogue
from pipeline.lib.contract import PairFamily

study = ui.study()
st.title("Overview")

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
checks += [data.table(study, name) for name in data.TABLES]
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

# --- predictors and headline table ---------------------------------------------------------------
overall = data.table(study, "overall").value
predictors = data.predictor_order(list(summary.value["predictors"]))
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
    for metric in data.METRIC_NAMES:
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
st.caption(
    f"On the same test bios, each with its {level} interval (Wilson for accuracy, bootstrap "
    "otherwise; see the CSV's ci_method). ECE: expected calibration error, lower is better. "
    "Click a header to sort. The table scrolls sideways: the five metrics first, then their "
    "intervals."
)
number = {m: st.column_config.NumberColumn(m, format="%.4f") for m in data.METRIC_NAMES}
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
