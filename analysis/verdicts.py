"""What the numbers say, decided once: every verdict sentence and how numbers are written in it.

The analysis decides (which comparison is significant, in which family, at which level; the
sign of a proxy-bias slope; which gaps have evidence) and stores the decision beside the
numbers (``pairs.csv`` ``family``/``significant``/``verdict``, ``proxy.csv``
``direction``/``verdict``, ``gaps.csv`` ``significant``/``evidence``); the report and the
dashboard only present those columns. Units inside one sentence agree: accuracies in percent,
their differences and intervals in percentage points, rates and gaps as fractions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pipeline.lib.contract import PairFamily, ProxyDirection
from pipeline.lib.labels import GENDERS

# Proxy-bias directions, as stored in proxy.csv ``direction`` (declared in the contract).
STEREOTYPED = ProxyDirection.STEREOTYPED.value
COUNTER = ProxyDirection.COUNTER.value
NO_EVIDENCE = ProxyDirection.NO_EVIDENCE.value
NOT_COMPUTABLE = ProxyDirection.NOT_COMPUTABLE.value
# Fewest professions with a gap that a proxy-bias correlation is computed over (fairness.py).
MIN_PROXY_PROFESSIONS = 3


def fmt_p(p: float | None, *, exact: bool = False, prefix: bool = True) -> str:
    """A p-value as text, the one formatter of the suite.

    For a sentence (default): ``p = 0.035``, ``p < 0.001``, ``p n/a``. ``exact`` keeps a tiny
    value in scientific notation (``p = 8.66e-12``) for tables and metrics; ``prefix=False``
    drops the leading ``p``/``p =`` (``0.035``, ``< 0.001``, ``n/a``).
    """
    if p is None or not math.isfinite(p):
        return "p n/a" if prefix else "n/a"
    if p < 0.001 and not exact:
        return "p < 0.001" if prefix else "< 0.001"
    value = f"{p:.2e}" if p < 0.001 else f"{p:.3f}"
    return f"p = {value}" if prefix else value


def fmt_level(confidence: float) -> str:
    """``0.95`` -> ``95%``; ``0.9875`` -> ``98.75%``."""
    return f"{100 * confidence:.4g}%"


def _points(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = f"{100 * value:.1f}"
    return "0.0" if text == "-0.0" else text  # a hair below zero rounds to zero, not "-0.0"


def _name(predictor: str, labels: Mapping[str, str]) -> str:
    label = labels.get(predictor)
    return f"{predictor} ({label})" if label and label != predictor else predictor


def interval_excludes_zero(low: float, high: float) -> bool:
    """Whether a closed interval ``[low, high]`` lies entirely on one side of zero."""
    return low > 0 or high < 0


def pair_verdict(row: Mapping[str, Any], labels: Mapping[str, str], alpha: float) -> str:
    """The sentence for one compared pair, from its family, adjusted p and interval.

    ``row``: predictor_a, predictor_b, a_only_correct, b_only_correct, acc_a, acc_b, acc_diff
    (b - a), diff_ci_low, diff_ci_high, ci_level, p_value, p_adjusted, family, significant.
    """
    a, b = row["predictor_a"], row["predictor_b"]
    if row["family"] == PairFamily.REFERENCE:
        return (
            f"Not tested: {a} vs {b} involves an untrained reference ({100 * row['acc_a']:.1f}% "
            f"against {100 * row['acc_b']:.1f}%; exact McNemar {fmt_p(row['p_value'])}, "
            "unadjusted, for orientation only)."
        )
    if row["a_only_correct"] + row["b_only_correct"] == 0:
        return f"{a} and {b} are right and wrong on exactly the same bios: nothing to test."
    level = fmt_level(row["ci_level"])
    if row["family"] == PairFamily.PRIMARY and "@seed" in f"{a} {b}":
        test = (
            f"exact McNemar {fmt_p(row['p_value'])}, Holm-adjusted {fmt_p(row['p_adjusted'])} "
            "across the training seeds of the primary comparison"
        )
    elif row["family"] == PairFamily.PRIMARY:
        test = f"exact McNemar {fmt_p(row['p_value'])}; the primary comparison, tested alone"
    else:
        test = (
            f"exact McNemar {fmt_p(row['p_value'])}, Holm-adjusted {fmt_p(row['p_adjusted'])} "
            "across the secondary comparisons"
        )
    test += f" at the {fmt_level(alpha)} level"
    diff, low, high = row["acc_diff"], row["diff_ci_low"], row["diff_ci_high"]
    if row["significant"]:
        # Say it from the better one's side: the interval of (better - worse), so it brackets
        # the stated (positive) difference.
        if diff > 0:
            better, worse, acc_better, acc_worse = b, a, row["acc_b"], row["acc_a"]
        else:
            better, worse, acc_better, acc_worse = a, b, row["acc_a"], row["acc_b"]
            diff, low, high = -diff, -high, -low
        return (
            f"{_name(better, labels)} is more accurate than {_name(worse, labels)}: "
            f"{_points(acc_better)}% against {_points(acc_worse)}%, {_points(diff)} percentage "
            f"points ({level} CI {_points(low)} to {_points(high)} points; {test})."
        )
    return (
        f"No significant difference in accuracy between {_name(a, labels)} and "
        f"{_name(b, labels)}: {_points(row['acc_a'])}% against {_points(row['acc_b'])}%, "
        f"{b} minus {a} {100 * diff:+.1f} percentage points ({level} CI {_points(low)} to "
        f"{_points(high)} points, which includes 0; {test})."
    )


def proxy_direction(slope: float, p_value: float, alpha: float) -> str:
    """Stereotype-consistent (significant, positive), counter-stereotypical or no evidence.

    With gap = TPR(women) - TPR(men), a model that leans on the profession as a proxy for gender
    recognises women better and men worse where women are many: a POSITIVE slope.
    """
    if not (math.isfinite(slope) and math.isfinite(p_value)):
        return NOT_COMPUTABLE
    if p_value >= alpha or slope == 0:
        return NO_EVIDENCE
    return STEREOTYPED if slope > 0 else COUNTER


def proxy_verdict(
    row: Mapping[str, Any],
    alpha: float,
    *,
    min_group_size: int | None = None,
    n_both_genders: int | None = None,
) -> str:
    """The sentence for one predictor's proxy-bias test (proxy.csv row with its direction).

    ``n_professions`` counts the professions the test ran on: those with test bios of both
    genders or, when ``min_group_size`` is given, those with at least that many of each gender
    (``n_both_genders`` of them having bios of both genders at all, said beside it).
    """
    direction = row["direction"]
    if direction == NOT_COMPUTABLE:
        n = int(row["n_professions"])
        if min_group_size is None:
            which = "with test bios of both genders"
        else:
            which = f"with at least {min_group_size} test bios of each gender"
            if n_both_genders is not None and n_both_genders != n:
                which += f" ({n_both_genders} with test bios of both genders)"
        if n < MIN_PROXY_PROFESSIONS:
            why = (
                f"only {n} profession{'' if n == 1 else 's'} {which}, and a correlation needs "
                f"at least {MIN_PROXY_PROFESSIONS}"
            )
        else:
            why = (
                f"over the {n} professions {which}, the gap (or the share of women) is the same "
                "everywhere, so it cannot follow anything"
            )
        return f"Not computable: {why}."
    stats = (
        f"Pearson r = {row['pearson_r']:+.2f} ({fmt_p(row['pearson_p'])}), slope "
        f"{row['slope']:+.3f} per unit share of women over {int(row['n_professions'])} "
        f"professions; Spearman rho = {row['spearman_rho']:+.2f} ({fmt_p(row['spearman_p'])})"
    )
    level = fmt_level(alpha)
    if direction == STEREOTYPED:
        return (
            f"Stereotype-consistent: the gap (TPR women - TPR men) grows with the profession's "
            f"share of women, as when a model leans on the profession as a proxy for gender "
            f"({stats}; significant at the {level} level)."
        )
    if direction == COUNTER:
        return (
            f"Counter-stereotypical: the gap (TPR women - TPR men) shrinks as the profession's "
            f"share of women grows, the opposite of leaning on the profession as a proxy for "
            f"gender ({stats}; significant at the {level} level)."
        )
    return (
        f"No evidence either way: the gap does not follow the share of women significantly "
        f"({stats}; not significant at the {level} level)."
    )


def gap_evidence(low: float, high: float) -> float:
    """How large a gap is at least, by its interval: the bound nearest zero (0 if it spans 0)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return float("nan")
    return 0.0 if not interval_excludes_zero(low, high) else min(abs(low), abs(high))


