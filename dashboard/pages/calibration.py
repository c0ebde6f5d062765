"""Calibration page: a reliability diagram per model, with the diagonal of perfect calibration.

An occupation study has no reliability curve of P(female): its calibration is the top-label ECE
of overall.csv, which this page lists instead.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import plots
from dashboard import data, ui

study = ui.study()
st.title("Calibration")
task = ui.task_line(study)
if task == "occupation":
    ui.not_applicable(
        "No reliability diagram of P(female) here: the occupation task's calibration is the "
        "top-label ECE (the predicted profession's probability against how often it is right) "
        "of the overall table, below and on the Overview."
    )
    overall = data.table(study, "overall")
    ui.require(study, overall)
    ece = overall.value[overall.value["metric"] == "ece"]
    order = data.predictor_order(list(ece["predictor"]), task)
    ui.table(ece.set_index("predictor").loc[order].reset_index(), "top-label ECE")
    st.stop()
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
predictors = data.predictor_order(list(frame["predictor"].unique()), task)
chosen = st.multiselect("Models", predictors, default=predictors)
if not chosen:
    st.info("Pick at least one model.")
    st.stop()

ece = {}
if overall.ok:
    values = overall.value[overall.value["metric"] == "ece"].set_index("predictor")["value"]
    ece = {name: float(value) for name, value in values.items() if pd.notna(value)}
fig = plots.reliability(frame, chosen, ece)
ui.figure(fig, alt="Reliability diagrams, one per model")
for predictor in chosen:
    st.caption(f"{predictor}: {labels.get(predictor, '')}")
ui.table(frame[frame["predictor"].isin(chosen)], "calibration")
