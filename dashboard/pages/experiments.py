"""Experiments page: DVC experiments and git revisions side by side (metrics and params)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import plots
from dashboard import data, ui
from pipeline.lib import catalogue

EXAMPLE = "dvc exp run -S lora.r=16"

study = ui.study()
st.title("Experiments")
task = ui.task_line(study)
st.caption(
    "The workspace, the last git commits of this study and their DVC experiments (queued ones "
    "too), from `dvc exp show`: params from params.yaml, headline metrics from "
    "results/metrics.json and the train stage's dev metrics (prefixed train.)."
)
num = st.number_input("Git commits to include", min_value=1, max_value=50, value=3, step=1)
loaded = data.experiments(study, int(num))
where = "cd demo && " if data.is_demo(study) else ""
if not loaded.ok:
    st.warning(f"No experiments to compare: {loaded.problem}.")
    st.markdown(
        "Experiments need the study inside a git repository with DVC (`git init && dvc init`) "
        "and at least one run. Try a variation, e.g. a larger LoRA rank:"
    )
    st.code(f"{where}{EXAMPLE}", language="bash")
    st.stop()

frame = loaded.value
metric_cols = [c for c in frame.columns if c.startswith("metric:")]
param_cols = [c for c in frame.columns if c.startswith("param:")]
if len(frame) < 2 or not metric_cols:
    st.info(
        "Nothing to compare yet: "
        + ("this study has no metrics in the experiments. " if not metric_cols else "")
        + f"{len(frame)} row(s) found. Run an experiment, then reload:"
    )
    st.code(f"{where}{EXAMPLE}", language="bash")
    if frame.empty:
        st.stop()

only_diff = st.checkbox("Only columns that differ between rows", value=True)


def same(x: object, y: object) -> bool:
    """Equal values, two missing values counting as equal (lists compare element-wise)."""
    missing = [not isinstance(v, list | tuple) and pd.isna(v) for v in (x, y)]
    return all(missing) or (not any(missing) and x == y)


def readable(value: object) -> str:
    """A value for reading: floats to 4 significant digits, never 16."""
    if isinstance(value, float):
        return "n/a" if pd.isna(value) else f"{value:.4g}"
    return str(value)


def differs(column: str) -> bool:
    """Whether a column holds more than one value across the rows (missing counts as one)."""
    return frame[column].astype(str).nunique(dropna=False) > 1


metrics_shown, params_shown = metric_cols, param_cols
if only_diff and len(frame) > 1:
    metrics_shown = [c for c in metrics_shown if differs(c)] or metrics_shown
    params_shown = [c for c in params_shown if differs(c)]
st.header("All rows")
columns = ["name", "rev", "type", "state", "created", *params_shown, *metrics_shown]
floats = {
    c: st.column_config.NumberColumn(c, format="%.4g")
    for c in columns
    if pd.api.types.is_float_dtype(frame[c])
}
ui.table(frame[columns], "experiments", column_config=floats)

if len(frame) >= 2:
    st.header("Compare two")
    names = frame["name"].astype(str).tolist()
    # By default the newest experiment (B) against the newest commit (A); without experiments,
    # the workspace against the newest commit. dvc exp show lists the workspace, then commits
    # newest first, each followed by its experiments.
    commits = [i for i, kind in enumerate(frame["type"]) if kind == "commit"] or [0]
    runs = frame[frame["type"] == "experiment"]
    created = pd.to_datetime(runs["created"], errors="coerce", utc=True)
    if runs.empty:
        default_b = 0
    elif created.isna().all():
        default_b = int(runs.index[0])
    else:
        default_b = int(created.idxmax())
    c1, c2 = st.columns(2)
    first = c1.selectbox("A", names, index=commits[0], key="exp_a")
    second = c2.selectbox("B", names, index=default_b, key="exp_b")
    a = frame[frame["name"].astype(str) == first].iloc[0]
    b = frame[frame["name"].astype(str) == second].iloc[0]
    keys = [*param_cols, *metric_cols]
    side = pd.DataFrame(
        {
            "key": keys,
            f"A: {first}": [a[k] for k in keys],
            f"B: {second}": [b[k] for k in keys],
        }
    )
    side["changed"] = [not same(a[k], b[k]) for k in keys]
    if st.checkbox("Only what changed", value=True, key="exp_changed"):
        side = side[side["changed"]]
    for column in (f"A: {first}", f"B: {second}"):
        side[column] = [readable(v) for v in side[column]]
    ui.table(side, "experiment comparison")
    st.header("Training curves")
    trained = catalogue.seeded_names(task)
    predictor = st.selectbox(
        "Trained predictor",
        trained,
        format_func=lambda name: catalogue.label(name, task),
        key="exp_predictor",
    )
    chosen = st.multiselect(
        f"Overlay the training curves of {catalogue.label(predictor, task)} at",
        names,
        default=[first, second] if first != second else [first],
        key="exp_curves",
    )
    # Every name DVC shows is a revision it resolves: workspace, a branch, a short sha, an
    # experiment's name.
    seeds = data.training_seeds(study, predictor)
    if seeds:
        st.caption(f"Curves of the first training seed, {seeds[0]}, at each chosen revision.")
    histories = data.experiment_histories(study, chosen, predictor, seeds[0] if seeds else 0)
    if not histories.ok:
        st.info(f"No curves to show: {histories.problem}.")
    else:
        curves = histories.value
        runs = {
            str(rev): part.sort_values("step") for rev, part in curves.groupby("rev", sort=False)
        }
        named = frame.set_index(frame["name"].astype(str))
        best = {}
        column = f"metric:train.{predictor}.seed_{seeds[0] if seeds else 0}.best_step"
        if column in named.columns:
            for name in runs:
                if name in named.index and pd.notna(named.loc[name, column]):
                    best[name] = int(named.loc[name, column])
        ui.figure(plots.training_curves(runs, best), alt="Training curves of the chosen runs")
st.caption(f"Repository: {loaded.path}. New variation: `{where}{EXAMPLE}`.")
