"""Training page: every training seed's LoRA curve (train loss, dev accuracy, dev loss)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import plots
from dashboard import data, ui
from pipeline.lib import paths

study = ui.study()
st.title("Training")
seeds = data.training_seeds(study)
st.caption(
    f"All {len(seeds)} LoRA runs of this study, one per training seed (seeds.train), from "
    "results/lora/seed_<n>/history.csv: the train loss since the previous evaluation, and the "
    "accuracy and loss on the dev split at every evaluation. Model selection kept the circled "
    "step (lora.metric_for_best_model, on dev only; the test split is never read in training)."
)
loaded = {seed: (data.history(study, seed), data.train_metrics(study, seed)) for seed in seeds}
ui.require(
    study,
    *[item for pair in loaded.values() for item in pair],
    *([] if seeds else [data.history(study, 0)]),
    stage="train",
)
histories = {paths.run_name("lora", s): h.value for s, (h, _) in loaded.items()}
best = {
    paths.run_name("lora", s): m.value["best_step"]
    for s, (_, m) in loaded.items()
    if m.value.get("best_step") is not None
}
ui.figure(
    plots.training_curves(histories, best),
    alt="LoRA training curves of every seed: train loss, dev accuracy and dev loss by step",
)
runs = pd.DataFrame(
    [
        {
            "seed": seed,
            "selected step": m.value.get("best_step"),
            "steps trained": m.value.get("steps"),
            "dev accuracy (selected)": m.value.get("dev_accuracy"),
            "trainable parameters": m.value.get("trainable_params"),
        }
        for seed, (_, m) in loaded.items()
    ]
)
ui.table(runs, "training runs")
ui.table(
    pd.concat([h.value.assign(seed=s) for s, (h, _) in loaded.items()], ignore_index=True),
    "training history",
)
st.caption("Compare the curves of several experiments on the Experiments page.")
