"""``baselines`` stage: simple predictors that tell the reader what "good" means here.

One stage per baseline of the catalogue (``python -m pipeline.baselines <name>``), each with its
own params key ``baselines.<name>``:

- ``pronoun_rule``: counts female and male gendered words (:mod:`pipeline.gendered_words`);
  ``prob_female = (female + s) / (female + male + 2s)`` with ``s`` = ``smoothing`` (add-one for
  s = 1: more evidence, a surer answer). A tie (including a bio with no gendered word) gets the
  train split's share of women, so it predicts the majority gender of the training data.
- ``tfidf_logreg``: TF-IDF (word n-grams) + logistic regression (lbfgs, deterministic) fitted on
  the train split.

Each writes the shared predictions schema for the test split (``results/predictions/``) and for
the probe texts (``results/probes/``). Run from a study directory.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from pipeline import paths
from pipeline.errors import SuiteError, run_main
from pipeline.gendered_words import count_gendered
from pipeline.params import PronounRuleParams, TfidfParams, load_stage_params
from pipeline.predictions import predictions_frame, write_predictions
from pipeline.provenance import params_hash, run_log, run_metadata
from pipeline.tables import read_probes, read_split

log = logging.getLogger(__name__)


def pronoun_rule_prob(texts: Sequence[str], tie_prob: float, smoothing: float = 1.0) -> np.ndarray:
    """P(female) from gendered-word counts; ``tie_prob`` where the counts are equal."""
    counts = np.array([count_gendered(text) for text in texts], dtype=np.float64).reshape(-1, 2)
    female, male = counts[:, 0], counts[:, 1]
    prob = (female + smoothing) / (female + male + 2.0 * smoothing)
    return np.where(female == male, tie_prob, prob)


def fit_tfidf_logreg(train: pd.DataFrame, params: TfidfParams):
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
        LogisticRegression(C=params.C, max_iter=params.max_iter),
    )
    model.fit(train["text"].tolist(), train["gender_id"].to_numpy())
    return model


Scorer = Callable[[Sequence[str]], np.ndarray]


def pronoun_rule(train: pd.DataFrame, params: PronounRuleParams) -> tuple[Scorer, str]:
    """The pronoun rule, ties at the train split's share of women: ``(scorer, model label)``."""
    share_women = float(train["gender_id"].mean())
    label = f"pronoun_rule(smoothing={params.smoothing:g}, tie={share_women:.4f})"
    return lambda texts: pronoun_rule_prob(texts, share_women, params.smoothing), label


def tfidf_logreg(train: pd.DataFrame, params: TfidfParams) -> tuple[Scorer, str]:
    """TF-IDF + logistic regression fitted on the train split: ``(scorer, model label)``."""
    model = fit_tfidf_logreg(train, params)
    log.info("fitted tfidf_logreg on %d train bios", len(train))
    label = f"tfidf_logreg(scikit-learn {sklearn.__version__})"
    return lambda texts: model.predict_proba(list(texts))[:, 1], label


# Every baseline of the catalogue: its name -> a function fitting it on the train split.
BASELINES: dict[str, Callable[..., tuple[Scorer, str]]] = {
    fn.__name__: fn for fn in (pronoun_rule, tfidf_logreg)
}


def params_keys(baseline: str) -> tuple[str, ...]:
    """The params one baseline's stage reads (``dvc.yaml`` lists the same)."""
    return (f"baselines.{baseline}",)


def predict_baseline(
    name: str, train: pd.DataFrame, targets: dict[str, pd.DataFrame], params: object
) -> dict[str, pd.DataFrame]:
    """One baseline's predictions on each frame of ``targets`` (columns ``id``, ``text``)."""
    scorer, label = BASELINES[name](train, params)
    identity = params_hash({f"baselines.{name}": params})
    return {
        target: predictions_frame(
            frame["id"],
            scorer(frame["text"].tolist()),
            predictor=name,
            model=label,
            params_hash=identity,
        )
        for target, frame in targets.items()
    }


def main() -> None:
    """Fit one baseline on the train split; write its test and probe predictions."""
    parser = argparse.ArgumentParser(description="Fit a baseline and predict every bio.")
    parser.add_argument("baseline", choices=sorted(BASELINES))
    args = parser.parse_args()
    params = load_stage_params(params_keys(args.baseline))
    train = read_split(paths.split_path("train"), ("text", "gender_id"))
    targets = {
        "test": read_split(paths.split_path("test"), ("id", "text")),
        "probes": read_probes(paths.PROBES_FILE, ("id", "text")),
    }
    stage = f"baselines@{args.baseline}"
    with run_log(stage):
        own = params[f"baselines.{args.baseline}"]
        frames = predict_baseline(args.baseline, train, targets, own)
        meta = run_metadata(stage, params)
        write_predictions(frames["test"], paths.predictions_path(args.baseline), meta)
        write_predictions(frames["probes"], paths.probe_predictions_path(args.baseline), meta)
        log.info("wrote %s predictions", args.baseline)


if __name__ == "__main__":
    run_main(main)
