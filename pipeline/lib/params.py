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

import difflib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from pipeline.lib import catalogue, paths, predictor_settings
from pipeline.lib.errors import SuiteError
from pipeline.lib.param_types import (  # re-exported: the schema's types, for its readers
    MAX_SEED as MAX_SEED,
)
from pipeline.lib.param_types import Bool as Bool
from pipeline.lib.param_types import Float as Float
from pipeline.lib.param_types import Int as Int
from pipeline.lib.param_types import NoParams as NoParams
from pipeline.lib.param_types import Section as Section
from pipeline.lib.param_types import Seed as Seed
from pipeline.lib.param_types import Str as Str

PARAMS_FILE = "params.yaml"
# Local data files must lie in paths.RAW_DATA_DIR (relative to the study directory): the
# prepare stage depends on that folder, so editing a file reruns prepare and whatever its
# changed outputs feed.
RAW_DATA_DIR = PurePosixPath(paths.RAW_DATA_DIR)
# A pinned hub revision belongs to its model: a known commit under another model name is a
# mistake (e.g. model.name changed with -S but model.revision still GPT-2's).
KNOWN_REVISIONS = {"607a30d783dfa663caf39e06633721c8d4cfcd7e": ("openai-community/gpt2", "gpt2")}


# --- seeds ---------------------------------------------------------------------------------------


def _distinct(seeds: list[int]) -> list[int]:
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seed {repeated[0]} is listed twice; each seed is one training run")
    return seeds


TrainSeeds = Annotated[list[Seed], Field(min_length=1), AfterValidator(_distinct)]


class Seeds(Section):
    """``seeds``: every random step of the study takes its seed from here or its own section."""

    data: Seed  # split subsampling, the synthetic sample, the probed bios
    model: Seed  # tiny-model tokenizer and pretraining
    # One run of each trained predictor per seed (its initialisation, data order, dropout): a train
    # stage per trained predictor (train@<name>-<seed>), so adding a seed trains only that seed.
    # At least one, no repeats.
    train: TrainSeeds
    bootstrap: Seed  # bootstrap resampling in the analysis


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

    vocab_size: Int = Field(ge=300, le=262_144)  # up to the largest LM vocabularies (256k)
    n_layer: Int = Field(ge=1)
    n_head: Int = Field(ge=1)
    n_embd: Int = Field(ge=8)
    n_positions: Int = Field(ge=32)
    pretrain_steps: Int = Field(ge=0)
    batch_size: Int = Field(ge=1)
    learning_rate: Float = Field(gt=0, le=1)  # above 1 Adam diverges at once
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


def _validate_own_keys(section: Section, prefix: str) -> Any:
    """Check and parse the per-predictor keys ``<prefix>.<name>`` of a section in place.

    Every predictor of the catalogue of the section's kind has exactly one key, validated with
    the schema its registry declares (``type(section).own_schema``); any other extra key is an
    error naming the nearest valid one.
    """
    own = dict(section.model_extra or {})
    names = type(section).own_names()
    for name in own:
        if name not in names:
            allowed = [*type(section).model_fields, *names]
            raise ValueError(_unknown_message(prefix, name, allowed))
    for name in names:
        if name not in own:
            raise ValueError(f"missing key {prefix}.{name} (the settings of {name}, or {{}})")
        schema = type(section).own_schema(name)
        try:
            object.__setattr__(section, name, schema.model_validate(own[name]))
        except ValidationError as err:
            raise ValueError(_one_line(err, f"{prefix}.{name}", "").removeprefix(": ")) from None
    return section


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
    def own_names(cls) -> list[str]:
        """The predictors with a key ``predict.<name>``: every task catalogue's models."""
        return list(catalogue.names_of_every_task("model"))

    @classmethod
    def own_schema(cls, name: str) -> type[Section] | None:
        """The schema of ``predict.<name>`` if ``name`` is a model predictor, else None."""
        return predictor_settings.predict_schema(name) if name in cls.own_names() else None

    @model_validator(mode="after")
    def _one_key_per_model_predictor(self) -> PredictParams:
        return _validate_own_keys(self, "predict")


# --- baselines, probe, analyze -------------------------------------------------------------------


class BaselinesParams(Section):
    """``baselines``: one key per baseline of the catalogue, each with its registered schema.

    The schemas are declared in :mod:`pipeline.lib.predictor_settings`.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    @classmethod
    def own_names(cls) -> list[str]:
        """The predictors with a key ``baselines.<name>``: every task catalogue's baselines."""
        return list(catalogue.names_of_every_task("baseline"))

    @classmethod
    def own_schema(cls, name: str) -> type[Section] | None:
        """The schema of ``baselines.<name>`` if ``name`` is a baseline, else None."""
        return predictor_settings.baseline_schema(name) if name in cls.own_names() else None

    @model_validator(mode="after")
    def _one_key_per_baseline(self) -> BaselinesParams:
        return _validate_own_keys(self, "baselines")


