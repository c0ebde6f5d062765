"""Examples page: read the test bios with their label and every model's probability.

A gender study shows each model's P(female); an occupation study each model's predicted
profession (by name) and its confidence (that profession's probability).

Bio text is untrusted data: it is shown only through st.text / st.dataframe (plain text),
never through markdown or HTML.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, ui
from pipeline.lib import catalogue, tasks
from pipeline.lib.labels import GENDERS

ALL = "(all)"
MAX_ROWS = 500  # rows drawn in the table; the CSV download holds every match

study = ui.study()
st.title("Examples")
task = tasks.get(ui.task_line(study))
occupation = task.name == "occupation"
st.caption(
    "Filter the test bios, then pick one to read it with each model's "
    + ("predicted profession and its confidence." if occupation else "P(female).")
)
examples = data.examples(study)
ui.require(study, examples, stage=None)  # predictions come from several stages

frame = examples.value
predictors = data.predictor_order(
    [c.split(":", 1)[1] for c in frame.columns if c.startswith("pred:")], task.name
)

c1, c2, c3 = st.columns(3)
profession = c1.selectbox("Profession", [ALL, *sorted(frame["profession"].unique())], key="ex_prof")
# The label is the gender in the gender task; in the occupation task it is the profession.
gender = c2.selectbox(
    "Gender" if occupation else "Gender (label)", [ALL, *GENDERS], key="ex_gender"
)
predictor = c3.selectbox(
    "Predictor",
    predictors,
    index=ui.default_predictor(predictors, study),
    key="ex_pred",
)
c4, c5 = st.columns(2)
outcome = c4.radio(f"{predictor} is", [ALL, "correct", "wrong"], horizontal=True, key="ex_outcome")
disagree = c5.checkbox("Only bios where the models disagree", key="ex_disagree")
references = [p for p in predictors if catalogue.is_reference(p, task.name)]
with_references = c5.checkbox(
    f"Count untrained references ({', '.join(references) or 'none'}) among the models",
    key="ex_with_references",
    disabled=not references,
)
voters = [p for p in predictors if with_references or p not in references]

mask = pd.Series(True, index=frame.index)
if profession != ALL:
    mask &= frame["profession"] == profession
if gender != ALL:
    mask &= frame["gender"] == gender
correct = frame[f"pred:{predictor}"] == frame[task.label_column]
if outcome == "correct":
    mask &= correct
elif outcome == "wrong":
    mask &= ~correct & frame[f"pred:{predictor}"].notna()
if disagree:
    # Disagreement among the predictors that scored the bio (a missing prediction is not a vote);
    # an untrained reference disagrees with everyone half the time, so it votes only if asked.
    mask &= frame[[f"pred:{p}" for p in voters]].nunique(axis=1, dropna=True) > 1
matches = frame[mask]


def class_name(class_id: object) -> str | None:
    """A predicted class id as its name (a profession, a gender); None where none was made."""
    return None if pd.isna(class_id) else task.classes[int(class_id)]


st.markdown(f"**{len(matches):,}** of {len(frame):,} bios match.")
if occupation:
    scores = {f"confidence:{p}": f"confidence {p}" for p in predictors}
    named = {f"predicted {p}": matches[f"pred:{p}"].map(class_name) for p in predictors}
    columns = [col for p in predictors for col in (f"predicted {p}", f"confidence:{p}")]
    shown = (matches.assign(**named)[["id", "profession", "gender", *columns, "text"]]).rename(
        columns=scores
    )
else:
    scores = {f"p_female:{p}": f"P(female) {p}" for p in predictors}
    shown = matches[["id", "profession", "gender", *scores, "text"]].rename(columns=scores)
prob_fmt = {name: st.column_config.NumberColumn(name, format="%.3f") for name in scores.values()}
prob_fmt["text"] = st.column_config.TextColumn("text", width="large")
st.dataframe(shown.head(MAX_ROWS), hide_index=True, column_config=prob_fmt, key="t_examples")
if len(shown) > MAX_ROWS:
    st.caption(f"Showing the first {MAX_ROWS}; the download has all {len(shown):,}.")
ui.download(shown, "examples")

st.header("Read one bio")
if matches.empty:
    st.info("No bio matches these filters.")
else:
    chosen = st.selectbox(
        "Bio id",
        matches["id"].head(MAX_ROWS).tolist(),
        key="ex_id",
        format_func=lambda i: f"{i} ({frame.loc[frame['id'] == i, 'profession'].iloc[0]})",
    )
    bio = matches[matches["id"] == chosen].iloc[0]
    st.text(f"Label: {bio['gender']} · profession: {bio['profession']} · id: {bio['id']}")
    # st.text renders its body verbatim: no markdown, no HTML.
    st.text(bio["text"])
    score, column = ("confidence", "confidence") if occupation else ("P(female)", "p_female")
    per_model = pd.DataFrame(
        {
            "predictor": predictors,
            score: [bio[f"{column}:{p}"] for p in predictors],
            "predicted": [class_name(bio[f"pred:{p}"]) for p in predictors],
        }
    )
    per_model["correct"] = per_model["predicted"] == bio["profession" if occupation else "gender"]
    ui.table(per_model, f"bio {bio['id']} predictions")
