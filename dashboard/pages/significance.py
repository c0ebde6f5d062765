"""Significance page: every pairwise comparison by family, and the gap tests per profession.

It shows what the analysis decided (pairs.csv ``family``, ``significant`` and ``verdict``;
gaps.csv ``significant``); it decides nothing itself.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui
from pipeline.lib.contract import PairFamily

FAMILIES = {
    PairFamily.PRIMARY: "Primary comparison (analyze.primary), tested alone",
    PairFamily.SECONDARY: "Secondary comparisons, Holm-adjusted within the family",
    PairFamily.REFERENCE: "Chance references: shown, never tested",
}

study = ui.study()
st.title("Significance")
task = ui.task_line(study)
pairs = data.table(study, "pairs")
ui.require(study, pairs)
frame = pairs.value
alpha = 1 - ui.confidence(study)
st.caption(
    "Every pair of predictors on the same test bios: the exact McNemar test counts the bios only "
    "one of the two gets right; the interval of the accuracy difference (B minus A) is that test "
    "inverted, at the level shown in ci_level, so each verdict and its interval agree. Tests at "
    f"the {100 * (1 - alpha):.4g}% level (analyze.confidence)."
)

procedure = data.table(study, "procedure")
over_seeds = data.primary_procedure(procedure)
if over_seeds is not None and int(over_seeds["n_seeds"]) > 1:
    n_seeds = int(over_seeds["n_seeds"])
    st.header(f"Primary comparison over {n_seeds} training seeds (Multi-Bootstrap)")
    decided = pd.notna(over_seeds["significant"]) and over_seeds["significant"]
    (st.success if decided and over_seeds["acc_diff"] > 0 else st.info)(over_seeds["verdict"])
    st.caption(over_seeds["variance_verdict"])
    titles = FAMILIES | {
        PairFamily.PRIMARY: "Primary comparison, each seed alone: exact McNemar, Holm-adjusted "
        f"across the {n_seeds} seeds"
    }
else:
    titles = FAMILIES

for family, title in titles.items():
    part = frame[frame["family"] == family]
    if part.empty:
        continue
    st.header(title)
    for row in part.itertuples():
        if family == PairFamily.REFERENCE:
            st.caption(row.verdict)
        else:
            (st.success if pd.notna(row.significant) and row.significant else st.info)(row.verdict)

st.header("All pairwise tests")
fmt = {
    c: st.column_config.NumberColumn(c, format="%.4f")
    for c in ("acc_a", "acc_b", "acc_diff", "diff_ci_low", "diff_ci_high", "ci_level")
}
fmt |= {c: st.column_config.NumberColumn(c, format="%.3e") for c in ("p_value", "p_adjusted")}
ui.table(frame.drop(columns=["verdict"]), "pairs", column_config=fmt)

gaps = data.table(study, "gaps")
st.header("Gender gap tests per profession")
if not gaps.ok:
    st.info(f"{gaps.problem}: make it with `{data.make_command(study)}`.")
else:
    predictors = data.predictor_order(list(gaps.value["predictor"].unique()), task)
    predictor = ui.predictor_select(predictors, study, key="significance_model")
    g = gaps.value[gaps.value["predictor"] == predictor]
    cols = ["profession", "n_female", "n_male", "gap", "p_value", "p_holm", "p_bh", "significant"]
    g = g[[*cols, "small"]].sort_values("p_value")
    n_sig = int(g["significant"].sum())
    with_gap = int(g["gap"].notna().sum())  # professions with test bios of both genders
    st.markdown(
        f"**{n_sig}** of the {with_gap} professions with test bios of both genders show a "
        f"significant TPR gap for `{predictor}` after Holm's correction across professions "
        f"(α = {alpha:.4g}); {int((g['p_bh'] < alpha).sum())} have a Benjamini-Hochberg p below "
        "α." + (f" The other {len(g) - with_gap} have no gap to test." if len(g) > with_gap else "")
    )
    ui.table(
        g,
        f"gap tests {predictor}",
        column_config={
            c: st.column_config.NumberColumn(c, format="%.3e")
            for c in ("p_value", "p_holm", "p_bh")
        },
    )
