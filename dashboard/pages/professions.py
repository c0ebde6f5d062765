"""Professions page: per-profession x gender error rates, TPR gaps, and the proxy-bias scatter."""

from __future__ import annotations

import numpy as np
import seaborn as sns
import streamlit as st
from matplotlib.figure import Figure

from dashboard import data, ui

study = ui.study()
st.title("Professions")
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

predictors = data.predictor_order(list(gaps.value["predictor"].unique()))
predictor = ui.predictor_select(predictors, study, key="professions_model")
palette = {"female": "#c2410c", "male": "#1d4ed8"}

# --- error rate per profession x gender ----------------------------------------------------------
st.header("Error rate by profession and gender")
g = groups.value[groups.value["predictor"] == predictor].copy()
order = (
    gaps.value[gaps.value["predictor"] == predictor]
    .sort_values("share_women")["profession"]
    .tolist()
)
order += sorted(set(g["profession"]) - set(order))
with sns.axes_style("whitegrid"):
    fig = Figure(figsize=(9, max(4.0, 0.3 * len(order))), layout="constrained")
    ax = fig.subplots()
    y = {name: i for i, name in enumerate(order)}
    for offset, gender in ((-0.18, "female"), (0.18, "male")):
        part = g[g["gender"] == gender]
        pos = np.array([y[p] for p in part["profession"]]) + offset
        rate = part["error_rate"].to_numpy() * 100
        err = np.vstack(
            [
                rate - part["error_ci_low"].to_numpy() * 100,
                part["error_ci_high"].to_numpy() * 100 - rate,
            ]
        )
        small = part["small"].to_numpy()
        ax.errorbar(
            rate, pos, xerr=np.clip(err, 0, None), fmt="none", ecolor=palette[gender], alpha=0.6
        )
        ax.scatter(rate[~small], pos[~small], color=palette[gender], label=gender, zorder=3)
        ax.scatter(
            rate[small],
            pos[small],
            facecolors="white",
            edgecolors=palette[gender],
            label=f"{gender} (small group)",
            zorder=3,
        )
    ax.set_yticks(range(len(order)), order)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlabel("error rate (%, 95% CI)")
    ax.set_ylabel("profession (sorted by share of women in train)")
    ax.set_title(f"{predictor}: error rate by profession and gender")
    ax.legend(loc="lower right", fontsize="small")
ui.figure(fig, alt=f"Error rate by profession and gender for {predictor}")
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
with sns.axes_style("whitegrid"):
    fig = Figure(figsize=(9, max(4.0, 0.3 * len(valid))), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(len(valid))
    gap = valid["gap"].to_numpy() * 100
    err = np.vstack(
        [gap - valid["gap_ci_low"].to_numpy() * 100, valid["gap_ci_high"].to_numpy() * 100 - gap]
    )
    small = valid["small"].to_numpy()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.errorbar(gap, pos, xerr=np.clip(err, 0, None), fmt="none", ecolor="grey")
    ax.scatter(gap[~small], pos[~small], color="#7c3aed", zorder=3, label="gap")
    ax.scatter(
        gap[small],
        pos[small],
        facecolors="white",
        edgecolors="#7c3aed",
        zorder=3,
        label="gap (small group)",
    )
    ax.set_yticks(pos, valid["profession"])
    ax.set_ylim(len(valid) - 0.5, -0.5)
    ax.set_xlabel("TPR(women) − TPR(men) (percentage points, 95% CI)")
    ax.set_ylabel("profession (sorted by share of women in train)")
    ax.set_title(f"{predictor}: TPR gap by profession")
    ax.legend(loc="lower right", fontsize="small")
ui.figure(fig, alt=f"TPR gap by profession for {predictor}")
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
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        share = valid["share_women"].to_numpy() * 100
        ax.scatter(share[~small], gap[~small], color="#7c3aed", label="profession")
        ax.scatter(
            share[small], gap[small], facecolors="white", edgecolors="#7c3aed", label="small group"
        )
        for x_val, y_val, name in zip(share, gap, valid["profession"], strict=True):
            ax.annotate(
                name,
                (x_val, y_val),
                fontsize=6,
                alpha=0.7,
                xytext=(2, 2),
                textcoords="offset points",
            )
        xs = np.linspace(0, 1, 50)
        # slope/intercept are fitted on fractions (gap vs share): plot them in percent.
        ax.plot(
            xs * 100,
            (fit["intercept"] + fit["slope"] * xs) * 100,
            color="black",
            label="fitted line",
        )
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_xlabel("share of women in the profession (train split, %)")
        ax.set_ylabel("TPR gap, women − men (percentage points)")
        ax.set_title(f"{predictor}: gap vs share of women (Pearson r = {fit['pearson_r']:.2f})")
        ax.legend(fontsize="small")
    ui.figure(fig, alt=f"Gap versus share of women for {predictor}")
    st.markdown(
        f"Pearson r = **{fit['pearson_r']:.3f}** (p = {ui.fmt_p(fit['pearson_p'])}), "
        f"Spearman ρ = **{fit['spearman_rho']:.3f}** (p = {ui.fmt_p(fit['spearman_p'])}), "
        f"slope = {fit['slope']:.3f} over {int(fit['n_professions'])} professions."
    )
    ui.table(proxy.value, "proxy")
