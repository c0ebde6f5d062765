"""Training page: the LoRA training curve (train loss, dev accuracy, dev loss), selected step."""

from __future__ import annotations

import streamlit as st

from analysis import plots
from dashboard import data, ui

study = ui.study()
st.title("Training")
st.caption(
    "How the LoRA run went, from results/lora/history.csv: the train loss since the previous "
    "evaluation, and the accuracy and loss on the dev split at every evaluation. Model "
    "selection kept the circled step (lora.metric_for_best_model, on dev only; the test split "
    "is never read in training)."
)
history = data.history(study)
metrics = data.train_metrics(study)
ui.require(study, history, metrics, stage="train")

best = metrics.value.get("best_step")
ui.figure(
    plots.training_curves({"lora": history.value}, {"lora": best} if best is not None else {}),
    alt="LoRA training curve: train loss, dev accuracy and dev loss against the step",
)
cols = st.columns(4)
cols[0].metric("Selected step", f"{best}" if best is not None else "n/a")
cols[1].metric("Steps trained", f"{metrics.value.get('steps', 'n/a')}")
accuracy = metrics.value.get("dev_accuracy")
cols[2].metric("Dev accuracy (selected)", f"{accuracy:.4f}" if accuracy is not None else "n/a")
cols[3].metric("Trainable parameters", f"{metrics.value.get('trainable_params', 0):,}")
ui.table(history.value, "training history")
st.caption("Compare the curves of several runs on the Experiments page.")
