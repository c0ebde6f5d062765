"""Paired significance tests and fairness breakdowns of gender predictions on Bias in Bios.

The public API: keyword-only arguments, array-likes or pandas in, pandas out indexed by group.
"Positive" is female (gender id 1). The ``analyze`` stage (``python -m analysis.analyze``) runs
all of it over every predictions file of a study. The occupation task (the label is the
profession, gender the protected attribute) has its overall metrics and GAP^RMS in
:mod:`analysis.occupation_metrics`.

Example::

    from analysis import tpr_gap_by_profession
    gaps = tpr_gap_by_profession(y_true=test.gender_id, y_pred=pred, profession=test.profession)
"""

# isort: off
import pipeline  # noqa: F401  first: pins the CPU kernels before numpy loads (pipeline/_kernels.py)

# isort: on
from analysis.fairness import group_error_rates, proxy_bias, tpr_gap_by_profession
from analysis.metrics import (
    expected_calibration_error,
    overall_metrics,
    overall_metrics_many,
    reliability_curve,
    wilson_interval,
)
from analysis.occupation_metrics import gap_rms, occupation_overall
from analysis.probes import probe_effects
from analysis.significance import (
    adjust_pvalues,
    compare_predictors,
    mcnemar_test,
    paired_difference_interval,
)

__all__ = [
    "adjust_pvalues",
    "compare_predictors",
    "expected_calibration_error",
    "gap_rms",
    "group_error_rates",
    "mcnemar_test",
    "occupation_overall",
    "overall_metrics",
    "overall_metrics_many",
    "paired_difference_interval",
    "probe_effects",
    "proxy_bias",
    "reliability_curve",
    "tpr_gap_by_profession",
    "wilson_interval",
]
