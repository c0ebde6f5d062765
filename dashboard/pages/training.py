"""Training page: every trained predictor's runs, one curve per seed (loss, dev accuracy)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import plots
from dashboard import data, ui
from pipeline.lib import catalogue, paths

study = ui.study()
st.title("Training")
task = ui.task_line(study)
trained = catalogue.seeded_names(task)
runs = {name: data.training_seeds(study, name) for name in trained}
st.caption(
    "Every trained predictor's runs in this study, one per training seed (seeds.train), from "
    f"{paths.TRAINED_RESULTS_DIR}/<predictor>/seed_<n>/history.csv: the train loss since the "
    "previous evaluation, and the accuracy and loss on the dev split at every evaluation. Model "
    "selection kept the circled step (<predictor>.metric_for_best_model, on dev only; the test "
    "split is never read in training)."
)
loaded = {
    (name, seed): (data.history(study, name, seed), data.train_metrics(study, name, seed))
    for name, seeds in runs.items()
    for seed in seeds
}
ui.require(
    study,
    *[item for pair in loaded.values() for item in pair],
    *([] if loaded else [data.history(study, trained[0], 0)]),
    stage="train",
)
for name in trained:
    mine = {seed: pair for (owner, seed), pair in loaded.items() if owner == name}
    if not mine:
        continue
    label = catalogue.label(name, task)
    st.header(f"{label} ({name})")
    st.caption(f"{len(mine)} run(s), one per training seed; settings: the params section {name}.")
    histories = {paths.run_name(name, s): h.value for s, (h, _) in mine.items()}
    best = {
        paths.run_name(name, s): m.value["best_step"]
        for s, (_, m) in mine.items()
        if m.value.get("best_step") is not None
    }
    ui.figure(
        plots.training_curves(histories, best),
        alt=f"{label} training curves of every seed: train loss, dev accuracy and dev loss by step",
    )
    table = pd.DataFrame(
        [
            {
                "seed": seed,
                "selected step": m.value.get("best_step"),
                "steps trained": m.value.get("steps"),
                "dev accuracy (selected)": m.value.get("dev_accuracy"),
                "trainable parameters": m.value.get("trainable_params"),
            }
            for seed, (_, m) in mine.items()
        ]
    )
    ui.table(table, f"training runs {name}")
    ui.table(
        pd.concat([h.value.assign(seed=s) for s, (h, _) in mine.items()], ignore_index=True),
        f"training history {name}",
    )
st.caption("Compare the curves of several experiments on the Experiments page.")
