"""Every figure of analysis.plots renders on planted extreme results without an error.

The tables come from the analyze stage's own core on a planted study with every edge a small
study meets: rates of exactly 0 and 1 (a predictor always right, one always wrong, a probe flip
rate of 100%), cells of one bio, a profession with one gender and a profession with none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer

from analysis import plots
from analysis.analyze import analyze
from pipeline.lib import paths
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.params import parse_key
from pipeline.lib.prediction_files import predictions_frame
from tests.analysis.test_analyze import planted_bios
from tests.conftest import demo_params

SEEDS = (5, 6)


def frame(ids: pd.Series, pred: np.ndarray, name: str) -> pd.DataFrame:
    prob = np.where(pred == 1, 0.97, 0.03)
    return predictions_frame(ids, prob, predictor=name, model=f"planted {name}", params_hash="x")


@pytest.fixture(scope="module")
def extreme():
    """30 + 30 accountants, 1 + 1 djs, 7 nurses (women only); lora seeds always right,
    zero_shot always wrong; every swapped probe flips every predictor's answer."""
    rows = [("accountant", g) for g in (0, 1) for _ in range(30)]
    rows += [("dj", 0), ("dj", 1)] + [("nurse", 1)] * 7
    test = planted_bios(rows)
    y = test["gender_id"].to_numpy()
    predictions = {"zero_shot": frame(test["id"], 1 - y, "zero_shot")}
    for seed in SEEDS:
        name = paths.run_name("lora", seed)
        predictions[name] = frame(test["id"], y, name)
    probes = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": test["id"] + f"-{variant}",
                    "source_id": test["id"],
                    "variant": variant,
                    "expected_gender_id": 1 - y if variant == "swapped" else y,
                }
            )
            for variant in ("swapped", "removed")
        ],
        ignore_index=True,
    )
    original = np.concatenate([y, y])
    probe_predictions = {
        # the answer on every probe is the opposite of the answer on the original bio
        name: frame(probes["id"], 1 - np.concatenate([pred["pred"]] * 2), name)
        for name, pred in predictions.items()
    }
    shares = pd.Series({PROFESSIONS.index(p): s for p, s in (("accountant", 0.4), ("dj", 0.1))})
    shares[PROFESSIONS.index("nurse")] = 0.9
    params = parse_key(
        demo_params({"analyze": {"bootstrap_resamples": 50, "min_group_size": 5}}), "analyze"
    )
    result = analyze(
        test,
        predictions,
        shares,
        params,
        seed=0,
        probes=probes,
        probe_predictions=probe_predictions,
        data={"source": "planted"},
    )
    assert original.shape == (len(probes),)
    return result


def render(fig, path: Path) -> None:
    fig.savefig(path, format="png", dpi=40)
    assert path.stat().st_size > 0


def test_the_planted_tables_hold_the_extremes(extreme):
    probes = extreme.probes[extreme.probes["profession"] == "all"].set_index(
        ["predictor", "variant"]
    )
    assert set(probes.xs("swapped", level="variant")["flip_rate"]) == {1.0}
    groups = extreme.groups
    assert set(groups["error_rate"]) == {0.0, 1.0} and groups["n"].min() == 1
    for table, stems in (
        (extreme.groups, ["error"]),
        (extreme.probes, ["flip", "accuracy"]),
        (extreme.overall, [""]),
    ):
        for stem in stems:
            low, high = (f"{stem}_ci_low", f"{stem}_ci_high") if stem else ("ci_low", "ci_high")
            value = {"error": "error_rate", "flip": "flip_rate"}.get(stem, stem or "value")
            part = table.dropna(subset=[low, high])
            assert (part[low] >= 0).all() and (part[high] <= 1).all()
            assert (part[low] <= part[value]).all() and (part[value] <= part[high]).all()


def test_every_plot_renders_on_extreme_inputs(extreme, tmp_path):
    result = extreme
    names = list(dict.fromkeys(result.overall["predictor"]))
    lora = paths.run_name("lora", SEEDS[0])
    ece = result.overall[result.overall["metric"] == "ece"].set_index("predictor")["value"]
    figures = {
        "reliability": plots.reliability(result.calibration, names, ece.to_dict()),
        "probe_rates": plots.probe_rates(result.probes, names, "95%"),
        "seed_accuracy": plots.seed_accuracy(
            result.overall, result.procedure.iloc[0] if len(result.procedure) else None, "95%"
        ),
        "seed_gap_heatmap": plots.seed_gap_heatmap(result.gaps, result.seed_gaps, "lora"),
        "training_curves": plots.training_curves(
            {
                lora: pd.DataFrame(
                    {
                        "step": [1, 2],
                        "train_loss": [0.0, 0.0],
                        "dev_accuracy": [1.0, 1.0],
                        "dev_loss": [0.0, 0.0],
                    }
                )
            },
            {lora: 2},
        ),
    }
    for name in ("zero_shot", lora):
        figures[f"error_rates {name}"] = plots.error_rates(result.groups, result.gaps, name, "95%")
        figures[f"gaps {name}"] = plots.gaps_by_profession(result.gaps, name, "95%")
        figures[f"gap_vs_share {name}"] = plots.gap_vs_share(result.gaps, result.proxy, name)
    for i, fig in enumerate(figures.values()):
        render(fig, tmp_path / f"{i}.png")


