"""Try a bio: score a bio you type with every model of the study, and its two probes.

The one page of the dashboard that runs models: it loads the study's models once
(``st.cache_resource``) through the CLI's own scorer (``pipeline.commands.score``), so a bio gets
the
number ``python -m pipeline.commands.score`` gives it. The text is always shown as text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import data, ui
from pipeline.commands.score import VARIANTS, BioScorer, shorten
from pipeline.lib import catalogue, paths
from pipeline.lib.errors import SuiteError

EXAMPLE = "She has practised dentistry in Lyon for ten years and teaches at the local college."
# Files whose change means new models: part of the cache key.
MODEL_FILES = (
    Path("params.yaml"),
    paths.BASE_MODEL_DIR / paths.BASE_REFERENCE_FILE,
    paths.split_path("train"),
)


@st.cache_resource(show_spinner="Loading the study's models (once)...", max_entries=2)
def scorer(study: str, stamps: tuple) -> BioScorer:
    """The study's models, loaded once per study and model files."""
    del stamps  # only part of the cache key
    return BioScorer(study, device="cpu")


study = ui.study()
st.title("Try a bio")
if ui.task_line(study) != "gender":
    ui.not_applicable(
        "Try a bio scores P(female) with the gender task's predictors "
        "(`python -m pipeline.commands.score`); it does not apply to an occupation study. "
        "Read its predictions on the Examples page."
    )
    st.stop()
st.caption(
    "Type a bio: every model of this study scores it, and the same bio with its gendered words "
    "swapped and removed (as the probe stage rewrites test bios). This is the one page of the "
    "dashboard that runs models (on CPU, loaded once); the command line does the same: "
    '`python -m pipeline.commands.score "..."`. A trained predictor is shown for every '
    "training seed (seeds.train), one row per seed: the runs of one procedure can disagree."
)
text = st.text_area("Bio", value=EXAMPLE, height=120, key="try_bio")
if not text.strip():
    st.info("Type a bio to score it.")
    st.stop()
# Every trained run's files (models/<name>/seed_<n>/*): a retrained run reloads the models.
runs = sorted(
    file
    for name in catalogue.seeded_names()
    for file in (study / paths.TRAINED_DIR / name).glob("seed_*/*")
)
stamps = tuple(data.file_stamp(file) for file in [*(study / f for f in MODEL_FILES), *runs])
try:
    models = scorer(str(study), stamps)
except SuiteError as err:
    st.error(f"The models are not all there yet: {err}")
    command = data.make_command(study, None)
    st.info(f"Make them with `{command}`, then reload this page.")
    st.code(command, language="bash")
    st.stop()
if models.toy_notice:
    st.warning(models.toy_notice, icon=":material/toys:")
scores = models.score([text.strip()])
labels = ui.labels(study)
for variant in VARIANTS:
    st.markdown(f"**{variant}**")
    # verbatim, never markup; a long bio is not echoed in full three times
    st.text(shorten(scores.loc[scores["variant"] == variant, "text"].iloc[0]))
cut = scores[(scores["variant"] == "original") & scores["truncated"]]["predictor"].unique()
if len(cut):
    st.info(
        f"This bio is longer than predict.max_length ({models.max_length} tokens): "
        f"{', '.join(cut)} read only part of it."
    )
table = scores.pivot_table(index="predictor", columns="variant", values="prob_female")
table = table.reindex(index=catalogue.order(list(table.index)), columns=list(VARIANTS))
said = scores.pivot(index="predictor", columns="variant", values="label").reindex_like(table)
shown = pd.DataFrame(
    {
        "predictor": table.index,
        "what it is": [labels.get(name, name) for name in table.index],
        **{f"P(female) {v}": table[v].to_numpy() for v in VARIANTS},
        **{f"says {v}": said[v].to_numpy() for v in VARIANTS},
    }
)
fmt = {f"P(female) {v}": st.column_config.NumberColumn(format="%.3f") for v in VARIANTS}
ui.table(shown, "try a bio", column_config=fmt)
st.caption(
    "A model that reads the gendered words flips between 'original' and 'swapped'; 'removed' "
    "shows what it makes of the rest (names, professions, other words)."
)
