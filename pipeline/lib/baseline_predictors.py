"""The baselines: simple predictors that tell the reader what "good" means on this data.

- ``pronoun_rule``: counts female and male gendered words (:mod:`pipeline.lib.gendered_words`);
  ``prob_female = (female + s) / (female + male + 2s)`` with ``s`` = ``smoothing`` (add-one for
  s = 1: more evidence, a surer answer). A tie (including a bio with no gendered word) gets the
  train split's share of women, so it predicts the majority gender of the training data.
- ``tfidf_logreg``: TF-IDF (word n-grams) + logistic regression (lbfgs, deterministic) fitted on
  the train split; multinomial over the 28 occupations in the occupation task.
- ``majority`` (occupation task): the train split's class frequencies for every bio, so its
  answer is always the most frequent occupation.

Each is fitted on the train split (columns ``text`` and ``label``: the task's label,
:mod:`pipeline.lib.tasks`) by a function registered in :data:`BASELINES` and returns a scorer
of texts: P(female) per text for the gender task, the K class probabilities for a K-class task;
the ``baselines`` stage and ``pipeline.commands.score`` run them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from pipeline.lib.errors import SuiteError
from pipeline.lib.gendered_words import count_gendered
from pipeline.lib.prediction_files import class_predictions_frame, predictions_frame
from pipeline.lib.predictor_settings import PronounRuleParams, TfidfParams
from pipeline.lib.provenance import params_hash

log = logging.getLogger(__name__)


def pronoun_rule_prob(texts: Sequence[str], tie_prob: float, smoothing: float = 1.0) -> np.ndarray:
    """P(female) from gendered-word counts; ``tie_prob`` where the counts are equal."""
    counts = np.array([count_gendered(text) for text in texts], dtype=np.float64).reshape(-1, 2)
    female, male = counts[:, 0], counts[:, 1]
    prob = (female + smoothing) / (female + male + 2.0 * smoothing)
    return np.where(female == male, tie_prob, prob)


def fit_tfidf_logreg(train: pd.DataFrame, params: TfidfParams):
    """Fit TF-IDF + logistic regression on the train split's texts and labels."""
    if train["label"].nunique() < 2:
        raise SuiteError("the train split holds one class only; cannot fit tfidf_logreg")
    if params.min_df > len(train):
        raise SuiteError(
            f"params.yaml: baselines.tfidf_logreg.min_df = {params.min_df}: larger than the train "
            f"split ({len(train)} bios), so no term could be kept; lower it"
        )
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
    try:
        model.fit(train["text"].tolist(), train["label"].to_numpy())
    except ValueError as err:  # e.g. "After pruning, no terms remain": min_df too high
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SuiteError(
            f"tfidf_logreg cannot be fitted on the train split ({first}); lower "
            f"baselines.tfidf_logreg.min_df (now {params.min_df})"
        ) from None
    return model


Scorer = Callable[[Sequence[str]], np.ndarray]
# (train split, its settings, the task's class count or None for the gender task)
Fitter = Callable[..., tuple[Scorer, str]]
# Every baseline of the catalogue: its name -> a function fitting it on the train split. The
# schema of its settings ``baselines.<name>`` is declared in pipeline.lib.predictor_settings.
BASELINES: dict[str, Fitter] = {}


def baseline(function: Fitter) -> Fitter:
    """Register a baseline under the function's name."""
    if function.__name__ in BASELINES:
        raise ValueError(f"two baselines named {function.__name__!r}")
    BASELINES[function.__name__] = function
    return function


@baseline
def pronoun_rule(
    train: pd.DataFrame, params: PronounRuleParams, classes: int | None = None
) -> tuple[Scorer, str]:
    """The pronoun rule, ties at the train split's share of women: ``(scorer, model label)``."""
    if classes is not None:
        raise SuiteError("pronoun_rule predicts a gender: it is a baseline of the gender task only")
    share_women = float(train["label"].mean())
    label = f"pronoun_rule(smoothing={params.smoothing:g}, tie={share_women:.4f})"
    return lambda texts: pronoun_rule_prob(texts, share_women, params.smoothing), label


@baseline
def tfidf_logreg(
    train: pd.DataFrame, params: TfidfParams, classes: int | None = None
) -> tuple[Scorer, str]:
    """TF-IDF + logistic regression fitted on the train split: ``(scorer, model label)``."""
    model = fit_tfidf_logreg(train, params)
    log.info("fitted tfidf_logreg on %d train bios", len(train))
    label = f"tfidf_logreg(scikit-learn {sklearn.__version__})"
    if classes is None:
        return lambda texts: model.predict_proba(list(texts))[:, 1], label
    seen = model.classes_.astype(np.int64)  # a class without train bios gets probability 0

    def scorer(texts: Sequence[str]) -> np.ndarray:
        probs = np.zeros((len(texts), classes))
        probs[:, seen] = model.predict_proba(list(texts))
        return probs

    return scorer, label


@baseline
def majority(train: pd.DataFrame, params: object, classes: int | None = None) -> tuple[Scorer, str]:
    """Every bio gets the train split's class frequencies: ``(scorer, model label)``."""
    if classes is None:
        raise SuiteError("majority is a baseline of the occupation task (K classes)")
    frequencies = np.bincount(train["label"].to_numpy(np.int64), minlength=classes) / len(train)
    top = int(frequencies.argmax())
    label = f"majority(class {top}, train share {frequencies[top]:.4f})"
    return lambda texts: np.tile(frequencies, (len(texts), 1)), label


def params_keys(baseline: str) -> tuple[str, ...]:
    """The params one baseline's stage reads (``dvc.yaml`` lists the same)."""
    return (f"baselines.{baseline}",)


def predict_baseline(
    name: str,
    train: pd.DataFrame,
    targets: dict[str, pd.DataFrame],
    params: object,
    classes: int | None = None,
) -> dict[str, pd.DataFrame]:
    """One baseline's predictions on each frame of ``targets`` (columns ``id``, ``text``).

    ``train`` has columns ``text`` and ``label``; ``classes``: the task's class count (None:
    the gender task, whose predictions are P(female)).
    """
    scorer, label = BASELINES[name](train, params, classes)
    identity = params_hash({f"baselines.{name}": params})
    make = predictions_frame if classes is None else class_predictions_frame
    return {
        target: make(
            frame["id"],
            scorer(frame["text"].tolist()),
            predictor=name,
            model=label,
            params_hash=identity,
        )
        for target, frame in targets.items()
    }
