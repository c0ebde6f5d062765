"""The result of one analysis run: every table and the two JSON bodies.

Built by :mod:`analysis.table_builders` (one builder per table), assembled by
:func:`analysis.analyze.analyze`, presented by :mod:`analysis.report` and
:mod:`analysis.html_report`, which depend on this type only (not on the orchestrator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Analysis:
    """Every table of one analysis run (tidy frames, no index) and the metrics.json body."""

    overall: pd.DataFrame
    pairs: pd.DataFrame
    groups: pd.DataFrame
    gaps: pd.DataFrame
    proxy: pd.DataFrame
    calibration: pd.DataFrame
    probes: pd.DataFrame
    # Across training seeds (empty without a seeded predictor): the primary comparison as a
    # procedure, every metric's spread over seeds, and each profession's gap over seeds.
    procedure: pd.DataFrame = field(default_factory=pd.DataFrame)
    seeds: pd.DataFrame = field(default_factory=pd.DataFrame)
    seed_gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    seed_proxy: pd.DataFrame = field(default_factory=pd.DataFrame)
    metrics: dict[str, Any] = field(default_factory=dict)  # results/metrics.json
    summary: dict[str, Any] = field(default_factory=dict)  # results/analysis/summary.json
    notes: list[str] = field(default_factory=list)
    task: str = "gender"  # what the predictors predict (pipeline.lib.tasks)
    # The occupation task's GAP^RMS comparisons over seeds (contract table gap_rms).
    gap_rms: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The occupation task's metrics on the probed bios, unchanged and scrubbed (table scrubbed).
    scrubbed: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Gender leakage of each representation, as is and erased (table leakage; both tasks).
    leakage: pd.DataFrame = field(default_factory=pd.DataFrame)