def gap_line(row: Mapping[str, Any], alpha: float, confidence: float) -> str:
    """One profession's gap for a list: gap, interval, TPRs with counts, Holm verdict."""
    verdict = "significant" if row["significant"] else "not significant"
    return (
        f"{row['profession']}: gap {row['gap']:+.3f} ({fmt_level(confidence)} CI "
        f"{row['gap_ci_low']:+.3f} to {row['gap_ci_high']:+.3f}; TPR women {row['tpr_female']:.3f} "
        f"of {int(row['n_female'])}, men {row['tpr_male']:.3f} of {int(row['n_male'])}; Fisher "
        f"{fmt_p(row['p_value'])}, Holm {fmt_p(row['p_holm'])}: {verdict} at the "
        f"{fmt_level(alpha)} level after Holm across professions)"
    )


def _count(n: int) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def model_description(info: Mapping[str, Any]) -> str:
    """The model as it is: source, name or path, revision, layers, width, parameter count."""
    if not info:
        return "no neural model"
    source = info.get("source")
    if source == "tiny":
        what = "tiny GPT-2 built and pretrained locally"
    else:
        what = str(info.get("name_or_path"))
        if info.get("revision"):
            what += f" @ {str(info['revision'])[:12]}"
        if source == "local":
            what += " (local folder)"
    shape = []
    if info.get("n_layer"):
        shape.append(f"{info['n_layer']} layers")
    if info.get("n_embd"):
        shape.append(f"width {info['n_embd']}")
    if info.get("parameters"):
        shape.append(f"{_count(int(info['parameters']))} parameters")
    if info.get("trainable_params"):
        shape.append(f"{_count(int(info['trainable_params']))} of them trained")
    return f"{what} ({', '.join(shape)})" if shape else what


