"""The Multi-Bootstrap: a procedure-level comparison over training seeds AND test bios.

Fine-tuning is a procedure; one trained run is one draw of it (the seed sets the trained
weights' initialisation and the data order). The Multi-Bootstrap of the MultiBERTs paper
(Sellam et al., ICLR 2022, section 3) resamples the S seeds with replacement and the n test
bios with replacement, jointly, and evaluates the statistic on each joint resample, so that its
percentile interval covers both sources of variation. Paired: a baseline scored on the same
bios (zero-shot) is evaluated on the same resampled bios, and a second trained procedure
(head-only against LoRA) on the same resampled bios and seeds.

A joint resample is a pair of count vectors: ``v`` (how often each seed was drawn, S draws) and
``w`` (how often each bio was drawn, n draws), so the mean over seeds of a per-seed mean over
bios is ``v @ D @ w / (S n)`` for the per-seed, per-bio values ``D``: one matrix product per
block of resamples. The bios' counts are :func:`analysis._bootstrap.resample_counts` with the
seed ``seeds.bootstrap`` (the same resamples as every other bootstrap of the analysis); the
seeds' counts come from a second stream of the same seed. With one seed ``v`` is always
``[1]``, so the Multi-Bootstrap IS the paired bootstrap over bios.

Statistics: the mean difference in accuracy from a baseline (:func:`procedure_difference`),
each profession's TPR gap (:func:`procedure_gaps`), the proxy slope
(:func:`procedure_proxy_slope`) and the mean over seeds of each run's GAP^RMS, alone or as a
difference from a baseline (:func:`procedure_gap_rms`, the occupation task).

Decision and p-value agree by construction. With ``B`` finite resamples ``t`` the two-sided
p-value is ``min(1, 2 (1 + min(#{t <= 0}, #{t >= 0})) / (B + 1))``: the observed data count as
one more resample (Davison & Hinkley 1997, eq. 4.11), so a p-value is never 0 (at least
``2 / (B + 1)`` when every resample falls on one side), as it cannot honestly be with ``B``
resamples. The interval is the ``k``-th smallest and ``k``-th largest resampled value with
``k = ceil(alpha (B + 1) / 2) - 1``: it excludes 0 exactly when ``p < alpha``. (``k`` is at least
1: below ``B = 2 / alpha - 1`` resamples no p-value can fall under ``alpha``, and the interval is
the resamples' range.)

Variance split (MultiBERTs, appendix): the same statistic under seeds-only resampling (every
bio kept) and under bios-only resampling (every seed kept); their variances say how much of the
joint interval's width comes from the training seeds and how much from the test bios.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from analysis._bootstrap import recentre, resample_counts


@dataclass(frozen=True)
class MultiBootstrapResult:
    """A procedure-level estimate with its Multi-Bootstrap interval, p-value and variance split."""

    estimate: float  # the statistic on the observed seeds and bios (no resampling)
    ci_low: float
    ci_high: float
    p_value: float  # two-sided, (1 + count) / (B + 1) convention, from the same joint resamples
    n_seeds: int
    n_bios: int
    resamples: int
    sd_joint: float  # SD of the joint resamples (seeds and bios)
    sd_seeds: float  # SD with the seeds resampled and every bio kept (0 with one seed)
    sd_bios: float  # SD with the bios resampled and every seed kept

    @property
    def seed_share(self) -> float:
        """Share of the variance that comes from the seeds: var_seeds / (var_seeds + var_bios)."""
        total = self.sd_seeds**2 + self.sd_bios**2
        return self.sd_seeds**2 / total if total > 0 else float("nan")


def seed_counts(n_seeds: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, n_seeds)`` draw counts of the seeds (S draws with replacement each)."""
    rng = np.random.default_rng([seed, 1])  # a stream apart from the bios' resample_counts
    draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    return np.stack([np.bincount(row, minlength=n_seeds) for row in draws]).astype(np.float64)


