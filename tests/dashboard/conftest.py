"""A study folder with the REAL outputs of the demo pipeline, for the dashboard tests.

It is a copy of the demo study right after the session's ``dvc repro`` of the (shrunk) demo
(``demo_pipeline`` in tests/conftest.py): real splits, real predictions of every predictor, the
real analysis files. Nothing here is made up for the dashboard. ``occupation_study``: the same
for the occupation demo (``occupation_pipeline``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def results_study(tmp_path_factory, demo_pipeline) -> Path:
    """A read-only copy of the demo study with every result of a real pipeline run."""
    study = tmp_path_factory.mktemp("results") / "study"
    shutil.copytree(demo_pipeline["snapshot"], study, symlinks=True)
    return study


@pytest.fixture
def results_copy(tmp_path, results_study) -> Path:
    """A private, writable copy of :func:`results_study`."""
    return Path(shutil.copytree(results_study, tmp_path / "study", symlinks=True))


@pytest.fixture(scope="session")
def occupation_study(tmp_path_factory, occupation_pipeline) -> Path:
    """A read-only copy of the occupation demo study (``demo/occupation``) after a real run."""
    study = tmp_path_factory.mktemp("occupation") / "study"
    shutil.copytree(occupation_pipeline["snapshot"], study, symlinks=True)
    return study