def _pct_ci(value: float, low: float, high: float) -> str:
    if not all(math.isfinite(v) for v in (value, low, high)):
        return "n/a (no bios)"
    return f"{_points(value)}% ({_points(low)} to {_points(high)})"


def _against_half(low: float, high: float, *, above: str, below: str, within: str) -> str:
    """The reading of an interval against 50%: wholly above, wholly below, or containing it."""
    if low > 0.5:
        return above
    if high < 0.5:
        return below
    return within


def majority_reading(low: float, high: float, rate: float) -> str:
    """An accuracy interval against the majority rate (what a constant answer scores).

    ``above the majority rate`` when the whole interval lies above it, ``below`` when wholly
    below, else ``at the majority rate`` (the interval contains it).
    """
    if low > rate:
        return "above the majority rate"
    if high < rate:
        return "below the majority rate"
    return "at the majority rate"


def leakage_sentence(row: Mapping[str, Any], confidence: float) -> str:
    """One representation's leakage (leakage.csv row) in words, the reading from its numbers.

    Above the majority rate: a linear probe still recovers gender from it; at the rate: no
    linear probe tells gender better than a constant answer, on these bios.
    """
    accuracy = _pct_ci(row["accuracy"], row["ci_low"], row["ci_high"])
    rate = f"{_points(row['majority_rate'])}%"
    reading = {
        "above the majority rate": "a linear probe still recovers gender from it",
        "at the majority rate": "this linear probe tells gender no better than always answering "
        "the majority gender",
        "below the majority rate": "the probe does worse than always answering the majority gender",
    }[row["verdict"]]
    sentence = (
        f"A linear gender probe on the {row['representation']} representation, {row['version']}, "
        f"is right for {accuracy} of the test bios against the majority rate {rate} "
        f"({fmt_level(confidence)} Wilson interval): {row['verdict']}, so {reading}."
    )
    diff = row.get("diff")
    if diff is None or not math.isfinite(float(diff)):
        return sentence
    low, high = row["diff_ci_low"], row["diff_ci_high"]
    if low > 0 or high < 0:
        change = f"erasure {'raises' if diff > 0 else 'lowers'} the probe's accuracy"
    else:
        change = "erasure changes the probe's accuracy by no significant amount"
    return sentence + (
        f" Against the representation as is, {change}: {100 * diff:+.1f} points "
        f"({fmt_level(confidence)} paired bootstrap CI {_points(low)} to {_points(high)} over "
        f"the test bios; bootstrap {fmt_p(row['p_value'])})."
    )