class ProbeParams(Section):
    """``probe``: which test bios get counterfactual versions."""

    # Test bios to probe (a seeded random sample, seeds.data); null probes every test bio. Each
    # gives two probe texts that every model predictor must also score.
    max_bios: Int | None = Field(ge=1)


class EraseParams(Section):
    """``erase``: the LEACE erasers and the gender probes that measure leakage (erase stage)."""

    max_length: Int = Field(ge=8)  # tokens of a bio read for its representation
    batch_size: Int | None = Field(ge=1)  # bios per batch; null: 32 on CPU, 256 on CUDA
    probe_C: Float = Field(gt=0)  # the gender probe's inverse L2 strength (logistic regression)
    probe_max_iter: Int = Field(ge=10)  # its lbfgs iterations


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
        if primary[0] == primary[1]:
            raise ValueError("compares a predictor with itself; name two predictors")
        for name in primary:
            known = catalogue.names_of_every_task()
            if name not in known:
                raise ValueError(f"{name!r} is not a predictor; predictors: {', '.join(known)}")
            if any(catalogue.is_reference(name, task) for task in catalogue.CATALOGUE_FILES):
                raise ValueError(f"{name!r} is an untrained reference: it is never tested")
        return primary


class OccupationParams(Section):
    """``occupation``: the settings only the occupation task reads (``task: occupation``)."""

    zero_shot: predictor_settings.OccupationZeroShotParams


class _FixedSections(Section):
    """The sections every study has; :class:`StudyParams` adds one per trained predictor."""

    # What the study predicts (pipeline.lib.tasks): dvc.yaml passes it to the stages that
    # depend on it (--task ${task}); `make pipelines` points the study at its task's catalogue.
    task: Literal["gender", "occupation"]
    seeds: Seeds
    data: DataParams
    model: ModelParams
    predict: PredictParams
    baselines: BaselinesParams
    probe: ProbeParams
    erase: EraseParams
    analyze: AnalyzeParams
    occupation: OccupationParams

    @model_validator(mode="after")
    def _erased_heads_read_what_the_eraser_was_fitted_on(self) -> _FixedSections:
        # The erase stage fits the LEACE eraser on the first erase.max_length tokens of each
        # bio; a head behind it that read more or fewer would read a representation the eraser
        # was not fitted on (the two stages read their own sections: only here do both meet).
        for name in catalogue.erased_names_of_every_task():
            recipe = getattr(self, name, None)
            if recipe is not None and recipe.max_length != self.erase.max_length:
                raise ValueError(
                    f"{name}.max_length = {recipe.max_length} but erase.max_length = "
                    f"{self.erase.max_length}: the LEACE eraser is fitted on the first "
                    "erase.max_length tokens of a bio and its head must read the same; set "
                    "both to one value"
                )
        return self


def _study_schema() -> type[Section]:
    """The whole schema: the fixed sections, then ``<name>`` per trained predictor (catalogue).

    A trained predictor's section holds its recipe (``lora``: rank, learning rate, dev
    selection...), with the schema registered in :data:`pipeline.lib.predictor_settings.TRAIN`.
    """
    trained = catalogue.seeded_names_of_every_task()
    clash = sorted(set(trained) & set(_FixedSections.model_fields))
    if clash:
        raise SuiteError(
            f"{catalogue.CATALOGUE_FILE.name}: trained predictor {clash[0]!r} has the name of a "
            "params.yaml section; rename it"
        )
    fields: dict[str, Any] = {
        name: (predictor_settings.train_schema(name), ...) for name in trained
    }
    return create_model(
        "StudyParams", __base__=_FixedSections, __doc__="A whole ``params.yaml``.", **fields
    )


StudyParams = _study_schema()
SECTIONS = tuple(StudyParams.model_fields)


# --- reading -------------------------------------------------------------------------------------


def _refuse_aliases(text: str, path: Path) -> None:
    """Stop at a YAML anchor or alias: a few lines of them expand to billions of nodes.

    ``params.yaml`` is a flat list of settings; an alias there is either a mistake or an
    "alias bomb", which would make every reader (this one and DVC's) run out of memory.
    """
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent) or anchor is not None:
                mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
                raise SuiteError(
                    f"{path}: YAML anchor or alias ({mark}{anchor}) on line "
                    f"{event.start_mark.line + 1}; write every value out in full"
                )
    except yaml.YAMLError as err:
        raise SuiteError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None


