"""The study's params: the schema of every ``params.yaml`` section, and typed, checked reading.

``params.yaml`` is the whole truth: every schema field is REQUIRED (no default lives in code,
where DVC could not see it), so a params file lists every setting that can change an output,
and ``dvc.yaml`` lists, per stage, exactly the keys that stage reads. A stage declares those
keys once, in its module's ``PARAMS``; :func:`load_stage_params` hands it those and refuses any
other (``tests/test_dvc_pipeline.py`` checks that ``PARAMS`` equals the stage's ``params:``).

A bad value stops the stage with one line naming the key, the value and what is allowed::

    params.yaml: data.max_rows.train = -5: Input should be greater than or equal to 1

Types are strict: ``true`` is not a number, ``"8"`` is not an integer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError

PARAMS_FILE = "params.yaml"
# Local data files must lie in paths.RAW_DATA_DIR (relative to the study directory): the
# prepare stage depends on that folder, so editing a file reruns prepare and whatever its
# changed outputs feed.
RAW_DATA_DIR = PurePosixPath(paths.RAW_DATA_DIR)
# A pinned hub revision belongs to its model: a known commit under another model name is a
# mistake (e.g. model.name changed with -S but model.revision still GPT-2's).
KNOWN_REVISIONS = {"607a30d783dfa663caf39e06633721c8d4cfcd7e": ("openai-community/gpt2", "gpt2")}


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


Int = Annotated[int, Strict()]  # rejects true/false, "8" and 8.0
Float = Annotated[float, BeforeValidator(_not_bool)]  # 2, 2.0 and "2e-5" (YAML 1.1) are fine
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]


class Section(BaseModel):
    """Base of every params section: every key required, unknown keys are errors, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- seeds ---------------------------------------------------------------------------------------


class Seeds(Section):
    """``seeds``: every random step of the study takes its seed from here or its own section."""

    data: Int = Field(ge=0)  # split subsampling, the synthetic sample, the probed bios
    model: Int = Field(ge=0)  # tiny-model tokenizer and pretraining
    train: Int = Field(ge=0)  # LoRA initialisation, data order, dropout
    bootstrap: Int = Field(ge=0)  # bootstrap resampling in the analysis


# --- data ----------------------------------------------------------------------------------------


class HubData(Section):
    """The real dataset on the Hugging Face Hub."""

    name: Str
    revision: Str | None  # a commit sha freezes the study; null: the hub's latest (unpinned)


def _inside_raw_dir(path: str | None, key: str) -> str | None:
    if path is None:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.is_relative_to(RAW_DATA_DIR):
        raise ValueError(
            f"data.local.{key} = {path!r}: local files must lie in {RAW_DATA_DIR}/ of the study "
            "directory, which DVC tracks (copy or link them there, or `dvc add` them there)"
        )
    return str(pure)


class LocalData(Section):
    """Local files with the dataset's columns: one per split, or one with a split column."""

    train: Str | None
    dev: Str | None
    test: Str | None
    path: Str | None  # a single file holding every split
    split_column: Str

    @model_validator(mode="after")
    def _one_layout(self) -> LocalData:
        per_split = [self.train, self.dev, self.test]
        if self.path is None and any(p is None for p in per_split):
            raise ValueError("give data.local.path, or all of data.local.train/dev/test")
        if self.path is not None and any(p is not None for p in per_split):
            raise ValueError("give data.local.path or data.local.train/dev/test, not both")
        for key in ("train", "dev", "test", "path"):
            _inside_raw_dir(getattr(self, key), key)
        return self


class SampleData(Section):
    """Size of the bundled synthetic sample (generated, deterministic, labelled synthetic)."""

    train: Int = Field(ge=10)
    dev: Int = Field(ge=10)
    test: Int = Field(ge=10)


class MaxRows(Section):
    """Rows kept per split after stratified subsampling; null keeps every row."""

    train: Int | None = Field(ge=1)
    dev: Int | None = Field(ge=1)
    test: Int | None = Field(ge=1)


class DataParams(Section):
    """``data``: where the bios come from and how many of them the study uses."""

    source: Literal["hub", "local", "sample"]
    hub: HubData
    local: LocalData | None  # null unless source is local
    sample: SampleData
    max_rows: MaxRows

    @model_validator(mode="after")
    def _local_needs_files(self) -> DataParams:
        if self.source == "local" and self.local is None:
            raise ValueError("data.source is 'local' but data.local names no files")
        return self


