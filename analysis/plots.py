"""The suite's figures, made once from the analysis tables for the dashboard and the HTML report.

Every function takes tidy frames as the analyze stage writes them and returns a matplotlib
``Figure`` built without pyplot (no global state, safe in a server). Intervals are drawn at the
level the tables were computed at (pass its label, e.g. ``"95%"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox

from pipeline.lib import catalogue
from pipeline.lib.contract import ALL_PROFESSIONS
from pipeline.lib.labels import GENDERS
from pipeline.lib.paths import BASE_REPRESENTATION

PALETTE = dict(zip(GENDERS, ("#1d4ed8", "#c2410c"), strict=True))  # male blue, female orange
ACCENT = "#7c3aed"


def _error_lengths(mid: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Error-bar lengths ``[mid - low, high - mid]`` for ``xerr`` / ``yerr``, never negative.

    Every error bar goes through here: matplotlib refuses a negative length, and rounding can put
    a bound a hair past its point (a rate of exactly 0 or 1). NaN (no interval) stays NaN.
    """
    mid, low, high = (np.asarray(a, dtype=np.float64) for a in (mid, low, high))
    return np.clip(np.vstack([mid - low, high - mid]), 0, None)


def _order_by_share(gaps: pd.DataFrame, predictor: str) -> list[str]:
    part = gaps[gaps["predictor"] == predictor].sort_values("share_women")
    return part["profession"].tolist()


def error_rates(groups: pd.DataFrame, gaps: pd.DataFrame, predictor: str, level: str) -> Figure:
    """Error rate per profession and gender with intervals; small groups hollow."""
    g = groups[groups["predictor"] == predictor]
    order = _order_by_share(gaps, predictor)
    order += sorted(set(g["profession"]) - set(order))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(9, max(4.0, 0.3 * len(order))), layout="constrained")
        ax = fig.subplots()
        y = {name: i for i, name in enumerate(order)}
        for offset, gender in zip((-0.18, 0.18), reversed(GENDERS), strict=True):
            part = g[g["gender"] == gender]
            pos = np.array([y[p] for p in part["profession"]]) + offset
            rate = part["error_rate"].to_numpy() * 100
            err = _error_lengths(
                rate, part["error_ci_low"].to_numpy() * 100, part["error_ci_high"].to_numpy() * 100
            )
            small = part["small"].to_numpy(bool)
            ax.errorbar(rate, pos, xerr=err, fmt="none", ecolor=PALETTE[gender], alpha=0.6)
            _points(ax, rate, pos, small, PALETTE[gender], gender)
        ax.set_yticks(range(len(order)), order)
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_xlabel(f"error rate (%, {level} CI)")
        ax.set_ylabel("profession (sorted by share of women in train)")
        ax.set_title(f"{predictor}: error rate by profession and gender")
        ax.legend(loc="lower right", fontsize="small")
    return fig


def _points(ax, x: np.ndarray, y: np.ndarray, small: np.ndarray, color: str, label: str) -> None:
    """Filled points, and hollow ones for small groups (labelled so in the legend)."""
    ax.scatter(x[~small], y[~small], color=color, label=label, zorder=3)
    ax.scatter(
        x[small],
        y[small],
        facecolors="white",
        edgecolors=color,
        label=f"{label} (small group)",
        zorder=3,
    )


def gaps_by_profession(gaps: pd.DataFrame, predictor: str, level: str) -> Figure:
    """TPR gap (women - men) per profession with its interval; small groups hollow."""
    valid = gaps[gaps["predictor"] == predictor].sort_values("share_women").dropna(subset=["gap"])
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(9, max(4.0, 0.3 * len(valid))), layout="constrained")
        ax = fig.subplots()
        pos = np.arange(len(valid))
        gap = valid["gap"].to_numpy() * 100
        err = _error_lengths(
            gap, valid["gap_ci_low"].to_numpy() * 100, valid["gap_ci_high"].to_numpy() * 100
        )
        small = valid["small"].to_numpy(bool)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.errorbar(gap, pos, xerr=err, fmt="none", ecolor="grey")
        _points(ax, gap, pos, small, ACCENT, "gap")
        ax.set_yticks(pos, valid["profession"])
        ax.set_ylim(len(valid) - 0.5, -0.5)
        ax.set_xlabel(f"TPR(women) − TPR(men) (percentage points, {level} CI)")
        ax.set_ylabel("profession (sorted by share of women in train)")
        ax.set_title(f"{predictor}: TPR gap by profession")
        ax.legend(loc="lower right", fontsize="small")
    return fig