def _refuse_duplicate_keys(node: yaml.Node | None, path: Path, where: str = "") -> None:
    """Stop at a key given twice in one mapping, at any level (DVC refuses such a file too).

    PyYAML keeps the last value silently, so a stage run directly would use a setting that
    ``dvc repro`` never accepts, and an edit of the first copy would change nothing.
    """
    if isinstance(node, yaml.MappingNode):
        first_line: dict[tuple[str, Any], int] = {}
        for key_node, value_node in node.value:
            key = (key_node.tag, key_node.value)
            name = str(key_node.value)
            dotted = f"{where}.{name}" if where else name
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise SuiteError(
                    f"{path}: duplicate key {dotted} on line {line} (first on line "
                    f"{first_line[key]}); keep one of them"
                )
            first_line[key] = line
            _refuse_duplicate_keys(value_node, path, dotted)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path, f"{where}[{index}]")


def read_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read a params file; stop at YAML aliases, repeated keys and unknown keys, at any level.

    An unknown key (a typo such as ``lora_r`` or ``seeds.trian``) names the nearest valid key:
    a misspelt setting is otherwise silently ignored, and the study runs with the old value.
    """
    path = Path(path)
    if path.is_dir():
        raise SuiteError(f"{path}: is a directory, expected the study's params file (YAML)")
    if not path.exists():
        raise SuiteError(f"{path}: no params file here; run the stage from a study directory")
    if not path.is_file():
        raise SuiteError(f"{path}: not a regular file, expected the study's params file (YAML)")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise SuiteError(f"{path}: cannot be read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise SuiteError(f"{path}: not UTF-8 text (byte at offset {err.start})") from None
    _refuse_aliases(text, path)
    try:
        _refuse_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), path)
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise SuiteError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    unknown = unknown_key(raw)
    if unknown is not None:
        raise SuiteError(f"{path}: {unknown}")
    return raw


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation admits (``LocalData | None`` -> ``[LocalData]``)."""
    return [
        candidate
        for candidate in (annotation, *getattr(annotation, "__args__", ()))
        if isinstance(candidate, type) and issubclass(candidate, BaseModel)
    ]


def _unknown_message(where: str, name: str, allowed: list[str]) -> str:
    """``unknown key lora.lerning_rate (did you mean lora.learning_rate?); allowed here: ...``."""
    dotted = f"{where}.{name}" if where else name
    near = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if not near:  # a case or separator slip: lora_r for lora.r, Batch_Size for batch_size
        folded = {a.lower().replace("_", ""): a for a in allowed}
        near = [folded[k] for k in [name.lower().replace("_", "")] if k in folded]
    hint = f" (did you mean {f'{where}.' if where else ''}{near[0]}?)" if near else ""
    kind = "key" if where else "section"
    listed = ", ".join(allowed) if allowed else "none (this key takes no settings)"
    return f"unknown {kind} {dotted}{hint}; allowed here: {listed}"


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    keys = list(model.model_fields)
    own_names = getattr(model, "own_names", None)  # predict.<model>, baselines.<baseline>
    if own_names is not None:
        keys += [name for name in own_names() if name not in keys]
    return keys


def unknown_key(raw: dict[str, Any]) -> str | None:
    """The first key of ``raw`` (a whole params file) that no schema knows, as an error text.

    Only the names are checked (values and missing keys are each stage's own check), so a
    stage run directly refuses a typo anywhere in the file, as ``dvc repro`` does.
    """
    todo: list[tuple[str, Any, type[BaseModel]]] = [("", raw, StudyParams)]
    while todo:
        where, value, model = todo.pop(0)
        allowed = _allowed_keys(model)
        for name, child in value.items():
            name = str(name)
            if name not in allowed:
                return _unknown_message(where, name, allowed)
            if not isinstance(child, dict):
                continue
            dotted = f"{where}.{name}" if where else name
            if hasattr(model, "own_schema") and name not in model.model_fields:
                schema = model.own_schema(name)
                children = [schema] if schema is not None else []
            else:
                children = _models_of(model.model_fields[name].annotation)
            if children:
                todo.append((dotted, child, children[0]))
    return None


def own_schemas() -> list[type[Section]]:
    """Every per-predictor schema the registries declare (``predict.<m>``, ``baselines.<b>``)."""
    return [
        section.own_schema(name)
        for section in (PredictParams, BaselinesParams)
        for name in section.own_names()
    ]


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


