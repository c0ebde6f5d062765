"""Each predictor's own settings: the schema of ``predict.<name>`` and ``baselines.<name>``.

One schema per predictor of the catalogue (``pipeline/catalogue.yaml``) that has settings,
registered by its name in :data:`PREDICT` (model predictors) or :data:`BASELINES`; a predictor
without settings has none here and its key is an empty mapping ``{}``. The loaders
(:mod:`pipeline.lib.model_predictors`) and baselines (:mod:`pipeline.lib.baseline_predictors`)
take their settings typed from here; the params schema (:mod:`pipeline.lib.params`) checks each
key with them. Declared apart from the loaders on purpose: this module imports pydantic only, so
checking a ``params.yaml`` never loads torch, transformers or scikit-learn.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from pipeline.lib.param_types import Bool, Float, Int, NoParams, Section, Seed, Str

# --- model predictors: ``predict.<name>`` -------------------------------------------------------


class ZeroShotParams(Section):
    """``predict.zero_shot``: the prompt and the two continuation lists of the zero-shot base."""

    # The bio alone: GPT-2 is not instruction-tuned, and a bio's next sentence starts with the
    # subject's pronoun. A template may add text around {text}, e.g. "{text} In short,".
    template: Str
    # Continuations, each scored as the sum of its tokens' log-probs; leading space = new word.
    female: list[Str] = Field(min_length=1)
    male: list[Str] = Field(min_length=1)

    @field_validator("template")
    @classmethod
    def _one_slot(cls, template: str) -> str:
        if template.count("{text}") != 1:
            raise ValueError(f"template {template!r} must contain {{text}} exactly once")
        return template

    @model_validator(mode="after")
    def _lists_usable(self) -> ZeroShotParams:
        for name in ("female", "male"):
            if any(not word for word in getattr(self, name)):
                raise ValueError(f"predict.zero_shot.{name} must list non-empty strings")
        overlap = set(self.female) & set(self.male)
        if overlap:
            raise ValueError(f"predict.zero_shot: {sorted(overlap)} is both female and male")
        return self


class RandomHeadParams(Section):
    """``predict.random_head``: the seed of the untrained classification head."""

    seed: Seed


class LoraPredictParams(Section):
    """``predict.lora``: how the trained adapter is scored."""

    # Fold the adapter into the base weights before scoring (peft merge_and_unload): the same
    # function, one matmul per layer instead of three. Differences are float rounding.
    merge_adapter: Bool


# --- baselines: ``baselines.<name>`` -------------------------------------------------------------


class PronounRuleParams(Section):
    """``baselines.pronoun_rule``: P(female) = (female + s) / (female + male + 2s)."""

    smoothing: Float = Field(gt=0)  # s: 1 is add-one smoothing; larger is less sure (finite)


class TfidfParams(Section):
    """``baselines.tfidf_logreg``: TF-IDF features and the logistic regression on them."""

    ngram_max: Int = Field(ge=1, le=3)  # word n-grams 1..ngram_max
    min_df: Int = Field(ge=1)  # drop terms seen in fewer bios
    max_features: Int | None = Field(ge=1)  # vocabulary cap (null: no cap)
    C: Float = Field(gt=0)  # inverse regularisation strength
    max_iter: Int = Field(ge=10)


PREDICT: dict[str, type[Section]] = {
    "zero_shot": ZeroShotParams,
    "random_head": RandomHeadParams,
    "lora": LoraPredictParams,
}
BASELINES: dict[str, type[Section]] = {
    "pronoun_rule": PronounRuleParams,
    "tfidf_logreg": TfidfParams,
}


def predict_schema(name: str) -> type[Section]:
    """The schema of ``predict.<name>`` (:class:`NoParams` for a predictor without settings)."""
    return PREDICT.get(name, NoParams)


def baseline_schema(name: str) -> type[Section]:
    """The schema of ``baselines.<name>`` (:class:`NoParams` for a baseline without settings)."""
    return BASELINES.get(name, NoParams)
