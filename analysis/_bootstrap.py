"""Vectorised, paired bootstrap of classification metrics (private).

A resample of the n bios is represented by its count vector (how often each bio was drawn), and a
block of resamples by an ``(n, block)`` count matrix, so every additive statistic of a block is one
matrix product ``features @ counts`` (no Python loop per resample). ROC AUC, which is not
additive, is the weighted Mann-Whitney statistic: one cumulative sum down the negatives sorted by
score, read off at each positive. All predictors share the same resamples, so differences between
them are paired.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from threadpoolctl import threadpool_limits

# Resamples per block: memory is about n * BLOCK * 8 bytes per array (80 MB at n=99,069).
BLOCK = 100
# Columns of the additive feature matrix, before the per-bin calibration columns.
_CORRECT, _POS, _NEG, _TP, _TN, _FP, _FN = range(7)


def resample_counts(n: int, resamples: int, seed: int, block: int = BLOCK) -> Iterator[np.ndarray]:
    """Yield ``(n, rows)`` matrices of bootstrap draw counts, ``resamples`` columns in all.

    Column r counts how often each of the n items was drawn in resample r (n draws with
    replacement). Counts are small integers (uint16 when they fit, which they do unless one item
    is drawn 65,536 times).
    """
    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        rows = min(block, resamples - done)
        draws = rng.integers(0, n, size=(rows, n))
        # key = item * rows + resample: one bincount fills the (n, rows) matrix in place
        keys = draws * rows + np.arange(rows)[:, None]
        counts = np.bincount(keys.ravel(), minlength=n * rows).reshape(n, rows)
        yield counts.astype(np.uint16 if counts.max() < 2**16 else np.int64)
        done += rows


def bin_index(prob: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each probability, with scikit-learn's ``calibration_curve`` edges."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], prob)


class _Predictor:
    """One predictor's additive features and its score order for the AUC."""

    def __init__(self, y_true: np.ndarray, y_pred: np.ndarray, prob: np.ndarray, bins: int):
        y = y_true.astype(np.float64)
        p = y_pred.astype(np.float64)
        onehot = np.zeros((bins, len(y)))
        onehot[bin_index(prob, bins), np.arange(len(y))] = 1.0
        # rows: correct, pos, neg, tp, tn, fp, fn, then per bin: sum(prob - y) over the bin
        self.features = np.vstack(
            [
                (p == y).astype(np.float64),
                y,
                1 - y,
                p * y,
                (1 - p) * (1 - y),
                p * (1 - y),
                (1 - p) * y,
                onehot * (prob - y),
            ]
        )
        negatives = np.flatnonzero(y_true == 0)
        self.positives = np.flatnonzero(y_true == 1)
        # negatives in score order; each positive's count of negatives strictly below its score
        # (start) and at or below it (end): the difference is the tie group
        self.negatives_sorted = negatives[np.argsort(prob[negatives], kind="stable")]
        neg_scores = prob[self.negatives_sorted]
        self.start = np.searchsorted(neg_scores, prob[self.positives], side="left")
        self.end = np.searchsorted(neg_scores, prob[self.positives], side="right")
        self.has_ties = not np.array_equal(self.start, self.end)

    def auc(self, counts: np.ndarray) -> np.ndarray:
        """Weighted ROC AUC of each resample column: P(score_pos > score_neg) + 0.5 P(tie)."""
        neg_cum = np.zeros((len(self.negatives_sorted) + 1, counts.shape[1]), dtype=np.int64)
        np.cumsum(counts[self.negatives_sorted], axis=0, out=neg_cum[1:])
        # twice the Mann-Whitney count: below + (below + tied) = neg_cum[start] + neg_cum[end]
        if self.has_ties:
            twice_below = neg_cum[self.start] + neg_cum[self.end]
        else:
            twice_below = 2 * neg_cum[self.start]
        pos_weights = counts[self.positives]
        # counts * neg_cum reach n^2 (1e10): accumulate in float64, exact below 2^53
        numerator = np.einsum(
            "pb,pb->b", pos_weights.astype(np.float64), twice_below.astype(np.float64)
        )
        numerator /= 2
        n_pos = pos_weights.sum(axis=0, dtype=np.float64)
        n_neg = neg_cum[-1].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return numerator / (n_pos * n_neg)


class Resampled:
    """One predictor's additive sums over a block of resamples: one column per resample.

    What a metric's bootstrap formula reads (:data:`analysis.metrics.METRICS`): the counts of
    correct predictions, positives, negatives and the confusion cells, the per-bin calibration
    residuals, and the weighted ROC AUC.
    """

    def __init__(self, n: int, sums: np.ndarray, model: _Predictor, counts: np.ndarray):
        self.n = n
        self.correct, self.pos, self.neg = sums[_CORRECT], sums[_POS], sums[_NEG]
        self.tp, self.tn, self.fp, self.fn = sums[_TP], sums[_TN], sums[_FP], sums[_FN]
        self.calibration_residuals = sums[7:]  # per bin: sum of (prob - y)
        self._model, self._counts = model, counts

    def auc(self) -> np.ndarray:
        """Weighted ROC AUC of each resample."""
        return self._model.auc(self._counts)


def resample_blocks(
    y_true: np.ndarray,
    predictions: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    resamples: int,
    seed: int,
    bins: int,
) -> Iterator[dict[str, Resampled]]:
    """Yield, block by block, every predictor's sums over the same bootstrap resamples.

    Args:
        y_true: true labels (0/1), one per bio.
        predictions: ``{name: (y_pred, prob)}``, aligned with ``y_true``.
        resamples: number of bootstrap resamples (over all blocks).
        seed: seed of the resampling.
        bins: equal-width bins of the calibration residuals.
    """
    y_true = np.asarray(y_true)
    n = len(y_true)
    models = {
        name: _Predictor(y_true, np.asarray(pred), np.asarray(prob, dtype=np.float64), bins)
        for name, (pred, prob) in predictions.items()
    }
    features = np.vstack([m.features for m in models.values()])
    width = 7 + bins
    # Thin products: more BLAS threads only contend on shared cores (measured 30x slower).
    with threadpool_limits(limits=1, user_api="blas"):
        for counts in resample_counts(n, resamples, seed):
            sums = features @ counts.astype(np.float64)
            yield {
                name: Resampled(n, sums[k * width : (k + 1) * width], model, counts)
                for k, (name, model) in enumerate(models.items())
            }


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile bootstrap interval; NaN resamples are ignored (all NaN gives NaN)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def recentre(values: np.ndarray, value: float) -> np.ndarray:
    """``values`` shifted so that their finite mean is ``value``: the bootstrap's bias taken off.

    For a statistic biased in resamples (GAP^RMS squares noisy gaps:
    :data:`analysis.occupation_metrics.RECENTRED`). Unchanged without a finite value or resample.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0 or not np.isfinite(value):
        return values
    return values - (finite.mean() - value)
