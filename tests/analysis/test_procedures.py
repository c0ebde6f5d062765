"""Every comparison over training seeds (procedure.csv): which rows, their family, their words.

Planted predictions of three procedures (zero-shot, LoRA, head-only) on the same bios; the
table's numbers are checked against direct computations (Holm by statsmodels, the estimates
by averaging) and its sentences against the numbers beside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from analysis import table_builders as tables
from analysis.verdicts import fmt_level, fmt_p
from pipeline.lib import contract, paths
from pipeline.lib.params import parse_key
from tests.conftest import demo_params

SEEDS = (1, 2, 3)


def planted(accuracy: dict[str, float], n: int = 1500, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Labels and ``{run: frame}`` with each run right on about ``accuracy`` of the bios."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    predictions = {}
    for name, share in accuracy.items():
        right = rng.random(n) < share
        predictions[name] = pd.DataFrame({"pred": np.where(right, y, 1 - y)})
    return y, predictions


def procedure(accuracy: dict[str, float], **analyze) -> pd.DataFrame:
    params = parse_key(demo_params({"analyze": {"bootstrap_resamples": 500, **analyze}}), "analyze")
    y, predictions = planted(accuracy)
    primary = tables.primary_pair(predictions, params, [])
    pairs = tables.pairs_table(y, predictions, primary, params)
    return tables.procedure_table(y, predictions, pairs, params, seed=7), y, predictions


def runs(name: str, accuracies: tuple[float, ...]) -> dict[str, float]:
    return {paths.run_name(name, s): a for s, a in zip(SEEDS, accuracies, strict=True)}


# Three procedures (zero-shot, LoRA and head-only over three seeds) and their comparisons.
THREE = {
    "zero_shot": 0.80,
    **runs("lora", (0.90, 0.91, 0.89)),
    **runs("head_only", (0.84, 0.85, 0.83)),
}
THREE_ROWS = [
    ["zero_shot", "lora", "primary"],
    ["zero_shot", "head_only", "secondary"],
    ["head_only", "lora", "secondary"],
]


def test_every_trained_predictor_is_compared_with_both_sides_of_the_primary():
    table, y, predictions = procedure(THREE)
    assert table[["predictor_a", "predictor_b", "family"]].values.tolist() == THREE_ROWS

    # estimates: the mean over seeds of b's accuracy minus a's (a seeded side averaged too)
    def accuracy(name):
        found = [r for r in predictions if paths.split_run(r)[0] == name]
        return np.mean([(predictions[r]["pred"].to_numpy() == y).mean() for r in found])

    for row in table.itertuples():
        assert row.acc_a == pytest.approx(accuracy(row.predictor_a), abs=1e-12)
        assert row.acc_b_mean == pytest.approx(accuracy(row.predictor_b), abs=1e-12)
        assert row.acc_diff == pytest.approx(row.acc_b_mean - row.acc_a, abs=1e-12)
        assert row.n_seeds == 3
    primary, secondary = table.iloc[0], table.iloc[1:]
    assert primary.p_adjusted == primary.p_value  # tested alone
    # Holm within the secondary family, as statsmodels computes it
    holm = multipletests(secondary["p_value"], alpha=0.05, method="holm")[1]
    assert secondary["p_adjusted"].tolist() == pytest.approx(holm.tolist(), abs=1e-15)
    for row in table.itertuples():
        assert row.significant == (row.p_adjusted < 0.05)
        excludes_zero = row.diff_ci_low > 0 or row.diff_ci_high < 0
        assert excludes_zero == row.significant, row.verdict


def test_a_mitigated_predictor_is_compared_with_what_it_mitigates_in_its_own_family():
    # leace_head_only mitigates head_only (the catalogue's `mitigates`): one comparison, in the
    # mitigation family, not among the secondary ones
    table, y, predictions = procedure({**THREE, **runs("leace_head_only", (0.70, 0.72, 0.69))})
    assert table[["predictor_a", "predictor_b", "family"]].values.tolist() == [
        *THREE_ROWS,
        ["head_only", "leace_head_only", "mitigation"],
    ]
    row = table.iloc[-1]
    # paired by seed: the mean over seeds of each seed's difference
    diffs = [
        (predictions[paths.run_name("leace_head_only", s)]["pred"].to_numpy() == y).mean()
        - (predictions[paths.run_name("head_only", s)]["pred"].to_numpy() == y).mean()
        for s in SEEDS
    ]
    assert row.acc_diff == pytest.approx(np.mean(diffs), abs=1e-12)
    # alone in its family: Holm of one p-value is that p-value; the secondary family keeps two
    assert row.p_adjusted == row.p_value
    secondary = table[table["family"] == "secondary"]
    holm = multipletests(secondary["p_value"], alpha=0.05, method="holm")[1]
    assert secondary["p_adjusted"].tolist() == pytest.approx(holm.tolist(), abs=1e-15)
    # about 14 points less accurate on 1,500 bios: significant, and the sentence says so
    assert row.significant and row.diff_ci_high < 0
    assert row.verdict.startswith("Over 3 training seeds, head_only (frozen base + trained head)")
    assert "is more accurate than leace_head_only" in row.verdict
    assert "in the mitigation family of comparisons over seeds" in row.verdict


def test_the_sentences_follow_the_numbers_beside_them():
    table, _, _ = procedure(
        {
            "zero_shot": 0.80,
            **runs("lora", (0.90, 0.91, 0.89)),
            **runs("head_only", (0.80, 0.81, 0.79)),  # no better than zero-shot
        }
    )
    by_pair = table.set_index(["predictor_a", "predictor_b"])
    better = by_pair.loc[("head_only", "lora")]
    assert better.significant
    assert better.verdict.startswith(
        "Over 3 training seeds, lora (LoRA fine-tuned) is more accurate than head_only"
    )
    # both sides are trained per seed: both accuracies are means over seeds
    assert (
        f"(lora {100 * better.acc_b_mean:.1f}% averaged over seeds against head_only "
        f"{100 * better.acc_a:.1f}% averaged over seeds;" in better.verdict
    )
    # a secondary row quotes its Holm-adjusted p and its family, and the interval it gives
    assert f"Holm-adjusted {fmt_p(better.p_adjusted)}" in better.verdict
    assert "in the secondary family of comparisons over seeds" in better.verdict
    assert f"{fmt_level(better.ci_level)} Multi-Bootstrap CI" in better.verdict
    assert "(exact McNemar per seed, Holm in the secondary family)" in better.verdict
    same = by_pair.loc[("zero_shot", "head_only")]
    assert not same.significant and same.diff_ci_low < 0 < same.diff_ci_high
    assert same.verdict.startswith(
        "Over 3 training seeds, no significant difference in accuracy between zero_shot"
    )
    assert f"head_only minus zero_shot {100 * same.acc_diff:+.1f} percentage points" in (
        same.verdict
    )
    assert "the interval includes 0" in same.verdict
    # the one unseeded side is one model: its accuracy is not called a mean over seeds
    assert f"against zero_shot {100 * same.acc_a:.1f}%;" in same.verdict
    primary = by_pair.loc[("zero_shot", "lora")]
    assert "Holm" not in primary.verdict.split(";")[1]  # tested alone: its raw p
    assert "(exact McNemar per seed, Holm across seeds)" in primary.verdict


def test_holm_stopping_early_widens_the_secondary_intervals_to_its_level():
    # Holm over the two secondary rows: with neither rejected it stops at alpha / 2, so both
    # intervals are at 97.5%; with both rejected, at alpha, so both are at 95%.
    table, _, _ = procedure(
        {
            "zero_shot": 0.80,
            **runs("lora", (0.82, 0.81, 0.80)),
            **runs("head_only", (0.80, 0.81, 0.80)),
        }
    )
    secondary = table[table["family"] == "secondary"]
    assert not secondary["significant"].any()
    assert secondary["ci_level"].tolist() == pytest.approx([0.975, 0.975])
    table, _, _ = procedure(
        {
            "zero_shot": 0.70,
            **runs("lora", (0.71, 0.70, 0.72)),
            **runs("head_only", (0.90, 0.91, 0.92)),
        }
    )
    secondary = table[table["family"] == "secondary"]
    assert secondary["significant"].all()
    assert secondary["ci_level"].tolist() == pytest.approx([0.95, 0.95])


def test_no_trained_predictor_no_rows_and_unseeded_primary_keeps_the_others():
    table, _, _ = procedure(
        {"zero_shot": 0.8, "tfidf_logreg": 0.9}, primary=["zero_shot", "tfidf_logreg"]
    )
    assert table.empty and list(table.columns) == list(contract.TABLES["procedure"].columns)
    # the primary names two untrained predictors: no primary row, head-only against both
    table, _, _ = procedure(
        {"zero_shot": 0.8, "tfidf_logreg": 0.9, **runs("head_only", (0.85, 0.86, 0.84))},
        primary=["zero_shot", "tfidf_logreg"],
    )
    assert table[["predictor_a", "predictor_b", "family"]].values.tolist() == [
        ["zero_shot", "head_only", "secondary"],
        ["head_only", "tfidf_logreg", "secondary"],
    ]
