"""The suite's Streamlit dashboard: explore a study's results (it only reads files).

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
    st.set_page_config(page_title="Bias in Bios × LoRA", page_icon="📊", layout="wide")
    pages = [
        st.Page(PAGES / "overview.py", title="Overview", icon="🏠", default=True),
        st.Page(PAGES / "professions.py", title="Professions", icon="👩‍⚕️", url_path="professions"),
        st.Page(PAGES / "significance.py", title="Significance", icon="⚖️", url_path="significance"),
        st.Page(PAGES / "calibration.py", title="Calibration", icon="📈", url_path="calibration"),
        st.Page(PAGES / "probes.py", title="Probes", icon="🔁", url_path="probes"),
        st.Page(PAGES / "examples.py", title="Examples", icon="📄", url_path="examples"),
        st.Page(PAGES / "experiments.py", title="Experiments", icon="🧪", url_path="experiments"),
    ]
    page = st.navigation(pages)
    study = ui.study()
    with st.sidebar:
        st.caption("Study directory")
        st.code(str(study), language=None)
        profile = data.profile(study)
        if profile.ok and profile.value.get("synthetic"):
            st.caption("Data: synthetic sample")
    page.run()


main()
