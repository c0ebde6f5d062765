"""Each predictor's own settings: ``predict.<name>``, ``baselines.<name>`` and a recipe ``<name>``.

One schema per predictor of the catalogue (``pipeline/catalogue.yaml``) that has settings,
registered by its name in :data:`PREDICT` (model predictors) or :data:`BASELINES`; a predictor
without settings has none here and its key is an empty mapping ``{}``. A trained predictor
(the catalogue's ``trained``) also has its training recipe, the top-level section ``<name>``
of ``params.yaml`` (``lora``, ``head_only``), registered in :data:`TRAIN`: every recipe shares
:class:`TrainingParams` (optimisation, dev selection, checkpoints) and adds its own. The loaders
(:mod:`pipeline.lib.model_predictors`) and baselines (:mod:`pipeline.lib.baseline_predictors`)
take their settings typed from here; the params schema (:mod:`pipeline.lib.params`) checks each
key with them. Declared apart from the loaders on purpose: this module imports pydantic only, so
checking a ``params.yaml`` never loads torch, transformers or scikit-learn.
"""

from __future__ import annotations

from typing import Literal

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


class OccupationZeroShotParams(Section):
    """``occupation.zero_shot``: the prompt after which the zero-shot LM names the occupation."""

    # The prompt; {text} is the bio. Each occupation's name (pipeline.lib.labels.occupation_name,
    # "interior designer") is scored as its continuation, after a space.
    template: Str
    # How a multi-token name is scored: sum of its tokens' log-probabilities (the probability of
    # the whole name; favours short names) or their mean (per token; no length penalty).
    length: Literal["sum", "mean"]

    @field_validator("template")
    @classmethod
    def _one_slot(cls, template: str) -> str:
        if template.count("{text}") != 1:
            raise ValueError(f"template {template!r} must contain {{text}} exactly once")
        return template


class RandomHeadParams(Section):
    """``predict.random_head``: the seed of the untrained classification head."""

    seed: Seed


class LoraPredictParams(Section):
    """``predict.lora``: how the trained adapter is scored."""

    # Fold the adapter into the base weights before scoring (peft merge_and_unload): the same
    # function, one matmul per layer instead of three. Differences are float rounding.
    merge_adapter: Bool


class HeadOnlyPredictParams(Section):
    """``predict.head_only``: nothing to choose (the frozen base and the trained head)."""


class ErasedHeadPredictParams(Section):
    """``predict.leace_head_only``: nothing to choose (the run holds its eraser and head)."""


# --- trained predictors' recipes: ``<name>`` ----------------------------------------------------


class TrainingParams(Section):
    """What every trained predictor's recipe sets: optimisation, dev selection, checkpoints."""

    # Above 1 AdamW's first steps move each weight by about the learning rate: it diverges.
    learning_rate: Float = Field(gt=0, le=1)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"]
    warmup_ratio: Float = Field(ge=0, lt=1)  # share of the steps spent warming up
    weight_decay: Float = Field(ge=0)
    max_grad_norm: Float = Field(gt=0)
    epochs: Float = Field(gt=0)  # passes over the train split (ignored if max_steps is set)
    max_steps: Int | None = Field(ge=1)  # optimizer steps; overrides epochs
    batch_size: Int = Field(ge=1)  # bios per device per forward pass
    gradient_accumulation_steps: Int = Field(ge=1)  # forward passes per optimizer step
    eval_batch_size: Int = Field(ge=1)
    max_length: Int = Field(ge=8)  # tokens kept per bio
    eval_steps: Int = Field(ge=1)  # score on dev every this many optimizer steps
    metric_for_best_model: Literal["accuracy", "loss"]  # on dev
    early_stopping_patience: Int | None = Field(ge=1)  # evaluations without a gain
    checkpoint_steps: Int = Field(ge=1)  # resumable checkpoint every this many steps


class LoraParams(TrainingParams):
    """``lora``: the adapter, the optimisation and model selection on dev."""

    r: Int = Field(ge=1)  # LoRA rank
    alpha: Float = Field(gt=0)  # scaling numerator: updates are scaled by alpha / r
    dropout: Float = Field(ge=0, lt=1)  # dropout on the LoRA branch
    # GPT-2's attention (c_attn) and projection (c_proj: attention output and MLP output) layers;
    # with r 8 that is 811,008 LoRA parameters + 1,536 head = 812,544 trainable on GPT-2 124M.
    target_modules: list[Str] = Field(min_length=1)
    fan_in_fan_out: Bool  # GPT-2's Conv1D stores weights as (in, out)

    @field_validator("target_modules")
    @classmethod
    def _sorted_unique(cls, modules: list[str]) -> list[str]:
        # peft keeps them as a set: one order everywhere, whatever order the file gives.
        return sorted(set(modules))


class HeadOnlyParams(TrainingParams):
    """``head_only``: the classification head on the frozen base; the shared recipe only."""


class ErasedHeadParams(TrainingParams):
    """``leace_head_only``: a head behind the LEACE eraser on the frozen base; shared recipe."""


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
    "head_only": HeadOnlyPredictParams,
    "leace_head_only": ErasedHeadPredictParams,
}
TRAIN: dict[str, type[TrainingParams]] = {
    "lora": LoraParams,
    "head_only": HeadOnlyParams,
    "leace_head_only": ErasedHeadParams,
}
BASELINES: dict[str, type[Section]] = {
    "pronoun_rule": PronounRuleParams,  # gender task only
    "tfidf_logreg": TfidfParams,
}


def predict_schema(name: str) -> type[Section]:
    """The schema of ``predict.<name>`` (:class:`NoParams` for a predictor without settings)."""
    return PREDICT.get(name, NoParams)


def baseline_schema(name: str) -> type[Section]:
    """The schema of ``baselines.<name>`` (:class:`NoParams` for a baseline without settings)."""
    return BASELINES.get(name, NoParams)


def train_schema(name: str) -> type[TrainingParams]:
    """The schema of trained predictor ``name``'s recipe, the section ``<name>``."""
    if name not in TRAIN:
        raise KeyError(f"trained predictor {name!r} has no recipe schema in {__name__}.TRAIN")
    return TRAIN[name]