def _location(key: str, loc: tuple[Any, ...]) -> tuple[list[str], list[str] | None]:
    """Walk pydantic's error location through the schema from ``key``.

    Returns the key path below ``key`` (list indices included; pydantic's own tags such as a
    union branch or a validator dropped) and, when the error is about an unknown key, the keys
    allowed beside it. Never raises: an unexpected location keeps what was walked.
    """
    try:
        annotation, _ = _schema_at(key)
    except KeyError:
        return [str(part) for part in loc if isinstance(part, str | int)], None
    models = _models_of(annotation)
    model = models[0] if models else None
    walked: list[str] = []
    allowed: list[str] | None = None
    for part in loc:
        if isinstance(part, int):
            walked.append(str(part))
            continue
        part = str(part)
        if model is None:
            continue
        keys = _allowed_keys(model)
        if part in keys:
            walked.append(part)
            allowed = keys
            if part in model.model_fields:
                found = _models_of(model.model_fields[part].annotation)
            else:  # predict.<name>, baselines.<name>
                own = model.own_schema(part)
                found = [own] if own is not None else []
            model = found[0] if found else None
        elif part == loc[-1]:  # the unknown key itself ends the location
            walked.append(part)
            allowed = keys
    return walked, allowed


def _one_line(err: ValidationError, key: str, source: str) -> str:
    """Pydantic's first error as one line naming the key, the value and what is allowed.

    Never raises: whatever pydantic reports, the stage still stops with one line.
    """
    first = err.errors()[0]
    try:
        loc, allowed = _location(key, tuple(first["loc"]))
    except Exception:
        loc, allowed = [str(p) for p in first["loc"]], None
    where = ".".join([key, *loc])
    shown = first.get("input")
    detail = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{source}: missing key {where}; every setting is listed there"
    if first["type"] == "extra_forbidden":
        name = loc[-1] if loc else str(first["loc"][-1])
        parent = ".".join([key, *loc[:-1]])
        if allowed is None:
            try:
                allowed = _allowed_keys(_models_of(_schema_at(parent)[0])[0])
            except (KeyError, IndexError):
                allowed = []
        return f"{source}: {_unknown_message(parent, name, [a for a in allowed if a != name])}"
    if first["type"].startswith("value_error") or isinstance(shown, dict):
        # Validators name the keys they check themselves.
        section = key.split(".")[0]
        if detail.startswith(section) or f" {section}." in detail:
            return f"{source}: {detail}"
        return f"{source}: {where}: {detail}"
    text = repr(shown)
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{source}: {where} = {text}: {detail}"


def parse_study(raw: dict[str, Any], source: str = PARAMS_FILE) -> StudyParams:
    """Validate every section of read params (the whole study), then what ties sections."""
    sections = {name: parse_key(raw, name, source) for name in SECTIONS}
    try:
        return StudyParams(**sections)
    except ValidationError as err:  # a rule across sections (e.g. the eraser's max_length)
        first = err.errors()[0]
        message = str(first.get("ctx", {}).get("error") or first["msg"])
        raise SuiteError(f"{source}: {message.removeprefix('Value error, ')}") from None


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


# What the running stage read (path, its values as JSON), for :func:`changed_since_read`.
_READ: dict[str, Any] = {}


def load_stage_params(keys: Iterable[str], path: str | Path = PARAMS_FILE) -> StageParams:
    """Read ``path`` and return exactly the declared ``keys``, each validated."""
    params = StageParams(read_params(path), keys, str(path))
    _READ.update(path=Path(path).resolve(), keys=params.keys, values=params.as_dict())
    return params


def changed_since_read() -> str | None:
    """Which of the stage's keys ``params.yaml`` changed since the stage read it, or ``None``.

    DVC records a stage's params in ``dvc.lock`` by reading ``params.yaml`` AFTER the command
    ends, so an edit made meanwhile (a concurrent ``dvc exp run -S``, an editor) would be
    recorded beside outputs made with the old value, and ``dvc status`` would call them up to
    date. The stage's edge (:func:`pipeline.lib.provenance.run_log`) refuses that case.
    """
    path = _READ.get("path")
    if path is None or not path.exists():  # another study's, or a test's folder since removed
        return None
    try:
        now = StageParams(read_params(path), _READ["keys"], str(path)).as_dict()
    except SuiteError as err:
        return f"params.yaml no longer reads as it did ({err})"
    for key in _READ["keys"]:
        if now[key] != _READ["values"][key]:
            return f"{key} changed"
    return None