def joint_resamples(
    n_seeds: int, n_bios: int, resamples: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield blocks ``(v, w)``: seed counts ``(rows, S)`` and bio counts ``(n, rows)``."""
    seeds = seed_counts(n_seeds, resamples, seed)
    done = 0
    for counts in resample_counts(n_bios, resamples, seed):
        rows = counts.shape[1]
        yield seeds[done : done + rows], counts.astype(np.float64)
        done += rows


# A statistic of one block: (seed counts (rows, S), bio counts (n, rows)) -> (rows, k) values,
# k statistics evaluated on the same resamples.
BlockStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _run(statistic: BlockStatistic, blocks: Iterator[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    with threadpool_limits(limits=1, user_api="blas"):
        return np.concatenate([statistic(v, w) for v, w in blocks], axis=0)


def bootstrap_summary(
    statistic: BlockStatistic,
    *,
    n_seeds: int,
    n_bios: int,
    resamples: int,
    seed: int,
    confidence: float,
    recentred: bool = False,
) -> list[MultiBootstrapResult]:
    """Evaluate ``statistic`` on the data and on joint, seeds-only and bios-only resamples.

    One result per statistic (column) that ``statistic`` returns. ``recentred``: the joint
    resamples are shifted so that their mean is the estimate before the interval and p-value
    are read off them (the bootstrap's estimate of a biased statistic's bias taken off; GAP^RMS,
    :data:`analysis.occupation_metrics.RECENTRED`).
    """
    estimate = statistic(np.ones((1, n_seeds)), np.ones((n_bios, 1)))[0]
    joint = _run(statistic, joint_resamples(n_seeds, n_bios, resamples, seed))
    seeds_only = _run(
        statistic, iter([(seed_counts(n_seeds, resamples, seed), np.ones((n_bios, 1)))])
    )
    bios_only = _run(
        statistic,
        (
            (np.ones((c.shape[1], n_seeds)), c.astype(np.float64))
            for c in resample_counts(n_bios, resamples, seed)
        ),
    )
    results = []
    for k in range(joint.shape[1]):
        samples = recentre(joint[:, k], estimate[k]) if recentred else joint[:, k]
        low, high, p_value = interval_and_p(samples, 1 - confidence)
        results.append(
            MultiBootstrapResult(
                estimate=float(estimate[k]),
                ci_low=low,
                ci_high=high,
                p_value=p_value,
                n_seeds=n_seeds,
                n_bios=n_bios,
                resamples=resamples,
                sd_joint=_sd(joint[:, k]),
                sd_seeds=_sd(seeds_only[:, k]) if n_seeds > 1 else 0.0,
                sd_bios=_sd(bios_only[:, k]),
            )
        )
    return results


def _sd(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.std(ddof=1)) if finite.size > 1 else float("nan")


def interval_and_p(samples: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Order-statistic interval and two-sided p-value that agree on excluding 0 (module doc).

    With ``B`` finite resamples: ``p = min(1, 2 (1 + min(#{t <= 0}, #{t >= 0})) / (B + 1))``, at
    least ``2 / (B + 1)``; the interval is the ``k``-th smallest and largest resample,
    ``k = max(1, ceil(alpha (B + 1) / 2) - 1)``.
    """
    finite = np.sort(samples[np.isfinite(samples)])
    if finite.size == 0:
        return float("nan"), float("nan"), float("nan")
    b = finite.size

    def p_of(tail: int) -> float:
        return min(1.0, 2 * (1 + tail) / (b + 1))

    # p < alpha  <=>  tail < alpha (B + 1) / 2 - 1  <=>  tail < k  <=>  0 outside the interval;
    # k is settled on the same float test as the decision (p < alpha), not on rounded algebra.
    k = max(0, math.ceil(alpha * (b + 1) / 2) - 2)
    while p_of(k) < alpha:
        k += 1
    k = max(1, k)
    low, high = float(finite[k - 1]), float(finite[b - k])
    tail = min(int((finite <= 0).sum()), int((finite >= 0).sum()))
    return low, high, p_of(tail)


def _seed_mean(v: np.ndarray, per_seed: np.ndarray) -> np.ndarray:
    """``per_seed`` (S, rows, k) averaged over the drawn seeds ``v`` (rows, S) -> (rows, k)."""
    return np.einsum("rs,srk->rk", v, per_seed) / v.sum(axis=1)[:, None]


def _paired_baseline(correct: np.ndarray, baseline_correct: np.ndarray) -> np.ndarray:
    """``baseline_correct`` as ``(1 or S, n)``, checked to pair with ``correct`` ``(S, n)``.

    One baseline model ``(n,)`` is compared with every run; a seeded baseline ``(S, n)`` is
    paired seed by seed, so it needs as many runs as ``correct``; both cover the same bios.
    """
    baseline = np.atleast_2d(np.asarray(baseline_correct, dtype=np.float64))
    if baseline.shape[1] != correct.shape[1]:
        raise ValueError(
            f"baseline_correct covers {baseline.shape[1]} bios, correct {correct.shape[1]}: the "
            "baseline is scored on the same bios"
        )
    if baseline.shape[0] not in (1, correct.shape[0]) and correct.shape[0] != 1:
        raise ValueError(
            f"{correct.shape[0]} runs against {baseline.shape[0]}: two seeded procedures are "
            "compared seed by seed, so they need the same seeds"
        )
    return baseline


def procedure_difference(
    *,
    correct: np.ndarray,
    baseline_correct: np.ndarray,
    resamples: int,
    seed: int,
    confidence: float,
) -> MultiBootstrapResult:
    """Mean over seeds of (accuracy of the seed - accuracy of the baseline), same bios.

    The baseline is one model (zero-shot: ``(n,)``) or another trained procedure with one run
    per seed (``(S, n)``). Two procedures are paired by training seed: run ``s`` of each was
    trained with the same seed (the same data order and head initialisation), so a resample
    that draws seed ``s`` draws both procedures' runs of it, as it draws both predictors'
    answers on a drawn bio.

    Args:
        correct: ``(S, n)``: whether each seed's model got each test bio right.
        baseline_correct: ``(n,)`` or ``(S, n)``: whether the baseline got each bio right.
        resamples: joint resamples (``analyze.bootstrap_resamples``).
        seed: ``seeds.bootstrap``.
        confidence: interval level; the p-value is two-sided.
    """
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    diff = correct - _paired_baseline(correct, baseline_correct)
    n_seeds, n_bios = diff.shape

    def statistic(v: np.ndarray, w: np.ndarray) -> np.ndarray:
        per_seed = diff @ w / w.sum(axis=0)  # (S, rows): each seed's mean over the drawn bios
        return _seed_mean(v, per_seed[:, :, None])

    return bootstrap_summary(
        statistic,
        n_seeds=n_seeds,
        n_bios=n_bios,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
    )[0]


def _run_gaps(
    correct: np.ndarray, profession: np.ndarray, female: np.ndarray
) -> tuple[list[int], Callable[[np.ndarray], np.ndarray]]:
    """The professions with both genders, and each run's TPR gaps on a block of bio counts.

    The second item maps bio counts ``w`` ``(n, rows)`` to the gaps ``(runs, professions,
    rows)`` of every run (row of ``correct``); NaN where a resample draws no woman or no man of
    a profession.
    """
    profession = np.asarray(profession, dtype=np.int64)
    female = np.asarray(female, dtype=bool)
    cell = profession * 2 + female  # one cell per profession x gender
    order = np.argsort(cell, kind="stable")
    cells, starts = np.unique(cell[order], return_index=True)
    both = [int(p) for p in np.unique(profession) if {2 * p, 2 * p + 1} <= set(cells.tolist())]
    where = {c: i for i, c in enumerate(cells.tolist())}
    f_index = np.array([where[2 * p + 1] for p in both], dtype=np.int64)
    m_index = np.array([where[2 * p] for p in both], dtype=np.int64)
    sorted_correct = correct[:, order]

    def run_gaps(w: np.ndarray) -> np.ndarray:
        w = w[order]
        drawn = np.add.reduceat(w, starts, axis=0)  # (cells, rows)
        right = np.stack([np.add.reduceat(c[:, None] * w, starts, axis=0) for c in sorted_correct])
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr = right / drawn[None]  # (S, cells, rows)
        return tpr[:, f_index] - tpr[:, m_index]  # (S, professions, rows)

    return both, run_gaps


def _gap_statistic(
    correct: np.ndarray, profession: np.ndarray, female: np.ndarray
) -> tuple[list[int], Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """The professions with both genders, and a block statistic of their seed-mean TPR gaps."""
    both, run_gaps = _run_gaps(correct, profession, female)

    def statistic(v: np.ndarray, w: np.ndarray) -> np.ndarray:
        return _seed_mean(v, run_gaps(w).transpose(0, 2, 1))

    return both, statistic


def procedure_gaps(
    *,
    correct: np.ndarray,
    profession: np.ndarray,
    female: np.ndarray,
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[int, MultiBootstrapResult]:
    """Mean over seeds of each profession's TPR gap (women - men), Multi-Bootstrapped jointly.

    Args:
        correct: ``(S, n)``: whether each seed's model got each test bio right (the TPR of a
            gender is the share of its bios predicted as that gender, i.e. right).
        profession: ``(n,)`` profession ids.
        female: ``(n,)`` whether the bio's subject is a woman.
        resamples: joint resamples (``analyze.bootstrap_resamples``).
        seed: ``seeds.bootstrap``.
        confidence: interval level; the p-values are two-sided.

    Returns:
        ``{profession_id: result}`` for the professions with bios of both genders. A resample
        that draws no woman or no man of a profession gives NaN there (left out of its interval).
    """
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    both, statistic = _gap_statistic(correct, profession, female)
    if not both:
        return {}
    results = bootstrap_summary(
        statistic,
        n_seeds=correct.shape[0],
        n_bios=correct.shape[1],
        resamples=resamples,
        seed=seed,
        confidence=confidence,
    )
    return dict(zip(both, results, strict=True))


def _rms_over_professions(gaps: np.ndarray) -> np.ndarray:
    """GAP^RMS ``(runs, rows)`` of gaps ``(runs, professions, rows)`` over the non-NaN gaps.

    NaN where no profession has a gap (a resample with no profession drawn with both genders).
    """
    finite = np.isfinite(gaps)
    squares = np.where(finite, gaps, 0.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(squares.sum(axis=1) / finite.sum(axis=1))


def procedure_gap_rms(
    *,
    correct: np.ndarray,
    profession: np.ndarray,
    female: np.ndarray,
    baseline_correct: np.ndarray | None = None,
    resamples: int,
    seed: int,
    confidence: float,
) -> MultiBootstrapResult:
    """Mean over seeds of each run's GAP^RMS, or its difference from a baseline, Multi-Bootstrapped.

    A run's GAP^RMS is ``sqrt(mean over professions of gap^2)`` with gap = TPR(women) -
    TPR(men) in the profession (Romanov et al. 2019). Each run is a classifier, so the statistic
    is the mean over the drawn seeds of each run's own GAP^RMS, NOT the GAP^RMS of the seed-mean
    gaps (where opposite gaps of two seeds would cancel). With ``baseline_correct`` it is the
    mean over the drawn seeds of (the run's GAP^RMS - the baseline's GAP^RMS on the same bios),
    paired exactly as :func:`procedure_difference` pairs: one baseline model ``(n,)``, or a
    second procedure ``(S, n)`` whose run ``s`` goes with run ``s``.

    Its joint resamples are re-centred on the estimate before the interval and p-value are read
    (``bootstrap_summary(recentred=True)``): a resample squares noisier gaps than the test bios
    give, so the resampled GAP^RMS is biased upward, and more for a predictor with small gaps.

    Which professions enter: the estimate's mean runs over the professions with test bios of
    both genders; a joint resample's over the professions it draws both a woman and a man of
    (the others have no gap there and are left out of that resample's mean, a nanmean). A
    resample that draws no profession with both genders is NaN and left out of the interval.

    Args:
        correct: ``(S, n)``: whether each seed's model got each test bio right (in the
            occupation task: predicted the bio's profession).
        profession: ``(n,)`` profession ids (in the occupation task, the true labels).
        female: ``(n,)`` whether the bio's subject is a woman.
        baseline_correct: None, or ``(n,)`` / ``(S, n)``: whether the baseline got each bio right.
        resamples: joint resamples (``analyze.bootstrap_resamples``).
        seed: ``seeds.bootstrap``.
        confidence: interval level; the p-value is two-sided (of a difference from 0; without a
            baseline GAP^RMS is never below 0, so it is read only for differences).

    Returns:
        One result; every field NaN (but the counts) where no profession has both genders.
    """
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    n_runs, n_bios = correct.shape
    for name, values in (("profession", profession), ("female", female)):
        if np.shape(values) != (n_bios,):
            raise ValueError(
                f"{name} has shape {np.shape(values)}; expected one value per bio, ({n_bios},)"
            )
    runs = correct
    if baseline_correct is not None:
        runs = np.vstack([correct, _paired_baseline(correct, baseline_correct)])
    _, run_gaps = _run_gaps(runs, profession, female)

    def statistic(v: np.ndarray, w: np.ndarray) -> np.ndarray:
        rms = _rms_over_professions(run_gaps(w))  # (runs, rows)
        # the baseline's rows broadcast against the procedure's: one model, or paired by seed
        per_seed = rms[:n_runs] if baseline_correct is None else rms[:n_runs] - rms[n_runs:]
        return _seed_mean(v, per_seed[:, :, None])

    n_seeds = max(n_runs, len(runs) - n_runs)
    return bootstrap_summary(
        statistic,
        n_seeds=n_seeds,
        n_bios=n_bios,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        recentred=True,  # GAP^RMS is biased upward in resamples (occupation_metrics.RECENTRED)
    )[0]


def procedure_proxy_slope(
    *,
    correct: np.ndarray,
    profession: np.ndarray,
    female: np.ndarray,
    share_women: dict[int, float],
    resamples: int,
    seed: int,
    confidence: float,
) -> MultiBootstrapResult | None:
    """The least-squares slope of the seed-mean gap on the share of women, Multi-Bootstrapped.

    Over the professions of ``share_women`` (those the analysis lets carry a gap) that have
    bios of both genders; None with fewer than three.
    """
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    both, gaps = _gap_statistic(correct, profession, female)
    keep = [i for i, p in enumerate(both) if p in share_women]
    if len(keep) < 3:
        return None
    x = np.array([share_women[both[i]] for i in keep], dtype=np.float64)
    centred = x - x.mean()

    def statistic(v: np.ndarray, w: np.ndarray) -> np.ndarray:
        y = gaps(v, w)[:, keep]  # (rows, professions); NaN where a resample lacks a gender
        slope = (y - y.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
        return slope[:, None]

    return bootstrap_summary(
        statistic,
        n_seeds=correct.shape[0],
        n_bios=correct.shape[1],
        resamples=resamples,
        seed=seed,
        confidence=confidence,
    )[0]