def gap_vs_share(
    gaps: pd.DataFrame, proxy: pd.DataFrame, predictor: str, band: float | None = None
) -> Figure:
    """Each profession's gap against its share of women, with the fitted line and its reading.

    ``band``: a confidence level (0.95) to shade the fitted line's confidence band, from the
    professions the fit used (at least ``analyze.min_group_size`` bios of each gender): the
    De-Arteaga et al. (2019) figure.
    """
    valid = gaps[gaps["predictor"] == predictor].dropna(subset=["gap", "share_women"])
    fit = proxy.set_index("predictor").loc[predictor]
    share, gap = valid["share_women"].to_numpy() * 100, valid["gap"].to_numpy() * 100
    small = valid["small"].to_numpy(bool)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        ax.scatter(share[~small], gap[~small], color=ACCENT, label="profession")
        ax.scatter(share[small], gap[small], facecolors="white", edgecolors=ACCENT, label="small")
        if math.isfinite(fit["slope"]):
            xs = np.linspace(0, 1, 50)
            # slope/intercept are fitted on fractions (gap vs share): plot them in percent.
            ax.plot(
                xs * 100,
                (fit["intercept"] + fit["slope"] * xs) * 100,
                color="black",
                label="fitted line",
            )
            fitted = valid[~small]
            if band is not None and len(fitted) > 2:
                low, high = _line_band(
                    fitted["share_women"].to_numpy(), fitted["gap"].to_numpy(), xs, band
                )
                ax.fill_between(
                    xs * 100,
                    low * 100,
                    high * 100,
                    color="black",
                    alpha=0.12,
                    label=f"{100 * band:.4g}% band of the line",
                )
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_xlabel("share of women in the profession (train split, %)")
        ax.set_ylabel("TPR gap, women − men (percentage points)")
        r = f"{fit['pearson_r']:.2f}" if math.isfinite(fit["pearson_r"]) else "n/a"
        ax.set_title(f"{predictor}: gap vs share of women (Pearson r = {r}; {fit['direction']})")
        ax.legend(fontsize="small")
        unlabelled = _label_without_overlap(ax, share, gap, valid["profession"].tolist())
        if unlabelled:
            ax.set_xlabel(f"{ax.get_xlabel()}; {unlabelled} crowded point(s) left unlabelled")
    return fig


def _line_band(
    x: np.ndarray, y: np.ndarray, at: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares line's confidence band at ``at`` (Student t, n - 2 degrees of freedom)."""
    from scipy.stats import t as student_t

    n = len(x)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    s = np.sqrt((residual @ residual) / (n - 2))
    sxx = ((x - x.mean()) ** 2).sum()
    half = (
        student_t.ppf(0.5 + confidence / 2, n - 2) * s * np.sqrt(1 / n + (at - x.mean()) ** 2 / sxx)
    )
    line = intercept + slope * at
    return line - half, line + half


def leakage_by_predictor(leakage: pd.DataFrame | None, task: str) -> dict[str, float]:
    """The gender leakage of the representation each predictor's head reads (leakage.csv).

    Each `erased` predictor of the catalogue reads the base representation erased; the one it
    mitigates reads it as it is. Other predictors: none (their representation is not probed).
    """
    if leakage is None or leakage.empty:
        return {}
    base = leakage[leakage["representation"] == BASE_REPRESENTATION].set_index("version")
    if not {"as is", "erased"} <= set(base.index):
        return {}
    found = {}
    for spec in catalogue.predictors(task):
        if spec.section == "erased" and spec.mitigates:
            found[spec.name] = float(base.loc["erased", "accuracy"])
            found[spec.mitigates] = float(base.loc["as is", "accuracy"])
    return found


def accuracy_vs_gap_rms(
    overall: pd.DataFrame,
    predictors: Sequence[str],
    level: str,
    leakage: Mapping[str, float] | None = None,
) -> Figure:
    """Each predictor's accuracy against its GAP^RMS, both with intervals: the trade-off view.

    ``leakage`` (:func:`leakage_by_predictor`): a linear gender probe's accuracy on the
    representation a predictor's head reads, given in its legend entry where known.
    """
    table = overall.set_index(["predictor", "metric"])
    leakage = leakage or {}
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(10 if leakage else 8, 4.5), layout="constrained")
        ax = fig.subplots()
        for i, name in enumerate(predictors):
            acc = table.loc[(name, "accuracy")]
            gap = table.loc[(name, "gap_rms")]
            ax.errorbar(
                [acc["value"] * 100],
                [gap["value"] * 100],
                xerr=_error_lengths([acc["value"]], [acc["ci_low"]], [acc["ci_high"]]) * 100,
                yerr=_error_lengths([gap["value"]], [gap["ci_low"]], [gap["ci_high"]]) * 100,
                fmt="o",
                capsize=3,
                color=f"C{i % 10}",
                label=_with_leakage(name, leakage),
            )
        ax.set_xlabel(f"occupation accuracy (%, {level} interval)")
        ax.set_ylabel(f"GAP^RMS (TPR points, {level} interval)")
        ax.set_title("Accuracy against the gender gaps: right is more accurate, lower is fairer")
        # outside the axes: inside, it covered points
        fig.legend(
            *ax.get_legend_handles_labels(),
            fontsize="small",
            title="(gender probe on what the head reads)" if leakage else None,
            title_fontsize="small",
            loc="outside right upper",
        )
    return fig


