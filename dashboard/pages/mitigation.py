"""Mitigation page: gender leakage of each representation, as is and with gender erased (LEACE).

What the erase stage's linear gender probe recovers from the representation a head reads, against
the majority rate, and (gender task) whether the erased predictor stays at that rate: the
analysis' table and sentences (analysis/verdicts.py), shown here.
"""

from __future__ import annotations

import streamlit as st

from analysis import plots
from analysis.verdicts import leakage_sentence
from dashboard import data, ui
from pipeline.lib.contract import PairFamily

study = ui.study()
st.title("Mitigation")
task = ui.task_line(study)
st.caption(
    "LEACE (Belrose et al. 2023) erases gender from the frozen base's last-token representation, "
    "the one a head-only classifier reads: after it, no linear classifier predicts gender better "
    "than always answering the majority gender (on the train split it was fitted on). A logistic "
    "regression fitted on the train split measures what is left on the test bios (leakage)."
)
leakage = data.table(study, "leakage")
ui.require(study, leakage, stage="analyze")
frame = leakage.value
verdicts = []
for name in ("procedure", "gap_rms"):
    loaded = data.table(study, name) if name in data.task_tables(task) else None
    if loaded is not None and loaded.ok and not loaded.value.empty:
        rows = loaded.value[loaded.value["family"] == PairFamily.MITIGATION]
        verdicts += rows["verdict"].tolist()
if verdicts:
    st.header("Over training seeds")
    for verdict in verdicts:
        st.markdown(f"**{verdict}**")
if task == "occupation":  # the trade-off: accuracy, GAP^RMS and leakage in one figure
    overall = data.table(study, "overall")
    if overall.ok:
        found = set(zip(overall.value["predictor"], overall.value["metric"], strict=True))
        names = data.predictor_order(list(overall.value["predictor"].unique()), task)
        plotted = [p for p in names if {(p, "accuracy"), (p, "gap_rms")} <= found]
        ui.figure(
            plots.accuracy_vs_gap_rms(
                overall.value, plotted, ui.level(study), plots.leakage_by_predictor(frame, task)
            ),
            alt="Accuracy against GAP^RMS per predictor and run, leakage in the legend",
        )
st.header("Gender leakage")
level = ui.level(study)
fig = plots.leakage_rates(frame, level)
ui.figure(fig, alt="Gender probe accuracy per representation, as is and erased, with intervals")
for row in frame.to_dict("records"):
    st.markdown(f"- {leakage_sentence(row, ui.confidence(study))}")
summary = data.summary(study)
checks = (summary.value.get("erasure_checks") or {}) if summary.ok else {}
for sentence in checks.values():
    st.success(sentence)
ui.table(frame, "leakage")
