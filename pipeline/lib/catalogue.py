"""The predictor catalogues: every predictor's name, role and words, one catalogue per task.

``pipeline/catalogue.yaml`` holds the gender task's predictors, ``pipeline/catalogue_occupation
.yaml`` the occupation task's (:mod:`pipeline.lib.tasks`). A study's ``dvc.yaml`` iterates over
its task's file, so a predictor is declared once::

    from pipeline.lib.catalogue import predictors
    for spec in predictors():          # report order: models, then baselines (gender task)
        print(spec.name, spec.label, spec.reference)
    predictors("occupation")           # the occupation task's

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

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.paths import run_name as run_name  # re-exported: declared in paths
from pipeline.lib.paths import split_run

CATALOGUE_FILE = Path(__file__).resolve().parents[1] / "catalogue.yaml"  # the gender task's
# Each task's catalogue (pipeline.lib.tasks.TASKS); a study's dvc.yaml reads its task's file.
CATALOGUE_FILES = {
    "gender": CATALOGUE_FILE,
    "occupation": CATALOGUE_FILE.with_name("catalogue_occupation.yaml"),
}
# Catalogue sections and the kind of predictor each holds. (Baselines are under
# `baseline_predictors`: params.yaml's `baselines` section, which DVC also reads as variables,
# would shadow a catalogue section of that name in dvc.yaml's foreach.)
KINDS = {
    "models": "model",
    "trained": "model",
    "erased": "model",
    "baseline_predictors": "baseline",
}
# Models trained once per seed of seeds.train: `trained` (train stage), and `erased`, whose head
# reads a representation with gender erased by a LEACE eraser (train_erased stage: it depends on
# the eraser, which the erase stage fits).
SEEDED_SECTIONS = ("trained", "erased")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = {"models": {"weights", "settings", "label", "description", "reference"}}
_FIELDS["baseline_predictors"] = _FIELDS["models"] - {"weights", "settings"}
# A trained model's weights are one folder per seed, models/<name>/seed_<n> (pipeline.lib.paths)
_FIELDS["trained"] = _FIELDS["baseline_predictors"]
_FIELDS["erased"] = _FIELDS["baseline_predictors"] | {"mitigates"}
# Each seeded section's DVC train stage group, as dvc.yaml names it (the predict group paired
# with each: pipeline.lib.paths.SEEDED_STAGE_GROUPS).
TRAIN_GROUPS = {"trained": "train", "erased": "train_erased"}


@dataclass(frozen=True)
class PredictorSpec:
    """One catalogue entry."""

    name: str
    kind: Literal["model", "baseline"]
    label: str  # a few words, for tables and legends
    description: str  # one sentence: what it is
    reference: bool = False  # an untrained reference: shown and labelled, never tested
    weights: str | None = None  # untrained models only: the study folder its loader reads
    settings: str | None = None  # untrained models only: its params key (predict.<name>)
    seeded: bool = False  # trained once per training seed: its runs are `<name>@seed<n>`
    section: str = "models"  # the catalogue section it is declared in
    mitigates: str | None = None  # `erased` only: the trained predictor it is compared with

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
            model_fields = ("weights", "settings") if section == "models" else ()
            for field in ("label", "description", *model_fields):
                if not isinstance(entry.get(field), str) or not entry[field].strip():
                    raise SuiteError(f"{where}: {field} must be a non-empty string")
            if not isinstance(entry.get("reference", False), bool):
                raise SuiteError(f"{where}: reference must be true or false")
            if section == "erased" and not isinstance(entry.get("mitigates"), str):
                raise SuiteError(f"{where}: mitigates must name the trained predictor it mitigates")
            specs.append(
                PredictorSpec(
                    name=name,
                    kind=kind,
                    label=entry["label"].strip(),
                    description=" ".join(entry["description"].split()),
                    reference=entry.get("reference", False),
                    weights=entry.get("weights"),
                    settings=entry.get("settings"),
                    seeded=section in SEEDED_SECTIONS,
                    section=section,
                    mitigates=entry.get("mitigates"),
                )
            )
    if not specs:
        raise SuiteError(f"{source}: no predictors")
    trained = {spec.name for spec in specs if spec.section == "trained"}
    for spec in specs:
        if spec.mitigates is not None and spec.mitigates not in trained:
            raise SuiteError(
                f"{source}: erased.{spec.name}: mitigates {spec.mitigates!r}, which is not a "
                f"trained predictor of this catalogue ({', '.join(sorted(trained))})"
            )
    return tuple(specs)


@cache
def predictors(task: str = "gender") -> tuple[PredictorSpec, ...]:
    """Every predictor of ``task``'s catalogue, in report order (models, then baselines)."""
    if task not in CATALOGUE_FILES:
        raise SuiteError(f"unknown task {task!r}; tasks: {', '.join(CATALOGUE_FILES)}")
    path = CATALOGUE_FILES[task]
    return parse_catalogue(path.read_text(encoding="utf-8"), path.name)


