"""Benchmark: the analyze core on the real study's size (99,069 test bios x 4 predictors).

Runs the stage's pure core (:func:`analysis.analyze.analyze`) with 1,000 bootstrap resamples
on synthetic bios and predictions (no files, no models), prints the time of each part, and
measures side by side a naive bootstrap (one Python iteration and scikit-learn call per
resample) on a few resamples, extrapolated, for the speed-up ratio.

Run from the repo root: ``python benchmarks/bench_analyze.py [--bios N] [--resamples R]``.
Target (issue 5): under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from analysis.analyze import analyze
from analysis.metrics import bootstrap_metrics, expected_calibration_error
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.params import parse_key, read_params
from pipeline.lib.synthetic_sample import PROFESSION_STATS


def synthetic_study(n: int, seed: int = 0):
    """Test bios with realistic profession sizes and shares, and 4 predictors' outputs."""
    rng = np.random.default_rng(seed)
    weights = np.array([PROFESSION_STATS[p][1] for p in PROFESSIONS])
    shares = np.array([PROFESSION_STATS[p][0] for p in PROFESSIONS])
    profession = rng.choice(len(PROFESSIONS), size=n, p=weights / weights.sum())
    gender = (rng.uniform(size=n) < shares[profession]).astype(np.int64)
    test = pd.DataFrame(
        {
            "id": [f"bio-{i}" for i in range(n)],
            "profession_id": profession,
            "profession": np.array(PROFESSIONS, dtype=object)[profession],
            "gender_id": gender,
        }
    )
    predictions = {}
    for name, noise in (("zero_shot", 0.9), ("random_head", None), ("lora", 0.08), ("tfidf", 0.2)):
        if noise is None:
            prob = rng.uniform(0.45, 0.55, n)
        else:
            prob = 1 / (1 + np.exp(-(gender - 0.5) * 6 / (noise * 6) - rng.normal(0, 1, n)))
        predictions[name] = pd.DataFrame(
            {"id": test["id"], "prob_female": prob, "pred": (prob >= 0.5).astype(np.int64)}
        )
    return test, predictions, pd.Series(shares, index=pd.RangeIndex(28, name="profession_id"))


def naive_bootstrap_seconds(y, pred, prob, resamples: int, seed: int = 0) -> float:
    """Seconds per resample of a loop: one index draw + scikit-learn metrics per resample."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        yy, pp, sc = y[idx], pred[idx], prob[idx]
        balanced_accuracy_score(yy, pp)
        f1_score(yy, pp)
        roc_auc_score(yy, sc)
        expected_calibration_error(y_true=yy, prob=sc)
    return (time.perf_counter() - started) / resamples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bios", type=int, default=99_069)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=10)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus visible, "
        f"python {platform.python_version()}"
    )
    print(f"load average before: {os.getloadavg()}")
    test, predictions, shares = synthetic_study(args.bios)
    # The real study's analysis settings (params.yaml), with the resamples asked for.
    study = read_params(Path(__file__).resolve().parents[1] / "params.yaml")
    study["analyze"]["bootstrap_resamples"] = args.resamples
    params = parse_key(study, "analyze")
    y = test["gender_id"].to_numpy()

    started = time.perf_counter()
    arrays = {
        k: (f["pred"].to_numpy(), f["prob_female"].to_numpy()) for k, f in predictions.items()
    }
    bootstrap_metrics(y, arrays, resamples=args.resamples, seed=0, bins=10)
    core = time.perf_counter() - started
    print(
        f"bootstrap core alone: {core:.1f} s ({len(predictions)} predictors x "
        f"{args.resamples} resamples x {args.bios:,} bios)"
    )

    started = time.perf_counter()
    result = analyze(test, predictions, shares, params, seed=0, data={"source": "bench"})
    total = time.perf_counter() - started
    print(
        f"analyze core (everything): {total:.1f} s -> target < 30 s: "
        f"{'MET' if total < 30 else 'MISSED'}"
    )
    print(
        f"  tables: {len(result.groups)} group rows, {len(result.gaps)} gap rows, "
        f"{len(result.pairs)} pairs"
    )

    per_resample = naive_bootstrap_seconds(y, *arrays["lora"], resamples=args.naive_resamples)
    naive = per_resample * args.resamples * len(predictions)
    print(
        f"naive loop (measured on {args.naive_resamples} resamples, extrapolated): {naive:.0f} s "
        f"for the same bootstrap -> vectorised is {naive / core:.0f}x faster"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
