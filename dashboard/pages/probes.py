"""Probes page: counterfactual bios (gendered words swapped or removed), flip rate and accuracy."""

from __future__ import annotations

import seaborn as sns
import streamlit as st
from matplotlib.figure import Figure

from analysis import plots
from dashboard import data, ui
from pipeline.lib.contract import ALL_PROFESSIONS

# What the probes measure, per task: the same rewritten bios, a different label.
ABOUT = {
    "gender": "Flip rate: share of bios whose predicted gender changes. Accuracy for 'removed' is "
    "against the original label (how well a model does WITHOUT pronouns); for 'swapped' it is "
    "against the flipped label (a model that reads pronouns follows them).",
    "occupation": "Flip rate: share of bios whose predicted occupation changes (an answer that "
    "depends on the subject's gendered words alone). Accuracy, for both variants, is against "
    "the bio's own occupation, which no rewrite changes.",
}

study = ui.study()
st.title("Probes")
task = ui.task_line(study)
st.caption(
    "The same test bios rewritten: 'swapped' exchanges gendered words (she ↔ he, her ↔ his...), "
    "'removed' deletes them. " + ABOUT[task]
)
probes = data.table(study, "probes")
ui.require(study, probes, stage="analyze")

frame = probes.value
overall = frame[frame["profession"] == ALL_PROFESSIONS]
predictors = data.predictor_order(list(frame["predictor"].unique()), task)

st.header("All professions")
level = ui.level(study)
summary = data.summary(study)
if summary.ok:
    # What the probes show, in the analysis' words (analysis/verdicts.py).
    for name in predictors:
        verdict = summary.value["predictors"].get(name, {}).get("probe_verdict")
        if verdict:
            st.markdown(f"**{name}**")
            st.text(verdict)
fig = plots.probe_rates(frame, predictors, level)
ui.figure(fig, alt="Flip rate and accuracy on counterfactual probes per model, with intervals")
fmt = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("flip_rate", "accuracy")}
ui.table(overall, "probes overall", column_config=fmt)

st.header("By profession")
variant = st.radio("Variant", sorted(frame["variant"].unique()), horizontal=True)
measure = st.radio(
    "Measure",
    ["flip_rate", "accuracy"],
    horizontal=True,
    format_func=lambda m: "flip rate" if m == "flip_rate" else "accuracy (no-pronoun when removed)",
)
by_prof = frame[(frame["profession"] != ALL_PROFESSIONS) & (frame["variant"] == variant)]
if by_prof.empty:
    st.info("probes.csv has no per-profession rows for this variant.")
else:
    grid = by_prof.pivot_table(index="profession", columns="predictor", values=measure)
    grid = grid[[p for p in predictors if p in grid.columns]] * 100
    with sns.axes_style("white"):
        fig = Figure(
            figsize=(2 + 1.3 * grid.shape[1], max(4.0, 0.3 * len(grid))), layout="constrained"
        )
        ax = fig.subplots()
        sns.heatmap(
            grid,
            annot=True,
            fmt=".0f",
            cmap="viridis",
            vmin=0,
            vmax=100,
            ax=ax,
            cbar_kws={"label": f"{measure.replace('_', ' ')} (%)"},
        )
        ax.set_title(f"{measure.replace('_', ' ')} by profession, '{variant}' probes (%)")
        ax.set_xlabel("predictor")
        ax.set_ylabel("profession")
    ui.figure(fig, alt=f"{measure} by profession and model for {variant} probes")
    ui.table(by_prof, f"probes {variant} by profession", column_config=fmt)