def erasure_check_sentence(
    name: str, label: str, runs: Sequence[Mapping[str, Any]], rate: float, confidence: float
) -> str:
    """The gender task's check of LEACE: an erased predictor should sit at the majority rate.

    ``runs``: the accuracy rows (overall.csv) of its seeds' runs. Passes when every run's
    interval contains the rate or lies below it; otherwise names how many runs are above it.
    """
    mean = sum(float(r["value"]) for r in runs) / len(runs)
    above = sum(
        majority_reading(r["ci_low"], r["ci_high"], rate) == "above the majority rate" for r in runs
    )
    head = (
        f"Erasure check: {name} ({label}) predicts gender with {_points(mean)}% accuracy "
        f"averaged over {len(runs)} seed(s), against the majority rate {_points(rate)}% "
    )
    if above == 0:
        return head + (
            f"(no seed's {fmt_level(confidence)} Wilson interval lies above it): with gender "
            "erased it does no better than always answering the majority gender, as LEACE's "
            "guarantee (no linear classifier beats a constant on the data it was fitted on) "
            "leads one to expect."
        )
    return head + (
        f"({above} of {len(runs)} seeds' {fmt_level(confidence)} Wilson intervals lie above "
        "it): the erased representation still tells gender, which LEACE should have prevented."
    )


def probe_verdict(
    swapped: Mapping[str, Any] | None, removed: Mapping[str, Any] | None, confidence: float
) -> str:
    """What the counterfactual probes show about one predictor (probes.csv "all" rows).

    Follows the gendered words: the swapped flip rate's interval lies above 50%; mostly not:
    it lies below 50%. Without them: at chance when the removed accuracy's interval contains
    50%, other cues when it lies above (names, other words), worse than chance when below.
    """
    level = fmt_level(confidence)
    parts = []
    if swapped is not None:
        flips = _pct_ci(swapped["flip_rate"], swapped["flip_ci_low"], swapped["flip_ci_high"])
        reading = _against_half(
            swapped["flip_ci_low"],
            swapped["flip_ci_high"],
            above="it follows the gendered words",
            below="it mostly does not follow the gendered words",
            within="the interval includes 50%, so these bios cannot tell whether it follows the "
            "gendered words",
        )
        parts.append(f"swapping the gendered words flips {flips} of its predictions: {reading}")
    if removed is not None:
        accuracy = _pct_ci(
            removed["accuracy"], removed["accuracy_ci_low"], removed["accuracy_ci_high"]
        )
        original = f"{100 * removed['accuracy_original']:.1f}% on the same bios unchanged"
        reading = _against_half(
            removed["accuracy_ci_low"],
            removed["accuracy_ci_high"],
            above="it still finds other cues (names, other words)",
            below="it is worse than chance",
            within="not distinguishable from chance, its interval including 50%",
        )
        parts.append(f"with them removed its accuracy is {accuracy} against {original}: {reading}")
    if not parts:
        return "No probe predictions."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + f" ({level} Wilson intervals)."


def occupation_probe_verdict(
    swapped: Mapping[str, Any] | None, removed: Mapping[str, Any] | None, confidence: float
) -> str:
    """What the counterfactual probes show about one occupation classifier (probes.csv "all").

    A changed occupation under ``swapped`` is an answer that depends on the subject's gendered
    words alone; ``removed`` (De-Arteaga's scrubbed bios) shows the accuracy without them.
    """
    level = fmt_level(confidence)
    parts = []
    if swapped is not None:
        flips = _pct_ci(swapped["flip_rate"], swapped["flip_ci_low"], swapped["flip_ci_high"])
        reading = (
            "its answers never depend on the gendered words alone"
            if swapped["flips"] == 0
            else "for those bios its answer depends on the subject's gendered words alone"
        )
        parts.append(
            f"swapping the gendered words changes the predicted occupation of {flips} of the "
            f"bios: {reading}"
        )
    if removed is not None:
        accuracy = _pct_ci(
            removed["accuracy"], removed["accuracy_ci_low"], removed["accuracy_ci_high"]
        )
        parts.append(
            f"with them removed (scrubbed bios) its accuracy is {accuracy} against "
            f"{100 * removed['accuracy_original']:.1f}% on the same bios unchanged"
        )
    if not parts:
        return "No probe predictions."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + f" ({level} Wilson intervals)."


