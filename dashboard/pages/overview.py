"""Overview page: which data and predictors, headline metrics with 95% intervals, base vs LoRA."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui

study = ui.study()
st.title("Overview")

# --- which data ----------------------------------------------------------------------------------
profile = data.profile(study)
summary = data.summary(study)
source = None
if summary.ok:
    source = summary.value["data"]
elif profile.ok and isinstance(profile.value, dict):
    source = profile.value
if source is not None:
    kind = {"hub": "Bias in Bios (Hugging Face hub)", "local": "local files", "sample": "sample"}
    synthetic = bool(source.get("synthetic"))
    name = kind.get(source.get("source", ""), str(source.get("source")))
    n_test = source.get("n_test")
    st.markdown(
        f"**Data:** {name}" + (f" · **test bios:** {n_test:,}" if isinstance(n_test, int) else "")
    )
    if synthetic:
        st.warning(
            "SYNTHETIC data: these results come from the bundled generated sample (the demo), "
            "not from Bias in Bios. They show that the pipeline works, not how GPT-2 behaves."
        )

# --- status of every results file ----------------------------------------------------------------
checks = [summary, data.metrics(study), profile, data.bios(study)]
checks += [data.table(study, name) for name in data.TABLES]
preds = data.predictions(study)
with st.expander(
    "Results files" + ("" if all(c.ok for c in checks) and preds else " (some are missing)"),
    expanded=not summary.ok,
):
    status = pd.DataFrame(
        [
            {
                "file": str(c.path.relative_to(study)),
                "status": "ok" if c.ok else c.problem,
            }
            for c in [*checks, *preds.values()]
        ]
    )
    st.dataframe(status, hide_index=True, key="t_status")
    if not preds:
        st.caption(f"No predictions under `{data.paths.PREDICTIONS_DIR}`.")

ui.require(study, summary, data.table(study, "overall"))

# --- predictors and headline table ---------------------------------------------------------------
labels = ui.labels(study)
overall = data.table(study, "overall").value
predictors = data.predictor_order(list(summary.value["predictors"]))
st.header("Predictors")
cells = overall.set_index(["predictor", "metric"])
rows = []
for predictor in predictors:
    row = {"predictor": predictor, "label": labels.get(predictor, "")}
    for metric in data.METRIC_NAMES:
        if (predictor, metric) not in cells.index:
            continue
        cell = cells.loc[(predictor, metric)]
        row["n"] = int(cell["n"])
        row[metric] = cell["value"]
        row[f"{metric} 95% CI"] = ui.fmt_ci(cell["ci_low"], cell["ci_high"])
    rows.append(row)
headline = pd.DataFrame(rows)
st.caption(
    "Headline metrics on the same test bios, each with its 95% interval (Wilson for accuracy, "
    "bootstrap otherwise; see the CSV's ci_method). ECE: expected calibration error, lower is "
    "better. Click a column header to sort."
)
number = {m: st.column_config.NumberColumn(m, format="%.4f") for m in data.METRIC_NAMES}
ui.table(headline, "headline metrics", column_config=number)
with st.expander("All metrics in long form (overall.csv)"):
    ui.table(overall, "overall")

# --- base vs LoRA --------------------------------------------------------------------------------
st.header("Does LoRA beat the base model?")
pairs = data.table(study, "pairs")
missing = [p for p in ("zero_shot", "lora") if p not in predictors]
if missing:
    st.info(
        "No base-versus-LoRA comparison: predictions for "
        + " and ".join(f"`{p}`" for p in missing)
        + f" are missing. Make them with `{data.make_command(study, 'analyze')}`."
    )
elif not pairs.ok:
    st.info(f"{pairs.problem}. Make it with `{data.make_command(study, 'analyze')}`.")
else:
    frame = pairs.value
    match = frame[
        ((frame["predictor_a"] == "zero_shot") & (frame["predictor_b"] == "lora"))
        | ((frame["predictor_a"] == "lora") & (frame["predictor_b"] == "zero_shot"))
    ]
    if match.empty:
        st.info(f"pairs.csv has no zero_shot/lora row: rerun `{data.make_command(study)}`.")
    else:
        pair = match.iloc[0]
        # acc_diff is acc_b - acc_a: orient it as LoRA minus base.
        sign = 1 if pair["predictor_b"] == "lora" else -1
        acc_lora = pair["acc_b"] if sign == 1 else pair["acc_a"]
        acc_base = pair["acc_a"] if sign == 1 else pair["acc_b"]
        diff = sign * pair["acc_diff"]
        low, high = sorted((sign * pair["diff_ci_low"], sign * pair["diff_ci_high"]))
        significant = pair["p_holm"] < 0.05
        direction = "more" if diff > 0 else "less"
        cols = st.columns(3)
        cols[0].metric("Accuracy, base (zero-shot)", f"{acc_base:.4f}")
        cols[1].metric("Accuracy, LoRA", f"{acc_lora:.4f}", delta=f"{diff:+.4f}")
        cols[2].metric("McNemar p (Holm)", ui.fmt_p(pair["p_holm"]))
        verdict = (
            f"On the same {int(pair['n']):,} test bios, LoRA is {100 * abs(diff):.1f} percentage "
            f"points {direction} accurate than the zero-shot base model (95% CI of the difference "
            f"{ui.fmt_ci(low, high)}); the exact McNemar test gives "
            f"p = {ui.fmt_p(pair['p_value'])} "
            f"(Holm-adjusted {ui.fmt_p(pair['p_holm'])}): "
            + (
                "the difference is statistically significant at the 5% level."
                if significant
                else "the difference is NOT statistically significant at the 5% level."
            )
        )
        (st.success if significant and diff > 0 else st.info)(verdict)
        st.caption(f"Analysis verdict: {pair['verdict']}")

report = data.report(study)
if report.ok:
    with st.expander("Full written report (report.md)"):
        st.text(report.value)

# --- where next ----------------------------------------------------------------------------------
st.header("Explore")
for name, title, icon, description in ui.PAGES[1:]:
    st.page_link(f"pages/{name}.py", label=f"{title}: {description}", icon=icon)
