"""The predictor catalogue (``pipeline/catalogue.yaml``): every predictor's name, role and words.

``dvc.yaml`` iterates over the same file, so a predictor is declared once::

    from pipeline.lib.catalogue import predictors
    for spec in predictors():          # report order: models, then baselines
        print(spec.name, spec.label, spec.reference)

A malformed catalogue (a duplicate or badly formed name, an unknown field, a model without
weights) stops whoever reads it with one line naming the entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from pipeline.lib.errors import SuiteError
from pipeline.lib.paths import run_name as run_name  # re-exported: declared in paths
from pipeline.lib.paths import split_run

CATALOGUE_FILE = Path(__file__).resolve().parents[1] / "catalogue.yaml"
KINDS = {"models": "model", "trained": "model", "baselines": "baseline"}
SEEDED_SECTION = "trained"  # models trained once per seed of seeds.train
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = {"models": {"weights", "label", "description", "reference"}}
_FIELDS["baselines"] = _FIELDS["models"] - {"weights"}
# A trained model's weights are one folder per seed, models/<name>/seed_<n> (pipeline.lib.paths)
_FIELDS["trained"] = _FIELDS["baselines"]


@dataclass(frozen=True)
class PredictorSpec:
    """One catalogue entry."""

    name: str
    kind: Literal["model", "baseline"]
    label: str  # a few words, for tables and legends
    description: str  # one sentence: what it is
    reference: bool = False  # an untrained reference: shown and labelled, never tested
    weights: str | None = None  # untrained models only: the study folder its loader reads
    seeded: bool = False  # trained once per training seed: its runs are `<name>@seed<n>`

    @property
    def display(self) -> str:
        """``label`` with the reference flag spelled out, for legends and headings."""
        return f"{self.label} (untrained reference)" if self.reference else self.label


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that rejects a key given twice (plain YAML keeps the last silently)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise SuiteError(f"{CATALOGUE_FILE.name}: {key!r} is declared twice")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_catalogue(text: str, source: str = CATALOGUE_FILE.name) -> tuple[PredictorSpec, ...]:
    """Parse and check a catalogue's YAML text."""
    raw = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    if not isinstance(raw, dict) or set(raw) - set(KINDS):
        raise SuiteError(f"{source}: expected the sections {', '.join(KINDS)}")
    specs: list[PredictorSpec] = []
    for section, kind in KINDS.items():
        for name, entry in (raw.get(section) or {}).items():
            where = f"{source}: {section}.{name}"
            if not isinstance(name, str) or not _NAME.match(name):
                raise SuiteError(f"{where}: a name is lower case letters, digits and _")
            if any(spec.name == name for spec in specs):
                raise SuiteError(f"{where}: {name!r} is declared in both sections")
            if not isinstance(entry, dict):
                raise SuiteError(f"{where}: expected a mapping of fields")
            unknown = sorted(set(entry) - _FIELDS[section])
            if unknown:
                allowed = ", ".join(sorted(_FIELDS[section]))
                raise SuiteError(f"{where}: unknown field {unknown[0]!r}; allowed: {allowed}")
            for field in ("label", "description", *(("weights",) if section == "models" else ())):
                if not isinstance(entry.get(field), str) or not entry[field].strip():
                    raise SuiteError(f"{where}: {field} must be a non-empty string")
            if not isinstance(entry.get("reference", False), bool):
                raise SuiteError(f"{where}: reference must be true or false")
            specs.append(
                PredictorSpec(
                    name=name,
                    kind=kind,
                    label=entry["label"].strip(),
                    description=" ".join(entry["description"].split()),
                    reference=entry.get("reference", False),
                    weights=entry.get("weights"),
                    seeded=section == SEEDED_SECTION,
                )
            )
    if not specs:
        raise SuiteError(f"{source}: no predictors")
    return tuple(specs)


@cache
def predictors() -> tuple[PredictorSpec, ...]:
    """Every predictor of the catalogue, in report order (models, then baselines)."""
    return parse_catalogue(CATALOGUE_FILE.read_text(encoding="utf-8"))


def seeded_names() -> tuple[str, ...]:
    """The predictors trained once per seed, in report order."""
    return tuple(spec.name for spec in predictors() if spec.seeded)


def names(kind: Literal["model", "baseline"] | None = None) -> tuple[str, ...]:
    """Predictor names in report order, of one kind or all."""
    return tuple(spec.name for spec in predictors() if kind is None or spec.kind == kind)


def spec(name: str) -> PredictorSpec | None:
    """The catalogue entry of ``name`` or of a run ``<name>@seed<n>``; None if unknown."""
    base = split_run(name)[0]
    return next((s for s in predictors() if s.name == base), None)


def order(found: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """``found`` in report order: catalogue predictors (runs by seed), then unknown ones."""
    rank = {name: i for i, name in enumerate(names())}

    def key(name: str) -> tuple[int, int, str]:
        base, seed = split_run(name)
        return (rank.get(base, len(rank)), -1 if seed is None else seed, name)

    return sorted(set(found), key=key)


def label(name: str) -> str:
    """The display label of a predictor (its name if the catalogue does not know it)."""
    entry = spec(name)
    seed = split_run(name)[1]
    if entry is None:
        return name
    return f"{entry.display}, seed {seed}" if seed is not None else entry.display


def is_reference(name: str) -> bool:
    """Whether ``name`` is an untrained reference (excluded from every test family)."""
    entry = spec(name)
    return bool(entry and entry.reference)