def seeds_count_phrase(significant: int, n_seeds: int, family: str = "primary") -> str:
    """``significant in 3 of 3 seeds``, with the family the per-seed tests were adjusted in.

    The primary pair's per-seed exact McNemar tests are Holm-adjusted across the seeds; any
    other pair's are in the secondary family of pairs, Holm-adjusted within it.
    """
    across = "Holm across seeds" if family == "primary" else "Holm in the secondary family"
    return (
        f"significant in {significant} of {n_seeds} seed{'s' if n_seeds != 1 else ''} "
        f"(exact McNemar per seed, {across})"
    )


def procedure_verdict(
    row: Mapping[str, Any],
    labels: Mapping[str, str],
    alpha: float,
    seeded: tuple[bool, bool] = (False, True),
) -> str:
    """A comparison over training seeds: the Multi-Bootstrap figure, then the seed count.

    With one seed: the paired comparison of that one run (primary: its exact McNemar), and that
    seed variance was not measured. ``seeded``: whether a and b are trained per seed (a seeded
    side's accuracy is a mean over its runs). A secondary row quotes its Holm-adjusted p-value
    and its interval at the level Holm stopped at (``ci_level``).

    ``row``: a procedure.csv row (predictor_a, predictor_b, family, n_seeds, acc_a, acc_b_mean,
    acc_diff = mean over seeds of acc_b - acc_a, diff_ci_low, diff_ci_high, ci_level, p_value,
    p_adjusted, significant, seeds_significant, sd_seeds, sd_bios, seed_share, pair_verdict).
    """
    a, b, n = row["predictor_a"], row["predictor_b"], int(row["n_seeds"])
    family = row.get("family", "primary")
    primary = family == "primary"
    if n == 1 and primary:
        return (
            f"{row['pair_verdict']} Seed variance was not measured: one training seed "
            "(seeds.train), so this is one trained run, not the fine-tuning procedure."
        )
    diff, low, high = row["acc_diff"], row["diff_ci_low"], row["diff_ci_high"]
    level = fmt_level(float(row["ci_level"]))
    p = fmt_p(row["p_value"]) if primary else f"Holm-adjusted {fmt_p(row['p_adjusted'])}"
    where = "" if primary else f" in the {family} family of comparisons over seeds"
    interval = (
        f"{level} Multi-Bootstrap CI {_points(low)} to {_points(high)} points over seeds and "
        f"test bios; bootstrap {p} at the {fmt_level(alpha)} level{where}"
    )
    count = seeds_count_phrase(int(row["seeds_significant"]), n, family)
    over = "averaged over seeds"
    acc_b = f"{b} {100 * row['acc_b_mean']:.1f}%{' ' + over if seeded[1] else ''}"
    acc_a = f"{a} {100 * row['acc_a']:.1f}%{' ' + over if seeded[0] else ''}"
    seeds = f"Over {n} training seed{'s' if n != 1 else ''}"
    if row["significant"]:
        better, worse = (b, a) if diff > 0 else (a, b)
        return (
            f"{seeds}, {_name(better, labels)} is more accurate than {_name(worse, labels)}: "
            f"by {_points(abs(diff))} percentage points on average ({acc_b} against {acc_a}; "
            f"{interval}); {count}."
        )
    return (
        f"{seeds}, no significant difference in accuracy between {_name(a, labels)} and "
        f"{_name(b, labels)}: {b} minus {a} {100 * diff:+.1f} percentage points on average "
        f"({acc_b} against {acc_a}; {interval}; the interval includes 0); {count}."
    )


def gap_rms_verdict(
    row: Mapping[str, Any], labels: Mapping[str, str], seeded: tuple[bool, bool] = (False, True)
) -> str:
    """GAP^RMS compared over training seeds (a gap_rms.csv row): which predictor's gaps are wider.

    GAP^RMS is the root mean square of the per-occupation TPR gaps (women - men), in
    percentage points; ``diff`` = b - a, so a negative difference means b NARROWS the gaps.
    A secondary row quotes its Holm-adjusted p-value and its interval at the level Holm stopped
    at (``ci_level``).
    """
    a, b, n = row["predictor_a"], row["predictor_b"], int(row["n_seeds"])
    family = row.get("family", "primary")
    primary = family == "primary"
    diff, low, high = row["diff"], row["diff_ci_low"], row["diff_ci_high"]
    p = fmt_p(row["p_value"]) if primary else f"Holm-adjusted {fmt_p(row['p_adjusted'])}"
    where = "" if primary else f" in the {family} family"
    over = " averaged over seeds"
    level_b = f"{b} {_points(row['gap_rms_b'])} points{over if seeded[1] else ''}"
    level_a = f"{a} {_points(row['gap_rms_a'])} points{over if seeded[0] else ''}"
    interval = (
        f"{fmt_level(float(row['ci_level']))} Multi-Bootstrap CI {_points(low)} to "
        f"{_points(high)} points over seeds and test bios; bootstrap {p}{where}"
    )
    seeds = f"Over {n} training seed{'s' if n != 1 else ''}"
    if row["significant"]:
        verb = "narrows" if diff < 0 else "widens"
        return (
            f"{seeds}, {_name(b, labels)} {verb} the gender gaps relative to "
            f"{_name(a, labels)}: GAP^RMS {level_b} against {level_a}, "
            f"{100 * diff:+.1f} points ({interval})."
        )
    return (
        f"{seeds}, no significant difference in GAP^RMS between {_name(a, labels)} and "
        f"{_name(b, labels)}: {level_b} against {level_a}, {100 * diff:+.1f} points "
        f"({interval}; the interval includes 0)."
    )


