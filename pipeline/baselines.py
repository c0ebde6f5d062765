"""``baselines`` stage: two simple predictors that tell the reader what "good" means here.

- ``pronoun_rule``: counts female and male gendered words (:mod:`pipeline.gendered_words`);
  ``prob_female = (female + 1) / (female + male + 2)`` (add-one smoothing, so more evidence means a
  surer answer). A tie (including a bio with no gendered word) gets the train split's share of
  women as its probability, so it predicts the majority gender of the training data.
- ``tfidf_logreg``: TF-IDF (word 1-2 grams) + logistic regression trained on the train split.

Both write the shared predictions schema for the test split (``results/predictions/``) and for the
probe texts (``results/probes/``; the probe stage's ``data/probes/probes.parquet`` is a dep).

Run from a study directory: ``python -m pipeline.baselines`` (params: ``baselines``,
``seeds.train``).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import sklearn
from pydantic import Field
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from pipeline import paths
from pipeline.errors import SuiteError, run_main
from pipeline.gendered_words import count_gendered
from pipeline.params import Section, Seeds, parse_section, read_params
from pipeline.predictions import predictions_frame, write_predictions
from pipeline.provenance import params_hash, run_metadata

log = logging.getLogger(__name__)


class TfidfParams(Section):
    """TF-IDF features and the logistic regression on them."""

    ngram_max: int = Field(2, ge=1, le=3)  # word n-grams 1..ngram_max
    min_df: int = Field(2, ge=1)  # drop terms seen in fewer bios
    max_features: int | None = Field(100_000, ge=1)  # vocabulary cap (null: no cap)
    C: float = Field(1.0, gt=0)  # inverse regularisation strength
    max_iter: int = Field(1000, ge=10)


class BaselinesParams(Section):
    """``baselines``: settings of the pronoun rule and the TF-IDF + logistic regression."""

    tfidf: TfidfParams = TfidfParams()


def pronoun_rule_prob(texts: pd.Series, tie_prob: float) -> np.ndarray:
    """P(female) from gendered-word counts; ``tie_prob`` where the counts are equal."""
    counts = np.array([count_gendered(text) for text in texts], dtype=np.float64).reshape(-1, 2)
    female, male = counts[:, 0], counts[:, 1]
    prob = (female + 1.0) / (female + male + 2.0)
    return np.where(female == male, tie_prob, prob)


def fit_tfidf_logreg(train: pd.DataFrame, params: TfidfParams, seed: int) -> Pipeline:
    """Fit TF-IDF + logistic regression on the train split's texts and gender labels."""
    if train["gender_id"].nunique() < 2:
        raise SuiteError("the train split holds one gender only; cannot fit tfidf_logreg")
    model = make_pipeline(
        TfidfVectorizer(
            ngram_range=(1, params.ngram_max),
            min_df=params.min_df,
            max_features=params.max_features,
            sublinear_tf=True,
            dtype=np.float64,
        ),
        LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=seed),
    )
    model.fit(train["text"].tolist(), train["gender_id"].to_numpy())
    return model


def predict_baselines(
    train: pd.DataFrame,
    targets: dict[str, pd.DataFrame],
    params: BaselinesParams,
    seed: int,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Predictions of both baselines on each frame of ``targets`` (columns ``id``, ``text``).

    Returns ``{baseline: {target_name: predictions frame}}``.
    """
    share_women = float(train["gender_id"].mean())
    identity = params_hash({"baselines": params, "seed": seed})
    tfidf = fit_tfidf_logreg(train, params.tfidf, seed)
    log.info("fitted tfidf_logreg on %d train bios", len(train))
    out: dict[str, dict[str, pd.DataFrame]] = {"pronoun_rule": {}, "tfidf_logreg": {}}
    for name, frame in targets.items():
        out["pronoun_rule"][name] = predictions_frame(
            frame["id"],
            pronoun_rule_prob(frame["text"], tie_prob=share_women),
            predictor="pronoun_rule",
            model=f"pronoun_rule(tie_prob=train share of women {share_women:.4f})",
            params_hash=identity,
        )
        out["tfidf_logreg"][name] = predictions_frame(
            frame["id"],
            tfidf.predict_proba(frame["text"].tolist())[:, 1],
            predictor="tfidf_logreg",
            model=f"tfidf_logreg(scikit-learn {sklearn.__version__})",
            params_hash=identity,
        )
    return out


def main() -> None:
    """Read params, the train and test splits and the probes; write both baselines' predictions."""
    raw = read_params()
    params = parse_section(raw, "baselines", BaselinesParams)
    seeds = parse_section(raw, "seeds", Seeds)
    for split in ("train", "test"):
        paths.require(paths.split_path(split), "prepare")
    paths.require(paths.PROBES_FILE, "probe")
    train = pd.read_parquet(paths.split_path("train"))
    targets = {
        "test": pd.read_parquet(paths.split_path("test"), columns=["id", "text"]),
        "probes": pd.read_parquet(paths.PROBES_FILE, columns=["id", "text"]),
    }
    predictions = predict_baselines(train, targets, params, seeds.train)
    meta = run_metadata("baselines", {"baselines": params}, {"train": seeds.train})
    for baseline, frames in predictions.items():
        write_predictions(frames["test"], paths.predictions_path(baseline), meta)
        write_predictions(frames["probes"], paths.probe_predictions_path(baseline), meta)
        log.info("wrote %s predictions", baseline)


if __name__ == "__main__":
    run_main(main)
