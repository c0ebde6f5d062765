"""Shared page furniture: the current study, missing-results guidance, CSV downloads, figures.

No file is read here (that is ``dashboard.data``); these helpers only render.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from analysis.verdicts import fmt_level
from dashboard import data
from pipeline.lib import catalogue

# (file stem in pages/ and url path, title, icon, one-line description for links)
PAGES = (
    ("overview", "Overview", ":material/home:", "data, predictors, headline metrics"),
    ("professions", "Professions", ":material/work:", "errors and TPR gaps by gender"),
    ("significance", "Significance", ":material/balance:", "every pairwise test"),
    ("seeds", "Seeds", ":material/grain:", "the procedure over training seeds"),
    ("calibration", "Calibration", ":material/show_chart:", "reliability diagrams"),
    ("training", "Training", ":material/trending_up:", "every trained run's training curve"),
    ("probes", "Probes", ":material/swap_horiz:", "swapped and removed gendered words"),
    ("mitigation", "Mitigation", ":material/healing:", "gender leakage, erased by LEACE"),
    ("examples", "Examples", ":material/article:", "read the bios and predictions"),
    ("try_bio", "Try a bio", ":material/edit_note:", "score a bio you type (runs the models)"),
    ("experiments", "Experiments", ":material/science:", "compare DVC runs"),
)


def study() -> Path:
    """The study this dashboard shows (``--study``, ``BIOS_STUDY``, real study, demo)."""
    return data.resolve_study(sys.argv[1:])


SYNTHETIC_BANNER = (
    "SYNTHETIC data: these results come from the bundled generated sample (the demo), not from "
    "Bias in Bios. They show that the pipeline works, not how GPT-2 behaves."
)


def synthetic_banner(study_dir: Path) -> None:
    """The synthetic-data warning, at the top of every page of a study made from the sample."""
    profile = data.profile(study_dir)
    if profile.ok and isinstance(profile.value, dict) and profile.value.get("synthetic"):
        st.warning(SYNTHETIC_BANNER, icon=":material/science:")


# The one line that opens every page of a study whose task is not the default (gender) one.
TASK_LINES = {
    "occupation": "**Task:** occupation classification ({n} professions); protected attribute: "
    "gender. Each predictor names the bio's profession; the gaps are between women and men.",
}


def task_line(study_dir: Path) -> str:
    """The study's task (``pipeline.lib.tasks``); its line opens the page (not for gender).

    A gender study's pages look as they did before the occupation task existed.
    """
    task = data.task(study_dir)
    line = TASK_LINES.get(task.name)
    if line:
        st.markdown(line.format(n=task.n_classes))
    return task.name


def not_applicable(what: str) -> None:
    """One line saying that (a part of) a page does not apply to the study's task."""
    st.info(what, icon=":material/block:")


def labels(study_dir: Path) -> dict[str, str]:
    """Display labels of the predictors: the analysis summary's, else the task catalogue's."""
    loaded = data.summary(study_dir)
    found = loaded.value["predictors"] if loaded.ok else {}
    task = data.task(study_dir).name
    names = set(found) | set(catalogue.names(task=task))
    return {
        name: str(found.get(name, {}).get("label") or catalogue.label(name, task)) for name in names
    }


def default_predictor(options: Sequence[str], study_dir: Path) -> int:
    """Index of the predictor a page opens on: the second of ``analyze.primary``.

    That is the study's declared "after" (a trained predictor in the shipped studies), its first
    training seed's run when it has several (each option names its seed); the first option when
    the analysis names no primary comparison or its predictor is not among ``options``.
    """
    loaded = data.summary(study_dir)
    primary = (loaded.value["settings"].get("primary") or []) if loaded.ok else []
    # A trained predictor's options are its runs (lora@seed<n>): open on the first seed's.
    runs = [i for i, name in enumerate(options) if catalogue.split_run(name)[0] in primary[-1:]]
    return runs[0] if runs else 0


def require(study_dir: Path, *loaded: data.Loaded, stage: str | None = "analyze") -> None:
    """Stop the page with what is missing and the command that makes it, if anything is."""
    problems = [item.problem for item in loaded if not item.ok]
    if not problems:
        return
    st.error(
        "This page needs results that are missing or unusable:\n\n"
        + "\n".join(f"- {problem}" for problem in problems)
    )
    command = data.make_command(study_dir, stage)
    st.info(f"Make them with `{command}`, then reload this page.")
    st.code(command, language="bash")
    st.stop()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def download(frame: pd.DataFrame, name: str, label: str | None = None) -> None:
    """A CSV download button for a table (``name`` becomes ``<name>.csv``)."""
    st.download_button(
        label or f"Download {name} as CSV",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"{_slug(name)}.csv",
        mime="text/csv",
        key=f"download_{_slug(name)}",
        on_click="ignore",
    )


def table(
    frame: pd.DataFrame,
    name: str,
    *,
    column_config: dict | None = None,
    height: int | str = "auto",
) -> None:
    """A sortable table (click a header to sort) followed by its CSV download."""
    st.dataframe(
        frame, hide_index=True, column_config=column_config, height=height, key=f"t_{_slug(name)}"
    )
    download(frame, name)


def figure(fig: Figure, alt: str) -> None:
    """Show a matplotlib figure (built without pyplot, so nothing global leaks between pages)."""
    st.pyplot(fig, alt=alt)


def confidence(study_dir: Path) -> float:
    """The analysis' interval level (``analyze.confidence``, from summary.json; 0.95 if absent)."""
    loaded = data.summary(study_dir)
    settings = loaded.value.get("settings") if loaded.ok else None
    value = settings.get("confidence") if isinstance(settings, dict) else None
    return float(value) if isinstance(value, int | float) else 0.95


def level(study_dir: Path) -> str:
    """The interval level for labels, e.g. ``95%`` or ``99%``."""
    return fmt_level(confidence(study_dir))


def fmt_ci(low: float, high: float, digits: int = 3) -> str:
    """An interval as text, e.g. ``[0.912, 0.934]``."""
    if pd.isna(low) or pd.isna(high):
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def predictor_select(options: Sequence[str], study_dir: Path, key: str) -> str:
    """A model selector showing each predictor's label; opens on :func:`default_predictor`."""
    names = labels(study_dir)
    options = list(options)
    return st.selectbox(
        "Model",
        options,
        index=default_predictor(options, study_dir),
        key=key,
        format_func=lambda p: f"{p} — {names.get(p, p)}",
    )
