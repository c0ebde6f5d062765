"""A study folder with contract-conforming results for the dashboard tests.

``build_results(study)`` is the ONE place that makes them: from the study's REAL prepared test
split and profile it writes prediction files with plausible probabilities (and the pronoun rule
really counts pronouns), then every analysis file of /work/analysis-contract.md, computed from
those predictions with plain pandas/scipy. Swap its body for a run of the demo pipeline's
stages once the analysis stage exists.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from pipeline import paths
from pipeline.io import write_json, write_text
from pipeline.predictions import predictions_frame, write_predictions
from pipeline.provenance import run_metadata

PREDICTORS = ("zero_shot", "random_head", "lora", "pronoun_rule", "tfidf_logreg")
MIN_GROUP = 5


def build_results(study: Path) -> None:
    """Write predictions and every analysis file into ``study`` (which has data/ prepared)."""
    rng = np.random.default_rng(0)
    test = pd.read_parquet(study / paths.split_path("test"))
    prof = json.loads((study / paths.PROFILE).read_text())
    share_train = {
        name: entry["share_women"] for name, entry in prof["splits"]["train"]["professions"].items()
    }
    female = test["gender_id"].to_numpy()
    share = test["profession"].map(share_train).fillna(0.5).to_numpy()
    she = re.compile(r"\b(she|her|hers|herself)\b", re.I)
    he = re.compile(r"\b(he|him|his|himself)\b", re.I)

    def pronoun_prob(texts: pd.Series) -> np.ndarray:
        f = texts.str.count(she).to_numpy()
        m = texts.str.count(he).to_numpy()
        return (f + 0.5) / (f + m + 1.0)

    def model_prob(strength: float, proxy: float, signal: np.ndarray, noise: float) -> np.ndarray:
        # Gender signal plus a pull towards the profession's majority gender (proxy bias).
        logit = strength * (2 * signal - 1) + proxy * (share - 0.5) * 4
        logit = logit + rng.normal(0, noise, len(signal))
        return 1 / (1 + np.exp(-logit))

    settings = {
        "zero_shot": (0.6, 1.0, 1.2),
        "lora": (3.0, 0.8, 1.5),
        "tfidf_logreg": (2.5, 1.0, 1.5),
    }
    probs: dict[str, np.ndarray] = {}
    probe_probs: dict[tuple[str, str], np.ndarray] = {}
    swapped_text = test["text"].str.replace(
        r"\b(she|he|her|his|him)\b",
        lambda m: {"she": "he", "he": "she", "her": "his", "his": "her", "him": "her"}[
            m.group(0).lower()
        ],
        regex=True,
        flags=re.I,
    )
    removed_text = test["text"].str.replace(she, "", regex=True).str.replace(he, "", regex=True)
    for predictor in PREDICTORS:
        if predictor == "pronoun_rule":
            probs[predictor] = pronoun_prob(test["text"])
            probe_probs[(predictor, "swapped")] = pronoun_prob(swapped_text)
            probe_probs[(predictor, "removed")] = pronoun_prob(removed_text)
        elif predictor == "random_head":
            probs[predictor] = np.clip(0.5 + rng.normal(0, 0.01, len(test)), 0, 1)
            probe_probs[(predictor, "swapped")] = np.clip(
                0.5 + rng.normal(0, 0.01, len(test)), 0, 1
            )
            probe_probs[(predictor, "removed")] = np.clip(
                0.5 + rng.normal(0, 0.01, len(test)), 0, 1
            )
        else:
            strength, proxy, noise = settings[predictor]
            probs[predictor] = model_prob(strength, proxy, female, noise)
            probe_probs[(predictor, "swapped")] = model_prob(strength, proxy, 1 - female, noise)
            probe_probs[(predictor, "removed")] = model_prob(0.2 * strength, proxy, female, noise)
        meta = run_metadata("predict", {"predictor": predictor}, {"model": 0})
        frame = predictions_frame(
            test["id"],
            probs[predictor],
            predictor=predictor,
            model=f"fixture/{predictor}",
            params_hash="fixture",
        )
        write_predictions(frame, study / paths.predictions_path(predictor), meta)

    analysis = study / paths.ANALYSIS_DIR
    analysis.mkdir(parents=True, exist_ok=True)
    labels = {
        "zero_shot": "GPT-2 zero-shot: prompt scoring with the unmodified language model",
        "random_head": "GPT-2 with an untrained classification head (at chance; reference only)",
        "lora": "GPT-2 + LoRA fine-tuned classifier",
        "pronoun_rule": "pronoun-counting rule (baseline)",
        "tfidf_logreg": "TF-IDF + logistic regression (baseline)",
    }

    def ece(y: np.ndarray, p: np.ndarray) -> float:
        bins = np.minimum((p * 10).astype(int), 9)
        frame = pd.DataFrame({"bin": bins, "y": y, "p": p}).groupby("bin")
        return float((frame.size() / len(y) * (frame["p"].mean() - frame["y"].mean()).abs()).sum())

    scorers = {
        "balanced_accuracy": lambda y, p: balanced_accuracy_score(y, p >= 0.5),
        "f1": lambda y, p: f1_score(y, p >= 0.5, zero_division=0.0),
        "roc_auc": lambda y, p: roc_auc_score(y, p) if len(set(y)) > 1 else np.nan,
        "ece": ece,
    }
    boot = [rng.integers(0, len(test), len(test)) for _ in range(100)]
    overall_rows = []
    for predictor in PREDICTORS:
        p = probs[predictor]
        correct = int(((p >= 0.5).astype(int) == female).sum())
        low, high = proportion_confint(correct, len(test), method="wilson")
        overall_rows.append(
            dict(
                predictor=predictor,
                metric="accuracy",
                value=correct / len(test),
                ci_low=low,
                ci_high=high,
                ci_method="wilson",
                n=len(test),
            )
        )
        for metric, score in scorers.items():
            values = [score(female[idx], p[idx]) for idx in boot]
            overall_rows.append(
                dict(
                    predictor=predictor,
                    metric=metric,
                    value=float(score(female, p)),
                    ci_low=float(np.nanpercentile(values, 2.5)),
                    ci_high=float(np.nanpercentile(values, 97.5)),
                    ci_method="bootstrap",
                    n=len(test),
                )
            )
    overall = pd.DataFrame(overall_rows)
    overall.to_csv(analysis / "overall.csv", index=False)

    pair_rows = []
    right = {k: ((v >= 0.5).astype(int) == female) for k, v in probs.items()}
    for a, b in itertools.combinations(PREDICTORS, 2):
        ra, rb = right[a], right[b]
        b_only, a_only = int((~ra & rb).sum()), int((ra & ~rb).sum())
        p_value = stats.binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
        diffs = [rb[idx].mean() - ra[idx].mean() for idx in boot]
        pair_rows.append(
            dict(
                predictor_a=a,
                predictor_b=b,
                n=len(test),
                both_correct=int((ra & rb).sum()),
                a_only_correct=a_only,
                b_only_correct=b_only,
                both_wrong=int((~ra & ~rb).sum()),
                p_value=p_value,
                acc_a=ra.mean(),
                acc_b=rb.mean(),
                acc_diff=rb.mean() - ra.mean(),
                diff_ci_low=np.percentile(diffs, 2.5),
                diff_ci_high=np.percentile(diffs, 97.5),
            )
        )
    pairs = pd.DataFrame(pair_rows)
    pairs["p_holm"] = multipletests(pairs["p_value"], method="holm")[1]
    pairs["verdict"] = [
        f"{r.predictor_b if r.acc_diff > 0 else r.predictor_a} is more accurate by "
        f"{abs(r.acc_diff):.3f}; "
        + ("significant" if r.p_holm < 0.05 else "not significant")
        + " after Holm correction."
        for r in pairs.itertuples()
    ]
    pairs.to_csv(analysis / "pairs.csv", index=False)

    joined = pd.concat(
        [
            test[["profession_id", "profession", "gender", "gender_id"]].assign(
                predictor=k, pred=(v >= 0.5).astype(int), prob=v
            )
            for k, v in probs.items()
        ]
    )
    joined["error"] = joined["pred"] != joined["gender_id"]
    groups = (
        joined.groupby(["predictor", "profession_id", "profession", "gender"])
        .agg(n=("error", "size"), errors=("error", "sum"))
        .reset_index()
    )
    groups["error_rate"] = groups["errors"] / groups["n"]
    ci = proportion_confint(groups["errors"], groups["n"], method="wilson")
    groups["error_ci_low"], groups["error_ci_high"] = ci
    groups["tpr"] = 1 - groups["error_rate"]
    groups["small"] = groups["n"] < MIN_GROUP
    groups.to_csv(analysis / "groups.csv", index=False)

    wide = groups.pivot_table(
        index=["predictor", "profession_id", "profession"],
        columns="gender",
        values=["n", "errors"],
        fill_value=0,
    )
    gaps = pd.DataFrame(index=wide.index).reset_index()
    gaps["n_female"] = wide[("n", "female")].to_numpy().astype(int)
    gaps["n_male"] = wide[("n", "male")].to_numpy().astype(int)
    hit_f = gaps["n_female"] - wide[("errors", "female")].to_numpy()
    hit_m = gaps["n_male"] - wide[("errors", "male")].to_numpy()
    gaps["tpr_female"] = hit_f / gaps["n_female"].where(gaps["n_female"] > 0)
    gaps["tpr_male"] = hit_m / gaps["n_male"].where(gaps["n_male"] > 0)
    gaps["gap"] = gaps["tpr_female"] - gaps["tpr_male"]
    se = np.sqrt(
        gaps["tpr_female"] * (1 - gaps["tpr_female"]) / gaps["n_female"]
        + gaps["tpr_male"] * (1 - gaps["tpr_male"]) / gaps["n_male"]
    )
    gaps["gap_ci_low"], gaps["gap_ci_high"] = gaps["gap"] - 1.96 * se, gaps["gap"] + 1.96 * se
    gaps["p_value"] = [
        stats.fisher_exact([[hf, nf - hf], [hm, nm - hm]]).pvalue if nf and nm else np.nan
        for hf, nf, hm, nm in zip(hit_f, gaps["n_female"], hit_m, gaps["n_male"], strict=True)
    ]
    for method, column in (("holm", "p_holm"), ("fdr_bh", "p_bh")):
        gaps[column] = np.nan
        for _, idx in gaps.dropna(subset=["p_value"]).groupby("predictor").groups.items():
            gaps.loc[idx, column] = multipletests(gaps.loc[idx, "p_value"], method=method)[1]
    gaps["share_women"] = gaps["profession"].map(share_train)
    gaps["small"] = (gaps[["n_female", "n_male"]].min(axis=1)) < MIN_GROUP
    gaps.to_csv(analysis / "gaps.csv", index=False)

    proxy_rows = []
    for predictor, part in gaps.dropna(subset=["gap", "share_women"]).groupby("predictor"):
        if part["gap"].nunique() < 2:  # e.g. a perfect rule: no correlation is defined
            r = p_r = rho = p_rho = np.nan
        else:
            r, p_r = stats.pearsonr(part["share_women"], part["gap"])
            rho, p_rho = stats.spearmanr(part["share_women"], part["gap"])
        slope, intercept = np.polyfit(part["share_women"], part["gap"], 1)
        proxy_rows.append(
            dict(
                predictor=predictor,
                n_professions=len(part),
                pearson_r=r,
                pearson_p=p_r,
                spearman_rho=rho,
                spearman_p=p_rho,
                slope=slope,
                intercept=intercept,
            )
        )
    pd.DataFrame(proxy_rows).to_csv(analysis / "proxy.csv", index=False)

    joined["bin"] = np.minimum((joined["prob"] * 10).astype(int), 9)
    calibration = (
        joined.groupby(["predictor", "bin"])
        .agg(
            mean_predicted=("prob", "mean"),
            fraction_female=("gender_id", "mean"),
            count=("prob", "size"),
        )
        .reset_index()
    )
    calibration.to_csv(analysis / "calibration.csv", index=False)

    probe_rows = []
    for (predictor, variant), p_probe in probe_probs.items():
        orig = (probs[predictor] >= 0.5).astype(int)
        new = (p_probe >= 0.5).astype(int)
        expected = 1 - female if variant == "swapped" else female
        frame = pd.DataFrame(
            {"profession": test["profession"], "flip": new != orig, "right": new == expected}
        )
        parts = [("all", frame), *frame.groupby("profession")]
        for name, part in parts:
            probe_rows.append(
                dict(
                    predictor=predictor,
                    profession=name,
                    variant=variant,
                    n=len(part),
                    flip_rate=part["flip"].mean(),
                    accuracy=part["right"].mean(),
                )
            )
    pd.DataFrame(probe_rows).to_csv(analysis / "probes.csv", index=False)

    metrics = {
        "data": {"source": prof["source"], "synthetic": prof["synthetic"], "n_test": len(test)},
        "predictors": {
            predictor: {
                "label": labels[predictor],
                "n": len(test),
                **{
                    r.metric: {"value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high}
                    for r in overall[overall["predictor"] == predictor].itertuples()
                },
            }
            for predictor in PREDICTORS
        },
        "pairs": {
            f"{r.predictor_a}__vs__{r.predictor_b}": {
                "p_value": r.p_value,
                "acc_diff": r.acc_diff,
                "diff_ci_low": r.diff_ci_low,
                "diff_ci_high": r.diff_ci_high,
            }
            for r in pairs.itertuples()
        },
        "run": run_metadata("analyze", {"min_group_size": MIN_GROUP}, {"bootstrap": 0}),
    }
    write_json(metrics, analysis / "metrics.json")
    write_text(
        "# Fixture report\n\nAccuracy per predictor:\n\n"
        + "\n".join(
            f"- {r.predictor}: {r.value:.4f}"
            for r in overall[overall["metric"] == "accuracy"].itertuples()
        )
        + "\n",
        analysis / "report.md",
    )


@pytest.fixture(scope="session")
def results_study(tmp_path_factory, tiny_study_template) -> Path:
    """A read-only study folder: real prepared split + profile, fixture predictions + analysis."""
    study = tmp_path_factory.mktemp("results") / "study"
    (study / paths.SPLITS_DIR).mkdir(parents=True)
    shutil.copy2(tiny_study_template / "params.yaml", study / "params.yaml")
    shutil.copy2(tiny_study_template / paths.PROFILE, study / paths.PROFILE)
    shutil.copy2(tiny_study_template / paths.split_path("test"), study / paths.split_path("test"))
    build_results(study)
    return study


@pytest.fixture
def results_copy(tmp_path, results_study) -> Path:
    """A private, writable copy of :func:`results_study`."""
    return Path(shutil.copytree(results_study, tmp_path / "study"))