def variance_split_sentence(row: Mapping[str, Any]) -> str:
    """Where the procedure-level interval's width comes from: training seeds vs test bios."""
    if int(row["n_seeds"]) < 2:
        return (
            "Seed variance was not measured (one training seed): the interval covers the test "
            "bios only."
        )
    return (
        f"Variance split: {100 * row['seed_share']:.0f}% of the variance comes from the training "
        f"seeds (SD {_points(row['sd_seeds'])} points with only the seeds resampled) and "
        f"{100 * (1 - row['seed_share']):.0f}% from the test bios (SD {_points(row['sd_bios'])} "
        f"points with only the bios resampled; joint SD {_points(row['sd_joint'])} points)."
    )


def procedure_proxy_verdict(row: Mapping[str, Any], alpha: float, confidence: float) -> str:
    """The proxy-bias slope over training seeds (seed_proxy.csv row with its direction)."""
    stats = (
        f"slope {row['slope']:+.3f} per unit share of women, mean over {int(row['n_seeds'])} "
        f"seeds, over {int(row['n_professions'])} professions ({fmt_level(confidence)} "
        f"Multi-Bootstrap CI {row['slope_ci_low']:+.3f} to {row['slope_ci_high']:+.3f}; "
        f"bootstrap {fmt_p(row['p_value'])})"
    )
    direction = row["direction"]
    if direction == NOT_COMPUTABLE:
        return f"Not computable over seeds ({stats})."
    level = fmt_level(alpha)
    if direction == NO_EVIDENCE:
        return f"No evidence either way over seeds: {stats}; not significant at the {level} level."
    return f"{direction.capitalize()} over seeds: {stats}; significant at the {level} level."


def one_class_warning(pred: Any, share: float) -> str | None:
    """A warning when a predictor gives one gender to at least ``share`` of the bios, else None.

    Such a predictor's accuracy mostly counts the bios of that gender: it is not reading them.
    """
    pred = np.asarray(pred, dtype=np.int64)
    if not len(pred):
        return None
    counts = np.bincount(pred, minlength=len(GENDERS))
    top = int(counts.argmax())
    if counts[top] / len(pred) < share:
        return None
    gender = GENDERS[top]
    every = "every" if counts[top] == len(pred) else "nearly every"
    return (
        f"It answers {gender!r} for {every} test bio ({counts[top]:,} of {len(pred):,}, "
        f"{100 * counts[top] / len(pred):.1f}%; analyze.one_class_share = {share:g}): its "
        f"accuracy mostly counts the {gender} bios of the test split, it does not show that it "
        "reads them."
    )


def toy_model_notice(models: Mapping[str, Mapping[str, Any]]) -> str | None:
    """A notice naming the predictors built on the tiny GPT-2 (``model.source: tiny``), if any.

    ``models``: per predictor, the model behind it (predictions' ``model_info``).
    """
    toys = [name for name, info in models.items() if (info or {}).get("source") == "tiny"]
    if not toys:
        return None
    info = models[toys[0]]
    names = ", ".join(toys)
    return (
        f"TOY MODEL: {names} {'start' if len(toys) > 1 else 'starts'} from the "
        f"{model_description({k: v for k, v in info.items() if k != 'trainable_params'})}, "
        "made to try the pipeline offline in minutes. Their scores show that the code runs, not "
        "how GPT-2 or any real model behaves; the real study (params.yaml at the repo root) uses "
        "GPT-2."
    )
