"""Professions page: per-profession x gender error rates, TPR gaps, and the proxy-bias scatter."""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis import plots
from dashboard import data, ui
from pipeline.lib.contract import ProxyDirection

study = ui.study()
st.title("Professions")
task = ui.task_line(study)
st.caption(
    "Where do the models fail? Error rate per profession and gender, the true-positive-rate gap "
    "(women minus men: positive means the model recognises women in that profession better) "
    "and whether the gap follows the profession's share of women (the model using the "
    "profession as a proxy for gender). Hollow markers and † mark groups too small to say much."
)
groups, gaps, proxy = (
    data.table(study, "groups"),
    data.table(study, "gaps"),
    data.table(study, "proxy"),
)
ui.require(study, groups, gaps, proxy)

predictors = data.predictor_order(list(gaps.value["predictor"].unique()), task)
predictor = ui.predictor_select(predictors, study, key="professions_model")
level = ui.level(study)

# --- error rate per profession x gender ----------------------------------------------------------
st.header("Error rate by profession and gender")
g = groups.value[groups.value["predictor"] == predictor].copy()
ui.figure(
    plots.error_rates(groups.value, gaps.value, predictor, level),
    alt=f"Error rate by profession and gender for {predictor}",
)
table = g.assign(profession=np.where(g["small"], g["profession"] + " †", g["profession"]))
pct = {
    c: st.column_config.NumberColumn(c, format="%.3f")
    for c in ("error_rate", "error_ci_low", "error_ci_high", "tpr")
}
ui.table(table.drop(columns=["predictor"]), f"groups {predictor}", column_config=pct)

# --- TPR gap per profession ----------------------------------------------------------------------
st.header("True-positive-rate gap (women − men)")
gp = gaps.value[gaps.value["predictor"] == predictor].sort_values("share_women")
valid = gp.dropna(subset=["gap"])
ui.figure(
    plots.gaps_by_profession(gaps.value, predictor, level),
    alt=f"TPR gap by profession for {predictor}",
)
shown = gp.assign(profession=np.where(gp["small"], gp["profession"] + " †", gp["profession"]))
gap_cols = {
    c: st.column_config.NumberColumn(c, format="%.3f")
    for c in ("tpr_female", "tpr_male", "gap", "gap_ci_low", "gap_ci_high", "share_women")
}
ui.table(shown.drop(columns=["predictor"]), f"gaps {predictor}", column_config=gap_cols)
if len(valid) < len(gp):
    st.caption(f"{len(gp) - len(valid)} profession(s) have no gap: one gender has no test bio.")

# --- proxy bias ----------------------------------------------------------------------------------
st.header("Does the gap follow the share of women?")
row = proxy.value[proxy.value["predictor"] == predictor]
if row.empty:
    st.info(f"proxy.csv has no row for {predictor}: rerun `{data.make_command(study)}`.")
else:
    fit = row.iloc[0]
    ui.figure(
        # The occupation task's figure is De-Arteaga et al.'s: the fitted line with its band.
        plots.gap_vs_share(
            gaps.value,
            proxy.value,
            predictor,
            band=ui.confidence(study) if task == "occupation" else None,
        ),
        alt=f"Gap versus share of women for {predictor}",
    )
    # The analysis read the sign (analysis/verdicts.py): a positive slope is what leaning on the
    # profession as a proxy for gender looks like; a negative one is the opposite. Its sentence
    # names the direction and carries the statistics (n/a where they are not computable).
    show = {ProxyDirection.STEREOTYPED: st.warning, ProxyDirection.COUNTER: st.info}
    show.get(fit["direction"], st.info)(fit["verdict"])
    ui.table(proxy.value, "proxy")
