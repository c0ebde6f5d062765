"""Typed, self-checking params: each ``params.yaml`` section parses into a pydantic model.

A bad value stops the stage with one line naming the key, the value and what is allowed::

    params.yaml: data.max_rows.train = -5: Input should be greater than or equal to 1

Every stage reads only its own section (plus ``seeds``); ``dvc.yaml`` lists exactly those keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import SuiteError

PARAMS_FILE = "params.yaml"

# Every top-level section a params file may hold; anything else is a typo.
SECTIONS = ("seeds", "data", "model", "predict", "lora", "baselines", "probe", "analyze")

SectionT = TypeVar("SectionT", bound="Section")


class Section(BaseModel):
    """Base of every params section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Seeds(Section):
    """Seeds of every random step; results files record them."""

    data: int = 0  # subsampling of the splits and the synthetic sample
    model: int = 0  # tiny-model pretraining, random classification head
    train: int = 0  # LoRA initialisation, data order, dropout
    bootstrap: int = 0  # bootstrap resampling in the analysis


class HubData(Section):
    """The real dataset on the Hugging Face Hub."""

    name: str = "LabHC/bias_in_bios"
    revision: str = "main"  # pin to a commit sha for an exactly reproducible study


class LocalData(Section):
    """Local files with the dataset's columns: one per split, or one with a split column."""

    train: str | None = None
    dev: str | None = None
    test: str | None = None
    path: str | None = None  # a single file holding every split
    split_column: str = "split"

    @model_validator(mode="after")
    def _one_layout(self) -> LocalData:
        per_split = [self.train, self.dev, self.test]
        if self.path is None and any(p is None for p in per_split):
            raise ValueError("give data.local.path, or all of data.local.train/dev/test")
        if self.path is not None and any(p is not None for p in per_split):
            raise ValueError("give data.local.path or data.local.train/dev/test, not both")
        return self


class SampleData(Section):
    """Size of the bundled synthetic sample (generated, deterministic, labelled synthetic)."""

    train: int = Field(4000, ge=10)
    dev: int = Field(1000, ge=10)
    test: int = Field(2000, ge=10)


class MaxRows(Section):
    """Rows kept per split after stratified subsampling; null keeps every row."""

    train: int | None = Field(None, ge=1)
    dev: int | None = Field(None, ge=1)
    test: int | None = Field(None, ge=1)


class DataParams(Section):
    """``data``: where the bios come from and how many of them the study uses."""

    source: Literal["hub", "local", "sample"] = "hub"
    hub: HubData = HubData()
    local: LocalData | None = None
    sample: SampleData = SampleData()
    max_rows: MaxRows = MaxRows()

    @model_validator(mode="after")
    def _local_needs_files(self) -> DataParams:
        if self.source == "local" and self.local is None:
            raise ValueError("data.source is 'local' but data.local names no files")
        return self


class TinyModelParams(Section):
    """Shape and brief causal-LM pretraining of the tiny local GPT-2 (demo and tests)."""

    vocab_size: int = Field(2048, ge=300)
    n_layer: int = Field(2, ge=1)
    n_head: int = Field(4, ge=1)
    n_embd: int = Field(128, ge=8)
    n_positions: int = Field(512, ge=32)
    pretrain_steps: int = Field(150, ge=0)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    max_length: int = Field(160, ge=8)

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyModelParams:
        if self.n_embd % self.n_head:
            raise ValueError(
                f"model.tiny.n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})"
            )
        return self


class ModelParams(Section):
    """``model``: the base GPT-2 every predictor starts from."""

    source: Literal["hub", "local", "tiny"] = "hub"
    name: str = "openai-community/gpt2"  # hub id, for source: hub
    revision: str = "607a30d783dfa663caf39e06633721c8d4cfcd7e"  # pinned hub commit
    path: str | None = None  # a local model folder, for source: local
    tiny: TinyModelParams = TinyModelParams()

    @model_validator(mode="after")
    def _local_needs_path(self) -> ModelParams:
        if self.source == "local" and not self.path:
            raise ValueError("model.source is 'local' but model.path is not set")
        return self


def read_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read a params file and reject unknown top-level sections."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no params file here; run the stage from a study directory")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise SuiteError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise SuiteError(
            f"{path}: unknown section {unknown[0]!r}; allowed sections: {', '.join(SECTIONS)}"
        )
    return raw


def parse_section(
    raw: dict[str, Any], name: str, model: type[SectionT], source: str = PARAMS_FILE
) -> SectionT:
    """Validate section ``name`` of already-read params into ``model``; one-line error if bad."""
    value = raw.get(name) or {}
    try:
        return model.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join([name, *(str(part) for part in first["loc"])])
        shown = first.get("input")
        detail = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(_fields_at(model, first["loc"][:-1]))
            raise SuiteError(f"{source}: unknown key {key}; allowed here: {allowed}") from None
        if first["type"].startswith("value_error") or isinstance(shown, dict):
            raise SuiteError(f"{source}: {name}: {detail}") from None
        raise SuiteError(f"{source}: {key} = {shown!r}: {detail}") from None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Names of the keys allowed at ``loc`` inside ``model`` (for an unknown-key message)."""
    for part in loc:
        annotation = model.model_fields[str(part)].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel))
    return list(model.model_fields)


def load_section(name: str, model: type[SectionT], path: str | Path = PARAMS_FILE) -> SectionT:
    """Read ``path`` and return its section ``name`` parsed into ``model``."""
    return parse_section(read_params(path), name, model, str(path))


def load_seeds(path: str | Path = PARAMS_FILE) -> Seeds:
    """Return the ``seeds`` section."""
    return load_section("seeds", Seeds, path)