def seeded_names(task: str = "gender") -> tuple[str, ...]:
    """The predictors trained once per seed, in report order."""
    return tuple(spec.name for spec in predictors(task) if spec.seeded)


def names(
    kind: Literal["model", "baseline"] | None = None, task: str = "gender"
) -> tuple[str, ...]:
    """Predictor names in report order, of one kind or all."""
    return tuple(spec.name for spec in predictors(task) if kind is None or spec.kind == kind)


def names_of_every_task(kind: Literal["model", "baseline"] | None = None) -> tuple[str, ...]:
    """Predictor names of every task's catalogue (each once): the params schema's keys."""
    return tuple(dict.fromkeys(name for task in CATALOGUE_FILES for name in names(kind, task)))


def seeded_names_of_every_task() -> tuple[str, ...]:
    """The trained predictors of every task (each once): one recipe section each."""
    return tuple(dict.fromkeys(n for task in CATALOGUE_FILES for n in seeded_names(task)))


def erased_names_of_every_task() -> tuple[str, ...]:
    """The `erased` predictors of every task (each once): heads behind a LEACE eraser."""
    return tuple(
        dict.fromkeys(
            spec.name
            for task in CATALOGUE_FILES
            for spec in predictors(task)
            if spec.section == "erased"
        )
    )


def train_stage(predictor: str, seed: int) -> str:
    """The DVC stage of one run, as dvc.yaml's matrix names it: ``train@lora-1234``.

    A predictor of the catalogue's ``erased`` section (any task's) trains in
    ``train_erased@<name>-<seed>``.
    """
    section = next(
        (e.section for t in CATALOGUE_FILES if (e := spec(predictor, t)) is not None), "trained"
    )
    return f"{TRAIN_GROUPS.get(section, 'train')}@{predictor}-{seed}"


def predict_stage(predictor: str, seed: int | None = None) -> str:
    """The DVC stage of a model predictor (one seed's run of it): ``predict_seeded@lora-1234``.

    An ``erased`` predictor's runs are scored in ``predict_erased@<name>-<seed>``.
    """
    trained_in = train_stage(predictor, seed) if seed is not None else None
    return paths.predict_stage(predictor, seed, trained_in)


def spec(name: str, task: str = "gender") -> PredictorSpec | None:
    """The catalogue entry of ``name`` or of a run ``<name>@seed<n>``; None if unknown."""
    base = split_run(name)[0]
    return next((s for s in predictors(task) if s.name == base), None)


def order(found: list[str] | tuple[str, ...] | set[str], task: str = "gender") -> list[str]:
    """``found`` in report order: catalogue predictors (runs by seed), then unknown ones."""
    rank = {name: i for i, name in enumerate(names(task=task))}

    def key(name: str) -> tuple[int, int, str]:
        base, seed = split_run(name)
        return (rank.get(base, len(rank)), -1 if seed is None else seed, name)

    return sorted(set(found), key=key)


def label(name: str, task: str = "gender") -> str:
    """The display label of a predictor (its name if the catalogue does not know it)."""
    entry = spec(name, task)
    seed = split_run(name)[1]
    if entry is None:
        return name
    return f"{entry.display}, seed {seed}" if seed is not None else entry.display


def is_reference(name: str, task: str = "gender") -> bool:
    """Whether ``name`` is an untrained reference (excluded from every test family)."""
    entry = spec(name, task)
    return bool(entry and entry.reference)


def pipeline_task(dvc_yaml_text: str) -> str | None:
    """The task whose catalogue a study's ``dvc.yaml`` reads (None if it reads none of them)."""
    for task, path in CATALOGUE_FILES.items():
        if re.search(rf"^  - (\S+/)?pipeline/{re.escape(path.name)} ", dvc_yaml_text, re.M):
            return task
    return None