def _with_leakage(name: str, leakage: Mapping[str, float]) -> str:
    """A legend entry: the predictor (or run), with its representation's leakage if known."""
    value = leakage.get(catalogue.split_run(name)[0])
    return name if value is None else f"{name} (gender probe {100 * value:.0f}%)"


# Offsets (points) tried around a point, nearest first: right, above, left, below, diagonals.
_LABEL_OFFSETS = [
    (dx * r, dy * r)
    for r in (3, 9)
    for dx, dy in ((1, 0.3), (0, 1), (-1, 0.3), (0, -1.3), (1, 1), (-1, 1), (1, -1), (-1, -1))
]


def _label_without_overlap(ax, x: np.ndarray, y: np.ndarray, names: Sequence[str]) -> int:
    """Label points, largest ``|y|`` first, where a label overlaps no label, point or legend.

    A deterministic greedy placement (no dependency): each label takes the first offset in
    ``_LABEL_OFFSETS`` whose box stays inside the axes and clear of what is already placed; a
    label with no free place is left out, so crowded near-zero professions go unlabelled rather
    than unreadable. The figure's layout is computed first and then frozen, so the boxes measured
    here are the ones drawn (every size scales with the dpi alike, so it holds at any dpi).
    Returns how many points were left unlabelled.
    """
    fig = ax.get_figure()
    canvas = FigureCanvasAgg(fig)  # measures text as a PNG would draw it
    canvas.draw()
    fig.set_layout_engine("none")
    renderer = canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([x, y]))
    marker = 4 * fig.dpi / 72  # half a marker's width, in pixels
    taken = [
        Bbox.from_extents(px - marker, py - marker, px + marker, py + marker) for px, py in points
    ]
    legend = ax.get_legend()
    if legend is not None:
        taken.append(legend.get_window_extent(renderer))
    unlabelled = 0

    def fits(box: Bbox, own: Bbox) -> bool:
        clear = not any(box.overlaps(other) for other in taken if other is not own)
        return clear and inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)

    for i in np.argsort(-np.abs(y), kind="stable"):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            continue
        unlabelled += 1
        for dx, dy in _LABEL_OFFSETS:
            # a leader line ties a label pushed away from its point back to it
            arrow = None if abs(dx) + abs(dy) < 8 else {"arrowstyle": "-", "lw": 0.4}
            label = {
                "text": names[i],
                "xy": (x[i], y[i]),
                "xytext": (dx, dy),
                "textcoords": "offset points",
                "ha": "left" if dx > 0 else "right" if dx < 0 else "center",
                "va": "bottom" if dy > 0 else "top",
                "fontsize": 6,
                "alpha": 0.8,
            }
            # The text's box first: a label's box with its leader line holds the text's box, so
            # a text that does not fit rules the place out without measuring the line (clipping
            # a line to the text is most of the cost).
            text = ax.annotate(**label)
            if arrow is not None and fits(text.get_window_extent(renderer), taken[i]):
                text.remove()
                text = ax.annotate(**label, arrowprops=arrow)
            box = text.get_window_extent(renderer)
            if fits(box, taken[i]):
                taken.append(box)
                unlabelled -= 1
                break
            text.remove()
    return unlabelled


