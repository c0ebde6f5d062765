"""Seeds page: fine-tuning as a procedure, over every training seed (seeds.train).

It shows what the analysis decided (procedure.csv, seeds.csv, seed_gaps.csv and the per-seed
rows of overall.csv and gaps.csv); it decides nothing itself.
"""

from __future__ import annotations

import streamlit as st

from analysis import plots
from dashboard import data, ui

study = ui.study()
st.title("Seeds")
ui.task_line(study)
procedure = data.table(study, "procedure")
spread = data.table(study, "seeds")
seed_gaps = data.table(study, "seed_gaps")
overall = data.table(study, "overall")
gaps = data.table(study, "gaps")
ui.require(study, procedure, spread, seed_gaps, overall, gaps)
level = ui.level(study)
st.caption(
    "All training seeds of the study, each its own run of every trained predictor. The "
    "procedure-level interval is the "
    "Multi-Bootstrap (Sellam et al., 2022): training seeds and test bios resampled jointly."
)
row = data.primary_procedure(procedure)
if row is None:
    st.info("No seeded predictor in analyze.primary: nothing to show across seeds.")
    st.stop()
significant = str(row["significant"]).lower() == "true"
(st.success if significant else st.info)(row["verdict"])
st.caption(row["variance_verdict"])
cols = st.columns(3)
cols[0].metric("Training seeds", int(row["n_seeds"]))
cols[1].metric("Mean difference", f"{100 * row['acc_diff']:+.1f} pts")
cols[2].metric(
    f"{level} interval", ui.fmt_ci(100 * row["diff_ci_low"], 100 * row["diff_ci_high"], 1)
)
ui.figure(
    plots.seed_accuracy(overall.value, row, level),
    alt="Each seed's test accuracy with its interval",
)
others = data.other_procedures(procedure)
if not others.empty:
    st.header("Other trained predictors over seeds")
    st.caption(
        "Each other trained predictor against both sides of the primary comparison (family "
        "secondary), then each mitigated predictor against the one it mitigates (family "
        "mitigation), as procedures (Multi-Bootstrap, two trained predictors paired by seed), "
        "Holm-adjusted within their family; each interval at the level Holm stopped at "
        "(ci_level)."
    )
    for other in others.itertuples():
        (st.success if other.significant else st.info)(other.verdict)
    ui.table(others, "comparisons over seeds")
st.header("Metrics across seeds")
ui.table(spread.value, "metrics across seeds")
for procedure_name in seed_gaps.value["predictor"].unique():
    st.header(f"Gaps of {procedure_name} by seed")
    part = seed_gaps.value[seed_gaps.value["predictor"] == procedure_name]
    ui.figure(
        plots.seed_gap_heatmap(gaps.value, part, procedure_name),
        alt="TPR gap by profession and seed; stable professions starred, small groups hatched",
    )
    ui.table(part, f"gaps over seeds {procedure_name}")
proxy = data.table(study, "seed_proxy")
if proxy.ok and not proxy.value.empty:
    st.header("Proxy bias over seeds")
    for row in proxy.value.itertuples():
        st.markdown(f"**{row.predictor}**")
        st.text(row.verdict)
