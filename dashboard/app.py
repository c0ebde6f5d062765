"""The suite's Streamlit dashboard: explore a study's results.

Every page but one only reads what the pipeline wrote; "Try a bio" loads the study's predictors
(cached) to score a text you type, through the same code as ``python -m pipeline.commands.score``.

Run from the repo root::

    make dashboard                                   # PORT=8501 by default
    streamlit run dashboard/app.py -- --study demo   # choose the study directory

Without ``--study`` it shows ``$BIOS_STUDY``, else the real study when its analysis exists,
else ``demo/`` (see ``dashboard/data.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ (not the repo root) on sys.path.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import data, ui  # noqa: E402

PAGES = Path(__file__).parent / "pages"


def main() -> None:
    """Register the pages, show which study is open, run the selected page."""
    st.set_page_config(
        page_title="Bias in Bios × LoRA", page_icon=":material/analytics:", layout="wide"
    )
    pages = [
        # The first page is the default one, served at "/".
        st.Page(PAGES / f"{name}.py", title=title, icon=icon, url_path=name)
        if i
        else st.Page(PAGES / f"{name}.py", title=title, icon=icon, default=True)
        for i, (name, title, icon, _) in enumerate(ui.PAGES)
    ]
    page = st.navigation(pages)
    study = ui.study()
    with st.sidebar:
        st.caption("Study directory")
        st.text(str(study))
        task = data.task(study)  # the study's params.yaml `task` (pipeline.lib.tasks)
        st.caption("Task")
        st.text(f"{task.name}: {task.question}")
    ui.synthetic_banner(study)  # on every page: nothing here is about real bios
    page.run()


main()