def reliability(
    calibration: pd.DataFrame, predictors: Sequence[str], ece: Mapping[str, float]
) -> Figure:
    """One reliability diagram per predictor, the diagonal of perfect calibration and its ECE."""
    cols = min(3, max(1, len(predictors)))
    rows = math.ceil(len(predictors) / cols)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(4.2 * cols, 4.2 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, predictor in zip(axes.flat, predictors, strict=False):
            part = calibration[calibration["predictor"] == predictor].sort_values("bin")
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
            sizes = 20 + 200 * part["count"] / max(1, part["count"].max())
            ax.plot(part["mean_predicted"], part["fraction_female"], color=ACCENT)
            ax.scatter(
                part["mean_predicted"], part["fraction_female"], s=sizes, color=ACCENT, zorder=3
            )
            title = predictor
            value = ece.get(predictor)
            if value is not None and math.isfinite(value):
                title += f" (ECE {value:.3f})"
            ax.set_title(title)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("mean predicted P(female)")
            ax.set_ylabel("observed fraction female")
            ax.legend(loc="upper left", fontsize="small")
        for ax in list(axes.flat)[len(predictors) :]:
            ax.set_visible(False)
        fig.suptitle("Reliability diagrams (test split)")
    return fig


def probe_rates(probes: pd.DataFrame, predictors: Sequence[str], level: str) -> Figure:
    """Flip rate and accuracy on the probes (all professions), per predictor and variant."""
    overall = probes[probes["profession"] == ALL_PROFESSIONS]
    variants = sorted(overall["variant"].unique())
    width = 0.8 / max(1, len(variants))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(10, 3.8), layout="constrained")
        left, right = fig.subplots(1, 2)
        for ax, stem, value, title in (
            (left, "flip", "flip_rate", "Flip rate (higher = follows gendered words)"),
            (right, "accuracy", "accuracy", "Accuracy on probes"),
        ):
            for i, variant in enumerate(variants):
                part = overall[overall["variant"] == variant].set_index("predictor")
                part = part.reindex([p for p in predictors if p in part.index])
                x = [
                    predictors.index(p) + (i - (len(variants) - 1) / 2) * width for p in part.index
                ]
                mid = part[value].to_numpy() * 100
                err = _error_lengths(
                    mid,
                    part[f"{stem}_ci_low"].to_numpy() * 100,
                    part[f"{stem}_ci_high"].to_numpy() * 100,
                )
                ax.bar(x, mid, width=width, label=variant, yerr=err, capsize=3)
            ax.set_xticks(
                range(len(predictors)),
                predictors,
                rotation=30,
                ha="right",
                rotation_mode="anchor",
            )
            ax.set_title(title)
            ax.set_xlabel("predictor")
            ax.set_ylabel(f"{value.replace('_', ' ')} (%, {level} CI)")
            ax.set_ylim(0, 100)
        # One legend for both panels, outside them: inside, it covered the bars.
        fig.legend(
            *left.get_legend_handles_labels(),
            title="variant",
            fontsize="small",
            loc="outside right upper",
        )
    return fig


def training_curves(histories: Mapping[str, pd.DataFrame], best_steps: Mapping[str, int]) -> Figure:
    """Train loss, dev accuracy and dev loss against the step, one line per run.

    The step that model selection kept is circled.
    """
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(12, 3.6), layout="constrained")
        axes = fig.subplots(1, 3)
        for name, history in histories.items():
            for ax, column in zip(axes, ("train_loss", "dev_accuracy", "dev_loss"), strict=True):
                line = ax.plot(history["step"], history[column], marker="o", label=name)[0]
                best = best_steps.get(name)
                if best is not None and best in set(history["step"]):
                    at = history.loc[history["step"] == best, column].iloc[0]
                    ax.scatter([best], [at], s=140, facecolors="none", edgecolors=line.get_color())
        for ax, title in zip(axes, ("train loss", "dev accuracy", "dev loss"), strict=True):
            ax.set_title(f"{title} (circled: the selected step)")
            ax.set_xlabel("optimizer step")
            ax.legend(fontsize="small")
    return fig


def seed_accuracy(overall: pd.DataFrame, procedure: pd.Series | None, level: str) -> Figure:
    """Each training seed's accuracy with its interval, and the procedure's mean difference."""
    runs = overall[(overall["metric"] == "accuracy") & overall["predictor"].str.contains("@seed")]
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(10, 0.5 * len(runs) + 1.6), layout="constrained")
        ax = fig.subplots()
        y = np.arange(len(runs))
        ax.errorbar(
            runs["value"],
            y,
            xerr=_error_lengths(runs["value"], runs["ci_low"], runs["ci_high"]),
            fmt="o",
            capsize=3,
        )
        ax.set_yticks(y, runs["predictor"])
        ax.set_xlabel(f"test accuracy ({level} interval)")
        if procedure is not None:
            ax.axvline(procedure["acc_a"], color="grey", linestyle="--", label="zero-shot")
            ax.axvline(procedure["acc_b_mean"], color="C1", label="mean over seeds")
            ax.legend(fontsize="small")
    return fig


