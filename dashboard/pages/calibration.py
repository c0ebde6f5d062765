"""Calibration page: a reliability diagram per model, with the diagonal of perfect calibration."""

from __future__ import annotations

import math

import pandas as pd
import seaborn as sns
import streamlit as st
from matplotlib.figure import Figure

from dashboard import data, ui

study = ui.study()
st.title("Calibration")
st.caption(
    "When a model says 'female with probability 0.8', is the subject female 80% of the time? "
    "Each point is one probability bin (size ∝ number of bios); the dashed diagonal is perfect "
    "calibration. ECE (expected calibration error) is the count-weighted gap to it."
)
calibration = data.table(study, "calibration")
ui.require(study, calibration)

frame = calibration.value
overall = data.table(study, "overall")
labels = ui.labels(study)
predictors = data.predictor_order(list(frame["predictor"].unique()))
chosen = st.multiselect("Models", predictors, default=predictors)
if not chosen:
    st.info("Pick at least one model.")
    st.stop()

cols = min(3, len(chosen))
rows = math.ceil(len(chosen) / cols)
with sns.axes_style("whitegrid"):
    fig = Figure(figsize=(4.2 * cols, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, predictor in zip(axes.flat, chosen, strict=False):
        part = frame[frame["predictor"] == predictor].sort_values("bin")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        sizes = 20 + 200 * part["count"] / max(1, part["count"].max())
        ax.plot(part["mean_predicted"], part["fraction_female"], color="#7c3aed")
        ax.scatter(
            part["mean_predicted"], part["fraction_female"], s=sizes, color="#7c3aed", zorder=3
        )
        title = predictor
        if overall.ok:
            ece = overall.value.query("predictor == @predictor and metric == 'ece'")["value"]
            if not ece.empty and pd.notna(ece.iloc[0]):
                title += f" (ECE {ece.iloc[0]:.3f})"
        ax.set_title(title)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean predicted P(female)")
        ax.set_ylabel("observed fraction female")
        ax.legend(loc="upper left", fontsize="small")
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    fig.suptitle("Reliability diagrams (test split)")
ui.figure(fig, alt="Reliability diagrams, one per model")
for predictor in chosen:
    st.caption(f"{predictor}: {labels.get(predictor, '')}")
ui.table(frame[frame["predictor"].isin(chosen)], "calibration")