# --- model ---------------------------------------------------------------------------------------


class TinyModelParams(Section):
    """Shape and brief causal-LM pretraining of the tiny local GPT-2 (demo and tests)."""

    vocab_size: Int = Field(ge=300)
    n_layer: Int = Field(ge=1)
    n_head: Int = Field(ge=1)
    n_embd: Int = Field(ge=8)
    n_positions: Int = Field(ge=32)
    pretrain_steps: Int = Field(ge=0)
    batch_size: Int = Field(ge=1)
    learning_rate: Float = Field(gt=0)
    max_length: Int = Field(ge=8)

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyModelParams:
        if self.n_embd % self.n_head:
            raise ValueError(
                f"model.tiny.n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})"
            )
        return self


class ModelParams(Section):
    """``model``: the base GPT-2 every predictor starts from."""

    source: Literal["hub", "local", "tiny"]
    name: Str  # hub id, for source: hub
    revision: Str | None  # the hub commit of `name`; null: the hub's latest (unpinned)
    path: Str | None  # a local model folder, for source: local
    tiny: TinyModelParams

    @model_validator(mode="after")
    def _consistent(self) -> ModelParams:
        if self.source == "local" and not self.path:
            raise ValueError("model.source is 'local' but model.path is not set")
        owners = KNOWN_REVISIONS.get(self.revision or "")
        if self.source == "hub" and owners and self.name not in owners:
            raise ValueError(
                f"model.revision {self.revision[:12]}... is the pinned commit of {owners[0]}, "
                f"not of {self.name!r}: set model.revision to that model's commit sha, or to "
                "null for the hub's latest (unpinned)"
            )
        return self


# --- predict -------------------------------------------------------------------------------------


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

    seed: Int = Field(ge=0)


class LoraPredictParams(Section):
    """``predict.lora``: how the trained adapter is scored."""

    # Fold the adapter into the base weights before scoring (peft merge_and_unload): the same
    # function, one matmul per layer instead of three. Differences are float rounding.
    merge_adapter: Bool


class NoParams(Section):
    """The own key of a model predictor without settings: ``predict.<name>: {}``."""


# The own settings of each model predictor (``predict.<name>``); a predictor of the catalogue
# that is not listed here has none (NoParams).
OWN_PARAMS: dict[str, type[Section]] = {
    "zero_shot": ZeroShotParams,
    "random_head": RandomHeadParams,
    "lora": LoraPredictParams,
}