def test_error_lengths_are_never_negative():
    mid = np.array([100.0, 0.0, 50.0, np.nan])
    low = np.array([88.6, 1e-14, 40.0, np.nan])
    high = np.array([100.0 - 1.4e-14, 11.4, 60.0, np.nan])
    lengths = plots._error_lengths(mid, low, high)
    np.testing.assert_allclose(lengths[:, :3], [[11.4, 0.0, 10.0], [0.0, 11.4, 10.0]])
    assert np.isnan(lengths[:, 3]).all()


def drawn(fig):
    """Draw ``fig`` on an Agg canvas and return its renderer, for measuring what was drawn."""
    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def crowded_gaps(predictor: str, seeds=()) -> pd.DataFrame:
    """Every profession, all but the last three crowded near share 15-20% and gap 0 (as in a small
    study); every third one small."""
    rng = np.random.default_rng(0)
    n = len(PROFESSIONS)
    names = [predictor] if not seeds else [paths.run_name(predictor, s) for s in seeds]
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "predictor": name,
                    "profession": list(PROFESSIONS),
                    "share_women": np.r_[rng.uniform(0.15, 0.2, n - 3), 0.5, 0.8, 0.9],
                    "gap": np.r_[rng.uniform(-0.02, 0.02, n - 3), -1.0, 0.3, 0.5],
                    "small": np.arange(n) % 3 == 0,
                }
            )
            for name in names
        ],
        ignore_index=True,
    )


def test_gap_vs_share_labels_do_not_overlap():
    gaps = crowded_gaps("lora")
    proxy = pd.DataFrame(
        {
            "predictor": ["lora"],
            "slope": [0.1],
            "intercept": [0.0],
            "pearson_r": [0.1],
            "direction": ["no evidence"],
        }
    )
    fig = plots.gap_vs_share(gaps, proxy, "lora")
    renderer = drawn(fig)
    ax = fig.axes[0]
    labels = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    # the most extreme gaps are labelled; the crowd is labelled only where there is room
    assert set(PROFESSIONS[-3:]) <= set(labels) and len(labels) < len(PROFESSIONS)
    boxes = list(labels.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    assert "left unlabelled" in ax.get_xlabel()


def test_probe_rates_legend_covers_no_bar():
    predictors = ["zero_shot", "random_head", "lora@seed1", "pronoun_rule", "tfidf_logreg"]
    probes = pd.DataFrame(
        [
            {
                "predictor": p,
                "profession": "all",
                "variant": variant,
                "flip_rate": 0.99,
                "flip_ci_low": 0.97,
                "flip_ci_high": 1.0,
                "accuracy": 0.99,
                "accuracy_ci_low": 0.97,
                "accuracy_ci_high": 1.0,
            }
            for p in predictors
            for variant in ("removed", "swapped")
        ]
    )
    fig = plots.probe_rates(probes, predictors, "95%")
    renderer = drawn(fig)
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends
    bars = [
        bar
        for ax in fig.axes
        for container in ax.containers
        if isinstance(container, BarContainer)
        for bar in container.patches
    ]
    assert bars
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert not any(box.overlaps(bar.get_window_extent(renderer)) for bar in bars)


def test_seed_gap_heatmap_is_readable_and_marks_small_cells():
    gaps = crowded_gaps("lora", seeds=(1234, 1235, 1236))
    seed_gaps = pd.DataFrame({"profession": list(PROFESSIONS), "stable": False})
    fig = plots.seed_gap_heatmap(gaps, seed_gaps, "lora")
    renderer = drawn(fig)
    assert fig.get_size_inches()[1] <= 9
    ax, colorbar = fig.axes
    assert "points" in colorbar.get_ylabel()
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1234", "1235", "1236"]
    assert not any(a.overlaps(b) for i, a in enumerate(ticks) for b in ticks[i + 1 :])
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 3 * int((np.arange(len(PROFESSIONS)) % 3 == 0).sum())
    assert any("small" in t.get_text() for legend in fig.legends for t in legend.get_texts())


def test_the_trade_off_figure_names_each_heads_leakage():
    # head_only reads the base representation as is, leace_head_only erased (the catalogue's
    # `mitigates`); the figure's legend gives each run the probe's accuracy on what it reads.
    leakage = pd.DataFrame(
        {
            "representation": [paths.BASE_REPRESENTATION] * 2,
            "version": ["as is", "erased"],
            "accuracy": [0.908, 0.535],
        }
    )
    found = plots.leakage_by_predictor(leakage, "occupation")
    assert found == {"head_only": 0.908, "leace_head_only": 0.535}
    assert plots.leakage_by_predictor(leakage.iloc[:1], "occupation") == {}
    runs = ["zero_shot", "head_only@seed1", "leace_head_only@seed1"]
    overall = pd.DataFrame(
        [
            {"predictor": p, "metric": m, "value": v, "ci_low": v - 0.02, "ci_high": v + 0.02}
            for p, (a, g) in zip(runs, [(0.05, 0.0), (0.29, 0.01), (0.30, 0.02)], strict=True)
            for m, v in (("accuracy", a), ("gap_rms", g))
        ]
    )
    fig = plots.accuracy_vs_gap_rms(overall, runs, "95%", found)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [
        "zero_shot",
        "head_only@seed1 (gender probe 91%)",
        "leace_head_only@seed1 (gender probe 54%)",
    ]
