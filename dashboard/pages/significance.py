"""Significance page: every pairwise exact McNemar test, raw and Holm-adjusted, in words."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui

study = ui.study()
st.title("Significance")
st.caption(
    "Every pair of predictors on the same test bios: the exact McNemar test counts the bios "
    "only one of the two gets right; the interval is a paired bootstrap of the accuracy "
    "difference (B minus A). p (Holm) is adjusted for testing every pair."
)
pairs = data.table(study, "pairs")
ui.require(study, pairs)

frame = pairs.value
alpha = st.select_slider("Significance level", options=[0.01, 0.05, 0.1], value=0.05)
st.header("Verdicts")
for _, row in frame.iterrows():
    significant = row["p_holm"] < alpha
    interval = ui.fmt_ci(row["diff_ci_low"], row["diff_ci_high"], 4)
    better = row["predictor_b"] if row["acc_diff"] > 0 else row["predictor_a"]
    summary = (
        f"{row['predictor_a']} vs {row['predictor_b']}: "
        + (
            f"{better} is significantly more accurate "
            if significant
            else "no significant difference "
        )
        + f"(Δ accuracy {row['acc_diff']:+.4f}, 95% CI {interval}; "
        f"p = {ui.fmt_p(row['p_value'])}, Holm p = {ui.fmt_p(row['p_holm'])})."
    )
    # Verdict text is the pipeline's, shown as text (it names predictors, never bios).
    (st.success if significant else st.info)(summary)
    st.caption(row["verdict"])

st.header("All pairwise tests")
shown = frame.assign(significant=frame["p_holm"] < alpha)
fmt = {
    c: st.column_config.NumberColumn(c, format="%.4f")
    for c in ("acc_a", "acc_b", "acc_diff", "diff_ci_low", "diff_ci_high")
}
fmt |= {c: st.column_config.NumberColumn(c, format="%.3e") for c in ("p_value", "p_holm")}
ui.table(shown, "pairs", column_config=fmt)

gaps = data.table(study, "gaps")
st.header("Gender gap tests per profession")
if not gaps.ok:
    st.info(f"{gaps.problem}: make it with `{data.make_command(study)}`.")
else:
    predictors = data.predictor_order(list(gaps.value["predictor"].unique()))
    predictor = ui.predictor_select(predictors, study, key="significance_model")
    g = gaps.value[gaps.value["predictor"] == predictor]
    cols = ["profession", "n_female", "n_male", "gap", "p_value", "p_holm", "p_bh", "small"]
    g = g[cols].sort_values("p_value")
    n_sig = int((g["p_holm"] < alpha).sum())
    st.markdown(
        f"**{n_sig}** of {len(g)} professions show a significant TPR gap for `{predictor}` "
        f"after Holm's correction (α = {alpha}); "
        f"{int((g['p_bh'] < alpha).sum())} after Benjamini-Hochberg."
    )
    ui.table(
        g,
        f"gap tests {predictor}",
        column_config={
            c: st.column_config.NumberColumn(c, format="%.3e")
            for c in ("p_value", "p_holm", "p_bh")
        },
    )