class PredictParams(Section):
    """``predict``: device, batching and truncation of every model predictor, and their own keys.

    Besides the shared keys, every model predictor of the catalogue has its own key
    ``predict.<name>`` (its settings, or ``{}``): one per predictor, no other.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    device: Literal["auto", "cpu", "cuda"]  # auto: CUDA (bfloat16 weights) if present, else CPU
    batch_size: Int | None = Field(ge=1)  # bios per batch; null: 32 on CPU, 256 on CUDA
    max_length: Int = Field(ge=8)  # tokens per bio (prompt); longer bios are truncated

    @classmethod
    def own_schema(cls, name: str) -> type[Section] | None:
        """The schema of ``predict.<name>`` if ``name`` is a model predictor, else None."""
        from pipeline.lib import catalogue

        return OWN_PARAMS.get(name, NoParams) if name in catalogue.names("model") else None

    @model_validator(mode="after")
    def _one_key_per_model_predictor(self) -> PredictParams:
        from pipeline.lib import catalogue

        own = dict(self.model_extra or {})
        models = catalogue.names("model")
        for name in own:
            if name not in models:
                allowed = ", ".join([*type(self).model_fields, *models])
                raise ValueError(f"unknown key predict.{name}; allowed here: {allowed}")
        for name in models:
            if name not in own:
                raise ValueError(f"missing key predict.{name} (the settings of {name}, or {{}})")
            schema = OWN_PARAMS.get(name, NoParams)
            try:
                object.__setattr__(self, name, schema.model_validate(own[name]))
            except ValidationError as err:
                raise ValueError(_one_line(err, f"predict.{name}", "").removeprefix(": ")) from None
        return self


# --- lora ----------------------------------------------------------------------------------------


class LoraParams(Section):
    """``lora``: the adapter, the optimisation and model selection on dev."""

    r: Int = Field(ge=1)  # LoRA rank
    alpha: Float = Field(gt=0)  # scaling numerator: updates are scaled by alpha / r
    dropout: Float = Field(ge=0, lt=1)  # dropout on the LoRA branch
    # GPT-2's attention (c_attn) and projection (c_proj: attention output and MLP output) layers;
    # with r 8 that is 811,008 LoRA parameters + 1,536 head = 812,544 trainable on GPT-2 124M.
    target_modules: list[Str] = Field(min_length=1)
    fan_in_fan_out: Bool  # GPT-2's Conv1D stores weights as (in, out)
    learning_rate: Float = Field(gt=0)
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

    @field_validator("target_modules")
    @classmethod
    def _sorted_unique(cls, modules: list[str]) -> list[str]:
        # peft keeps them as a set: one order everywhere, whatever order the file gives.
        return sorted(set(modules))


# --- baselines, probe, analyze -------------------------------------------------------------------


class PronounRuleParams(Section):
    """``baselines.pronoun_rule``: P(female) = (female + s) / (female + male + 2s)."""

    smoothing: Float = Field(gt=0)  # s: 1 is add-one smoothing; larger is less sure


class TfidfParams(Section):
    """``baselines.tfidf_logreg``: TF-IDF features and the logistic regression on them."""

    ngram_max: Int = Field(ge=1, le=3)  # word n-grams 1..ngram_max
    min_df: Int = Field(ge=1)  # drop terms seen in fewer bios
    max_features: Int | None = Field(ge=1)  # vocabulary cap (null: no cap)
    C: Float = Field(gt=0)  # inverse regularisation strength
    max_iter: Int = Field(ge=10)


class BaselinesParams(Section):
    """``baselines``: one key per baseline of the catalogue."""

    pronoun_rule: PronounRuleParams
    tfidf_logreg: TfidfParams


class ProbeParams(Section):
    """``probe``: which test bios get counterfactual versions."""

    # Test bios to probe (a seeded random sample, seeds.data); null probes every test bio. Each
    # gives two probe texts that every model predictor must also score.
    max_bios: Int | None = Field(ge=1)


class AnalyzeParams(Section):
    """``analyze``: settings of the analysis (changing one never reruns a model)."""

    bootstrap_resamples: Int = Field(ge=10)  # percentile bootstrap, seeded by seeds.bootstrap
    confidence: Float = Field(gt=0.5, lt=1.0)  # intervals; 1 - confidence = test level
    min_group_size: Int = Field(ge=1)  # profession x gender cells below this are "small"
    calibration_bins: Int = Field(ge=2, le=100)  # equal-width bins of P(female)
    top_gaps: Int = Field(ge=1)  # professions listed per predictor in the report
    # a predictor giving one gender to at least this share of the test bios is flagged
    one_class_share: Float = Field(gt=0.5, le=1.0)
    # [a, b]: THE comparison of the study (b - a), tested alone at 1 - confidence; every other
    # pair of non-reference predictors is a secondary family, Holm-adjusted within it.
    primary: list[Str] = Field(min_length=2, max_length=2)

    @field_validator("primary")
    @classmethod
    def _primary_pair(cls, primary: list[str]) -> list[str]:
        from pipeline.lib import catalogue

        if primary[0] == primary[1]:
            raise ValueError("compares a predictor with itself; name two predictors")
        for name in primary:
            if catalogue.spec(name) is None:
                known = ", ".join(catalogue.names())
                raise ValueError(f"{name!r} is not a predictor; predictors: {known}")
            if catalogue.is_reference(name):
                raise ValueError(f"{name!r} is an untrained reference: it is never tested")
        return primary


class StudyParams(Section):
    """A whole ``params.yaml``: every section."""

    seeds: Seeds
    data: DataParams
    model: ModelParams
    predict: PredictParams
    lora: LoraParams
    baselines: BaselinesParams
    probe: ProbeParams
    analyze: AnalyzeParams


SECTIONS = tuple(StudyParams.model_fields)


# --- reading -------------------------------------------------------------------------------------


def read_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read a params file and reject unknown top-level sections (typos such as ``lora_r``)."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no params file here; run the stage from a study directory")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise SuiteError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(str(key) for key in set(raw) - set(SECTIONS))
    if unknown:
        raise SuiteError(
            f"{path}: unknown section {unknown[0]!r}; allowed sections: {', '.join(SECTIONS)}"
        )
    return raw


def _schema_at(key: str) -> tuple[Any, list[Any]]:
    """The annotation and constraints of a dotted key of :class:`StudyParams`."""
    model: Any = StudyParams
    annotation, metadata = StudyParams, []
    for part in key.split("."):
        fields = getattr(model, "model_fields", None)
        own = getattr(model, "own_schema", None)
        if fields is not None and part in fields:
            info = fields[part]
            annotation, metadata = info.annotation, list(info.metadata)
        elif own is not None and own(part) is not None:
            annotation, metadata = own(part), []
        else:
            raise KeyError(f"{key!r} is not a params key")
        model = annotation
    return annotation, metadata


def parse_key(raw: dict[str, Any], key: str, source: str = PARAMS_FILE) -> Any:
    """Validate the value at dotted ``key`` (``"lora"``, ``"seeds.train"``) of read params."""
    annotation, metadata = _schema_at(key)
    value: Any = raw
    for depth, part in enumerate(key.split(".")):
        if not isinstance(value, dict) or part not in value:
            where = ".".join(key.split(".")[: depth + 1])
            raise SuiteError(f"{source}: missing key {where}; every setting is listed there")
        value = value[part]
    adapter = TypeAdapter(Annotated[(annotation, *metadata)] if metadata else annotation)
    try:
        return adapter.validate_python(value)
    except ValidationError as err:
        raise SuiteError(_one_line(err, key, source)) from None


def _one_line(err: ValidationError, key: str, source: str) -> str:
    first = err.errors()[0]
    known = _field_names()
    # Keys and list indices; pydantic's own tags (a union branch, a validator) are dropped.
    loc = [str(p) for p in first["loc"] if isinstance(p, int) or str(p) in known]
    if first["type"] == "extra_forbidden":  # the unknown key itself ends the location
        loc = [*loc, str(first["loc"][-1])]
    where = ".".join([key, *loc])
    shown = first.get("input")
    detail = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{source}: missing key {where}; every setting is listed there"
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_fields_of(".".join([key, *loc[:-1]])))
        return f"{source}: unknown key {where}; allowed here: {allowed}"
    if first["type"].startswith("value_error") or isinstance(shown, dict):
        # Validators name the keys they check themselves.
        section = key.split(".")[0]
        if detail.startswith(section) or f" {section}." in detail:
            return f"{source}: {detail}"
        return f"{source}: {where}: {detail}"
    return f"{source}: {where} = {shown!r}: {detail}"


def _field_names() -> set[str]:
    names: set[str] = set()
    todo: list[Any] = [StudyParams, *OWN_PARAMS.values()]
    while todo:
        model = todo.pop()
        for name, info in model.model_fields.items():
            names.add(name)
            for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    todo.append(candidate)
    return names


def _fields_of(key: str) -> list[str]:
    annotation, _ = _schema_at(key)
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return list(candidate.model_fields)
    return []


def parse_study(raw: dict[str, Any], source: str = PARAMS_FILE) -> StudyParams:
    """Validate every section of read params (the whole study)."""
    return StudyParams(**{name: parse_key(raw, name, source) for name in SECTIONS})


class StageParams:
    """The params one stage declared (its ``PARAMS``), validated; nothing else is readable.

    Reading an undeclared key is a programming error (the stage would depend on a setting that
    ``dvc.yaml`` does not list), so it raises ``KeyError``.
    """

    def __init__(self, raw: dict[str, Any], keys: Iterable[str], source: str = PARAMS_FILE):
        self.keys = tuple(dict.fromkeys(keys))
        self._values = {key: parse_key(raw, key, source) for key in self.keys}

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            raise KeyError(
                f"{key!r} is not among this stage's params {list(self.keys)}: add it to the "
                "stage's PARAMS and to its params: in dvc.yaml"
            )
        return self._values[key]

    def as_dict(self) -> dict[str, Any]:
        """Every declared key and its value as plain JSON-able data (for the run metadata)."""
        return {
            key: value.model_dump(mode="json") if isinstance(value, BaseModel) else value
            for key, value in self._values.items()
        }


def load_stage_params(keys: Iterable[str], path: str | Path = PARAMS_FILE) -> StageParams:
    """Read ``path`` and return exactly the declared ``keys``, each validated."""
    return StageParams(read_params(path), keys, str(path))