def seed_gap_heatmap(gaps: pd.DataFrame, seed_gaps: pd.DataFrame, procedure: str) -> Figure:
    """Profession x seed TPR gaps (points) of one seeded predictor; stable professions marked ``*``.

    A cell whose group is small (too few bios of a gender, the tables' ``small`` flag) is hatched
    grey with its value in grey: its gap is noise, not a finding. Columns are labelled by the seed
    alone (the procedure is in the axis label), so they stay readable however many seeds there are.
    """
    runs = gaps[gaps["predictor"].str.startswith(f"{procedure}@seed")]
    grid = runs.pivot_table(index="profession", columns="predictor", values="gap") * 100
    small = (
        runs.pivot_table(index="profession", columns="predictor", values="small", aggfunc="max")
        .reindex(index=grid.index, columns=grid.columns)
        .fillna(False)
        .astype(bool)
    )
    stable = set(seed_gaps.loc[seed_gaps["stable"].astype(bool), "profession"])
    rows = [f"{p} *" if p in stable else p for p in grid.index]
    seeds = [str(c).split("@seed", 1)[1] for c in grid.columns]
    height = min(8.0, 0.22 * len(grid) + 2.2)  # 24 professions: 7.5 in; capped for the full 28
    with sns.axes_style("white"):
        fig = Figure(figsize=(2.6 + 0.9 * grid.shape[1], height), layout="constrained")
        ax = fig.subplots()
        # Limits symmetric about 0 centre the diverging map at 0 (seaborn's center= would call
        # matplotlib's deprecated Colormap.set_bad, an error under the tests' warning filter).
        sns.heatmap(
            grid,
            mask=small.to_numpy(),
            ax=ax,
            cmap="RdBu",
            vmin=-100,
            vmax=100,
            annot=True,
            fmt=".0f",
            annot_kws={"fontsize": "small"},
            cbar_kws={"label": "TPR gap, women − men (percentage points)", "shrink": 0.8},
        )
        for i, j in zip(*np.nonzero(small.to_numpy()), strict=True):
            ax.add_patch(
                Rectangle((j, i), 1, 1, facecolor="#eeeeee", edgecolor="#cbd5e1", hatch="///")
            )
            value = grid.iat[i, j]
            if math.isfinite(value):
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="#374151",
                )
        ax.set_xticks(np.arange(len(seeds)) + 0.5, seeds, rotation=0)
        ax.set_yticks(np.arange(len(rows)) + 0.5, rows, fontsize="small")
        ax.set_xlabel(f"training seed ({procedure}@seed…)")
        ax.set_ylabel("profession (*: stable gap over seeds)")
        ax.set_title(f"{procedure}: TPR gap by profession and seed", fontsize="medium")
        fig.legend(
            handles=[
                Patch(
                    facecolor="#eeeeee",
                    edgecolor="#cbd5e1",
                    hatch="///",
                    label="small group (too few bios): not a reliable gap",
                ),
            ],
            loc="outside lower center",
            fontsize="small",
            frameon=False,
        )
    return fig


def leakage_rates(leakage: pd.DataFrame, level: str) -> Figure:
    """The gender probe's accuracy per representation, as is and erased, with the majority rate.

    One pair of bars per representation (leakage.csv), Wilson intervals, and a dashed line at
    that representation's majority rate: a bar whose interval holds the line leaks nothing a
    linear probe finds.
    """
    representations = list(dict.fromkeys(leakage["representation"]))
    versions = list(dict.fromkeys(leakage["version"]))
    width = 0.8 / max(1, len(versions))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(2.5 + 2.2 * len(representations), 3.6), layout="constrained")
        ax = fig.subplots()
        for i, version in enumerate(versions):
            part = leakage[leakage["version"] == version].set_index("representation")
            part = part.reindex(representations)
            x = np.arange(len(representations)) + (i - (len(versions) - 1) / 2) * width
            mid = part["accuracy"].to_numpy() * 100
            err = _error_lengths(
                mid, part["ci_low"].to_numpy() * 100, part["ci_high"].to_numpy() * 100
            )
            ax.bar(x, mid, width=width, label=version, yerr=err, capsize=3)
        rates = leakage.drop_duplicates("representation").set_index("representation")
        for j, name in enumerate(representations):
            ax.hlines(
                rates.loc[name, "majority_rate"] * 100,
                j - 0.45,
                j + 0.45,
                colors="black",
                linestyles="dashed",
                label="majority rate" if j == 0 else None,
            )
        ax.set_xticks(range(len(representations)), representations)
        ax.set_xlabel("representation")
        ax.set_ylabel(f"gender probe accuracy (%, {level} CI)")
        ax.set_ylim(0, 100)
        ax.set_title("Gender leakage: a linear probe's accuracy")
        ax.legend(fontsize="small", loc="lower right")
    return fig
