"""Generate each study's ``dvc.yaml`` from the repo root's, and scaffold a new study.

A study is a directory with its own ``params.yaml``, ``dvc.lock`` and outputs. DVC reads a
committed revision from git objects, so every study's ``dvc.yaml`` must be a regular file (a
symlink reads as its target's path, not a pipeline). Each study's is therefore a copy of the root
``dvc.yaml`` that differs only in the two ``vars`` lines locating the code and the catalogue::

    python -m pipeline.commands.studies           # rewrite every study's dvc.yaml (make pipelines)
    python -m pipeline.commands.studies --check   # exit 1 if one is out of date (the tests do this)
    python -m pipeline.commands.studies --study DIR  # also a study outside this checkout

The studies are ``demo/`` and every folder of this checkout whose ``dvc.yaml`` carries the
generated header (``studies new`` writes one). A study of your own, from your own bios::

    python -m pipeline.commands.studies new DIR --data bios.csv [--model tiny|HUB_ID|FOLDER]
        [--task gender|occupation]

makes DIR its own DVC project (``dvc init --subdir`` inside a git repository, ``--no-scm``
outside one), writes its ``dvc.yaml``, a ``params.yaml`` listing every setting (the root
``params.yaml`` with its comments, with the data and model set), and copies the data into
``DIR/data/raw/``: one file with a ``split`` column, or three files (train, dev, test, in that
order). A file without a ``split`` column is split for you: stratified by profession x gender,
80/10/10, seeded with ``seeds.data`` (:func:`assign_splits`); the copy carries the split column.
The data is checked at once by the prepare stage's own checks (:mod:`pipeline.lib.raw_data`).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis.verdicts import MIN_PROXY_PROFESSIONS
from pipeline.lib import catalogue, paths, tasks
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.raw_data import (
    REQUIRED_COLUMNS,
    check_splits,
    name_labels,
    read_local_file,
    split_by_column,
    to_split_frame,
    validate_split,
)

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "dvc.yaml"
DEMO = REPO / "demo"
# The lines of the root dvc.yaml that depend on where the study lies (exactly once each).
CODE_VAR = "  - code: . # the suite's code, from this study directory\n"
CATALOGUE_VAR = (
    "  - pipeline/catalogue.yaml # the predictors: `models`, `trained`, `baseline_predictors`\n"
)
GENERATED_MARK = "# GENERATED from "
# Folders never searched for studies (outputs, environments, DVC's and git's own).
NOT_STUDIES = {"data", "models", "results", "checkpoints", "runs", "node_modules", "tests"}

# `studies new` on a file without a split column: rows are dealt out in this cycle, cell by cell
# (stratified, seeded): 80% train, 10% dev, 10% test, dev and test spread over the cycle.
SPLIT_CYCLE = ("train",) * 4 + ("dev",) + ("train",) * 4 + ("test",)
TINY = "tiny"
# For `--model tiny`, these keys take the demo's values (demo/params.yaml tunes them for the tiny
# GPT-2); every other key keeps the real study's value (params.yaml), comments included.
TINY_KEYS = ("model.tiny", *catalogue.seeded_names(), "predict.max_length")
# demo/params.yaml is GENERATED: the root params.yaml with these overrides (make pipelines).
DEMO_OVERRIDES = DEMO / "params.overrides.yaml"
DEMO_HEADER = (
    "# GENERATED from ../params.yaml and params.overrides.yaml by `make pipelines`: edit those,\n"
    "# then regenerate (a test fails when this copy drifts). The offline demo: the bundled\n"
    "# SYNTHETIC sample and a tiny GPT-2 built and pretrained locally; outputs stay in demo/.\n\n"
)


# --- generating dvc.yaml ------------------------------------------------------------------------


def study_task(study: Path) -> str:
    """The task ``study``'s ``params.yaml`` sets (the default task without one)."""
    params = study / "params.yaml"
    if not params.is_file():
        return tasks.DEFAULT
    raw = yaml.safe_load(params.read_text(encoding="utf-8")) or {}
    return str(raw.get("task", tasks.DEFAULT)) if isinstance(raw, dict) else tasks.DEFAULT


def catalogue_line(task: str, code: str = ".") -> str:
    """The ``vars`` line of a study's ``dvc.yaml`` that reads ``task``'s catalogue."""
    name = catalogue.CATALOGUE_FILES[task].name
    line = CATALOGUE_VAR.replace("pipeline/catalogue.yaml", f"pipeline/{name}")
    return line.replace("- pipeline/", f"- {code}/pipeline/") if code != "." else line


def generated(study: Path, source_text: str) -> str:
    """The ``dvc.yaml`` text of ``study``, made from the root ``dvc.yaml``'s text.

    It reads the catalogue of the task the study's ``params.yaml`` sets.
    """
    code = Path(os.path.relpath(REPO, study.resolve())).as_posix()
    task = study_task(study)
    if task not in catalogue.CATALOGUE_FILES:
        raise SuiteError(
            f"{study / 'params.yaml'}: task {task!r} is not one of {', '.join(tasks.TASKS)}"
        )
    for line in (CODE_VAR, CATALOGUE_VAR):
        if source_text.count(line) != 1:
            raise SuiteError(f"{SOURCE.name}: expected the vars line {line.strip()!r} once")
    header = (
        f"{GENERATED_MARK}{code}/dvc.yaml by `make pipelines`"
        " (python -m pipeline.commands.studies):\n"
        "# edit that file, then regenerate; a test fails when this copy drifts.\n"
    )
    text = source_text.replace(CODE_VAR, CODE_VAR.replace("code: .", f"code: {code}"))
    text = text.replace(CATALOGUE_VAR, catalogue_line(task, code))
    return header + text


def _is_generated(dvc_yaml: Path) -> bool:
    if not dvc_yaml.is_file():
        return False
    with dvc_yaml.open(encoding="utf-8") as file:
        return file.readline().startswith(GENERATED_MARK)


def known_studies(extra: list[Path] | None = None) -> list[Path]:
    """The generated-params studies, every folder with a generated dvc.yaml, and ``extra``."""
    found = list(PARAMS_STUDIES)
    for root, dirs, files in os.walk(REPO):
        depth = len(Path(root).relative_to(REPO).parts)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in NOT_STUDIES and depth < 3
        )
        here = Path(root)
        known = here == REPO or here in found
        if not known and "dvc.yaml" in files and _is_generated(here / "dvc.yaml"):
            found.append(here)
    for study in extra or []:
        if not (study / "dvc.yaml").is_file():
            raise SuiteError(f"{study}: no dvc.yaml here; is it a study directory?")
        if study.resolve() not in {s.resolve() for s in found}:
            found.append(study)
    return found


def stale_studies(extra: list[Path] | None = None) -> list[Path]:
    """The studies whose ``dvc.yaml`` differs from what the root ``dvc.yaml`` generates."""
    source = SOURCE.read_text(encoding="utf-8")
    stale = []
    for study in known_studies(extra):
        target = study / "dvc.yaml"
        regular = target.is_file() and not target.is_symlink()
        if not regular or target.read_text(encoding="utf-8") != generated(study, source):
            stale.append(study)
    return stale


def write_dvc_yaml(study: Path) -> None:
    """Write ``study/dvc.yaml`` (a symlink is replaced by a regular file)."""
    target = study / "dvc.yaml"
    target.unlink(missing_ok=True)
    target.write_text(generated(study, SOURCE.read_text(encoding="utf-8")), encoding="utf-8")


def _shown(study: Path) -> str:
    resolved = study.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(study)


# --- params in the form DVC writes back ---------------------------------------------------------


def load_for_update(text: str) -> Any:
    """Parse YAML as DVC does before rewriting it (``dvc exp run -S``): comments kept."""
    from dvc.utils.serialize._yaml import parse_yaml_for_update

    return parse_yaml_for_update(text, "params.yaml")


def dump_as_dvc(data: Any) -> str:
    """YAML text exactly as DVC writes a params file back, so ``-S key=v`` is a one-line diff.

    Lists are written in block style: ``dvc exp run -S`` rewrites every list of the file as a
    plain (block-style) list, so a flow-style ``[a, b]`` would change with any other key.
    """
    from dvc.utils.serialize._yaml import dumps_yaml
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    todo = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, CommentedSeq):
            node.fa.set_block_style()
        if isinstance(node, CommentedMap | CommentedSeq):
            todo += list(node.values()) if isinstance(node, CommentedMap) else list(node)
    return dumps_yaml(data)


def _set(doc: Any, key: str, value: Any, why: str | None = None, always: bool = False) -> None:
    """Set dotted ``key`` of a round-trip document; ``why`` replaces its end-of-line comment.

    The comment stays when the value does not change, unless ``always``.
    """
    *parents, last = key.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if node.get(last) == value and not always:
        return
    node[last] = value
    if why is None:
        return
    token = node.ca.items.get(last, [None, None, None, None])[2]
    if token is None:
        node.yaml_add_eol_comment(f"# {why}", last)
    elif token.value.lstrip(" ").startswith("#"):  # (a comment added here starts with spaces)
        token.value = re.sub(r"^( *)#[^\n]*", lambda m: f"{m.group(1)}# {why}", token.value)
    else:
        token.value = f" # {why}{token.value}"


def _leaves(data: Any, prefix: str) -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out |= _leaves(value, f"{prefix}.{key}")
        return out
    return {prefix: data}


def _comment(doc: Any, key: str) -> str | None:
    """The end-of-line comment of dotted ``key`` in a round-trip document, without ``#``."""
    *parents, last = key.split(".")
    node = doc
    for part in parents:
        node = node[part]
    token = node.ca.items.get(last, [None, None, None, None])[2]
    if token is None or not token.value.lstrip().startswith("#"):
        return None
    return token.value.strip().splitlines()[0].lstrip("#").strip() or None


OVERRIDES = "params.overrides.yaml"
# Studies whose params.yaml is GENERATED: the root params.yaml with these overrides files applied
# in order (make pipelines), each with the header its copy opens with.
OCCUPATION_DEMO = DEMO / "occupation"
OCCUPATION_STUDY = REPO / "occupation"
PARAMS_STUDIES: dict[Path, tuple[tuple[Path, ...], str]] = {
    DEMO: ((DEMO_OVERRIDES,), DEMO_HEADER),
    OCCUPATION_DEMO: (
        (DEMO_OVERRIDES, OCCUPATION_DEMO / OVERRIDES),
        "# GENERATED from ../../params.yaml, ../params.overrides.yaml and params.overrides.yaml\n"
        "# by `make pipelines`: edit those, then regenerate (a test fails when this copy drifts).\n"
        "# The offline demo of the OCCUPATION task: the demo's SYNTHETIC sample and tiny GPT-2,\n"
        "# each predictor classifying the occupation; outputs stay in demo/occupation/.\n\n",
    ),
    OCCUPATION_STUDY: (
        (OCCUPATION_STUDY / OVERRIDES,),
        "# GENERATED from ../params.yaml and params.overrides.yaml by `make pipelines`: edit\n"
        "# those, then regenerate (a test fails when this copy drifts). The real study of the\n"
        "# OCCUPATION task: Bias in Bios from the Hugging Face Hub and GPT-2 124M, with the\n"
        "# gender study's data, subsample, seeds and recipes (needs internet; a GPU\n"
        "# recommended).\n\n",
    ),
}


def generated_params(study: Path) -> str:
    """A generated study's ``params.yaml``: the root's with its overrides (:data:`PARAMS_STUDIES`).

    Every value the studies share is written once, in the root file (with its comments); a
    study's own values and the reason for each are its short overrides files. The result is in
    the form DVC writes back, so ``dvc exp run -S key=value`` there is a one-line diff.
    """
    files, header = PARAMS_STUDIES[study]
    doc = load_for_update((REPO / "params.yaml").read_text(encoding="utf-8"))
    for file in files:
        overrides = load_for_update(file.read_text(encoding="utf-8"))
        for section, node in overrides.items():
            for leaf, value in _leaves(node, section).items():
                _set(doc, leaf, value, _comment(overrides, leaf), always=True)
    body = dump_as_dvc(doc)
    return header + body[body.index("\ntask:") + 1 :]


def demo_params() -> str:
    """``demo/params.yaml``: the root ``params.yaml`` with the demo's overrides applied."""
    return generated_params(DEMO)


def stale_params() -> list[Path]:
    """The generated studies whose ``params.yaml`` differs from what it should be."""
    return [
        study
        for study in PARAMS_STUDIES
        if not (study / "params.yaml").is_file()
        or (study / "params.yaml").read_text(encoding="utf-8") != generated_params(study)
    ]


def stale_demo_params() -> bool:
    """Whether ``demo/params.yaml`` differs from what :func:`demo_params` makes."""
    return DEMO in stale_params()


def study_params(
    data_local: dict,
    model: str,
    revision: str | None,
    group: dict[str, int] | None = None,
    task: str = tasks.DEFAULT,
) -> str:
    """The new study's ``params.yaml``: the real study's, commented, with data, model, task set."""
    root_text = (REPO / "params.yaml").read_text(encoding="utf-8")
    doc = load_for_update(root_text)
    if task != tasks.DEFAULT:
        _set(doc, "task", task, f"{tasks.get(task).question} (`studies new --task`)")
    # data: the user's files, every row kept (they are the study).
    _set(doc, "data.source", "local", "your files in data/raw/ (written by `studies new`)")
    local = load_for_update(dump_as_dvc(data_local))
    doc["data"]["local"] = local
    for split in paths.SPLITS:
        _set(doc, f"data.max_rows.{split}", None, "every bio of your file", always=True)
    if model == TINY:
        _set(doc, "model.source", "tiny", "the tiny GPT-2 built from your train split (a toy)")
        demo = load_for_update((DEMO / "params.yaml").read_text(encoding="utf-8"))
        for key in TINY_KEYS:
            node = demo
            for part in key.split("."):
                node = node[part]
            for leaf, value in _leaves(node, key).items():
                _set(doc, leaf, value, "the tiny model's setting (demo/params.yaml)")
    elif Path(model).is_dir():
        folder = str(Path(model).resolve())
        _set(doc, "model.source", "local", "a local model folder")
        _set(doc, "model.path", folder, "the model folder given to `studies new --model`")
    else:
        _set(doc, "model.source", "hub")
        if model != doc["model"]["name"]:
            _set(doc, "model.name", model, "the hub id given to `studies new --model`")
            _set(doc, "model.revision", revision, "the model's commit sha; null: latest")
        elif revision:
            _set(doc, "model.revision", revision, "the commit given to `studies new`")
    if group is not None and group["size"] != group["default"]:
        _set(doc, "analyze.min_group_size", group["size"], min_group_comment(group))
    body = dump_as_dvc(doc)
    body = body[body.index("\ntask:") + 1 :]  # the root's header speaks of the real study
    header = (
        "# A study of your own, made by `python -m pipeline.commands.studies new`: your bios\n"
        f"# (data/raw/) and the model {model!r}. Every setting that can change an output is\n"
        "# here; each stage reads only its keys (docs/params.md). `dvc exp run -S key=value`\n"
        "# tries a variation.\n\n"
    )
    return header + body


# --- the smallest group a per-profession statement rests on ---------------------------------------

# analyze.min_group_size never goes below this: a gap over fewer bios of a gender is noise.
MIN_GROUP_FLOOR = 5


def scaled_min_group_size(test: pd.DataFrame, default: int) -> dict[str, int]:
    """``analyze.min_group_size`` for a study's own test split, and what it rests on.

    Rule: the smallest of ``default`` (the real study's 30) and the size that lets the
    :data:`~analysis.verdicts.MIN_PROXY_PROFESSIONS` professions with the most bios of their
    rarer gender qualify (the proxy-bias correlation needs that many), never below
    :data:`MIN_GROUP_FLOOR`. ``qualifying``: how many professions have at least that many test
    bios of each gender (0: the test split carries no per-profession statement).
    """
    counts = test.groupby(["profession_id", "gender_id"]).size().unstack(fill_value=0)
    rarer = sorted(counts.reindex(columns=[0, 1], fill_value=0).min(axis=1), reverse=True)
    basis = int(rarer[MIN_PROXY_PROFESSIONS - 1]) if len(rarer) >= MIN_PROXY_PROFESSIONS else 0
    size = min(default, max(MIN_GROUP_FLOOR, basis))
    return {
        "size": size,
        "default": default,
        "basis": basis,
        "qualifying": sum(int(n) >= size for n in rarer),
    }


def min_group_comment(group: dict[str, int]) -> str:
    """The params.yaml comment of a scaled ``analyze.min_group_size``."""
    return (
        f"scaled to the test split by `studies new`: min({group['default']}, "
        f"max({MIN_GROUP_FLOOR}, {group['basis']} = the rarer-gender count of the "
        f"{_ordinal(MIN_PROXY_PROFESSIONS)} best profession)); {group['qualifying']} "
        "profession(s) qualify"
    )


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


# --- data ---------------------------------------------------------------------------------------


def assign_splits(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A split name per row: stratified by profession x gender, in the shares of the cycle.

    Rows are ordered by cell, at random within a cell (``seed``), and dealt out in turn from a
    cycle of 10 (8 train, 1 dev, 1 test): every cell gives each split its share, up to one row,
    and the cells' leftovers are spread across the splits instead of all landing in train.
    """
    rng = np.random.default_rng(seed)
    order = np.lexsort(
        (rng.random(len(frame)), frame["gender"].to_numpy(), frame["profession"].to_numpy())
    )
    splits = np.empty(len(frame), dtype=object)
    splits[order] = [SPLIT_CYCLE[k % len(SPLIT_CYCLE)] for k in range(len(frame))]
    return splits


def _write_like(frame: pd.DataFrame, target: Path) -> None:
    suffix = target.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(target, index=False)
    elif suffix == ".csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_json(target, orient="records", lines=True, force_ascii=False)


def check_data(
    files: list[Path], split_column: str, seed: int
) -> tuple[dict[str, pd.DataFrame], dict[str, str], pd.DataFrame | None]:
    """Read and check the user's files as ``prepare`` will; split one unsplit file.

    Returns the raw splits, where each came from, and (for an unsplit file) the file's rows
    with the split column added.
    """
    if len(files) == 1:
        table = read_local_file(str(files[0]), ())
        labelled = name_labels({"all": table}, {"all": str(files[0])})["all"]
        if split_column in table.columns:
            raw, sources = split_by_column(labelled, split_column, str(files[0]))
            return raw, sources, None
        validate_split(labelled, "all", str(files[0]))  # labels checked before they stratify
        # the copy keeps the file's own label words; the split is drawn on their ids
        table[split_column] = labelled[split_column] = assign_splits(labelled, seed)
        raw, sources = split_by_column(labelled, split_column, str(files[0]))
        return raw, sources, table
    if len(files) == len(paths.SPLITS):
        sources = {split: str(f) for split, f in zip(paths.SPLITS, files, strict=True)}
        raw = {split: read_local_file(file, REQUIRED_COLUMNS) for split, file in sources.items()}
        return name_labels(raw, sources), sources, None
    raise SuiteError(
        f"--data given {len(files)} times: give one file (with or without a {split_column!r} "
        "column) or three (train, dev, test, in that order)"
    )


def _dvc(args: list[str], cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True
    )
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
        raise SuiteError(f"dvc {' '.join(args)} in {cwd} failed: {' '.join(last)}")


def _in_git(folder: Path) -> bool:
    result = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=folder, capture_output=True, text=True
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def new_study(
    study: Path, files: list[Path], model: str, revision: str | None, task: str = tasks.DEFAULT
) -> dict:
    """Scaffold ``study`` for ``task``; return what was made (the printed summary's facts)."""
    if study.exists() and any(study.iterdir()):
        raise SuiteError(f"{study}: exists and is not empty; give a new folder")
    for file in files:
        if not file.is_file():
            raise SuiteError(f"{file}: no such data file")
    if model != TINY and "/" not in model and not Path(model).is_dir():
        raise SuiteError(
            f"--model {model!r}: not a folder here, nor a hub id (owner/name); "
            "give 'tiny', a hub id such as openai-community/gpt2, or a local model folder"
        )
    root = load_for_update((REPO / "params.yaml").read_text(encoding="utf-8"))
    seed = int(root["seeds"]["data"])
    split_column = "split"
    raw, sources, with_splits = check_data(files, split_column, seed)
    splits = {
        split: to_split_frame(validate_split(raw[split], split, sources[split]))
        for split in paths.SPLITS
    }
    check_splits(splits, sources)  # warnings only: leakage, splits too small
    group = scaled_min_group_size(splits["test"], int(root["analyze"]["min_group_size"]))
    if group["qualifying"] == 0:
        log.warning(
            "the test split cannot carry any per-profession statement: no profession has %d "
            "test bios of each gender (analyze.min_group_size's floor); give more bios",
            MIN_GROUP_FLOOR,
        )
    elif group["qualifying"] < MIN_PROXY_PROFESSIONS:
        log.warning(
            "only %d profession(s) have %d test bios of each gender: per-profession gaps for "
            "them, but no proxy-bias correlation (it needs %d); give more bios",
            group["qualifying"],
            group["size"],
            MIN_PROXY_PROFESSIONS,
        )

    study.mkdir(parents=True, exist_ok=True)
    raw_dir = study / paths.RAW_DATA_DIR
    raw_dir.mkdir(parents=True)
    if len(files) == 1:
        local = {"path": (paths.RAW_DATA_DIR / files[0].name).as_posix()}
        if with_splits is None:
            shutil.copyfile(files[0], raw_dir / files[0].name)
        else:
            _write_like(with_splits, raw_dir / files[0].name)
        local |= {split: None for split in paths.SPLITS}
    else:
        local = {"path": None}
        for split, file in zip(paths.SPLITS, files, strict=True):
            name = f"{split}{file.suffix.lower()}"
            shutil.copyfile(file, raw_dir / name)
            local[split] = (paths.RAW_DATA_DIR / name).as_posix()
    local = {k: local[k] for k in (*paths.SPLITS, "path")} | {"split_column": split_column}
    (study / "params.yaml").write_text(
        study_params(local, model, revision, group, task), encoding="utf-8"
    )
    _dvc(["init", "-q", "--subdir" if _in_git(study) else "--no-scm"], study)
    template = Path(os.path.relpath(REPO / ".dvc" / "plots" / "offline.html", study / ".dvc"))
    config = study / ".dvc" / "config"
    core = "[core]\n    analytics = false\n    check_update = false\n"
    text = config.read_text(encoding="utf-8")
    text = text.replace("[core]\n", core, 1) if "[core]\n" in text else core + text
    text += f"[plots]\n    html_template = {template.as_posix()}\n"
    config.write_text(text, encoding="utf-8")
    write_dvc_yaml(study)
    return {
        "rows": {split: len(frame) for split, frame in splits.items()},
        "split_for_you": with_splits is not None,
        "seed": seed,
        "min_group": group,
    }


def _print_summary(study: Path, model: str, made: dict) -> None:
    rows = made["rows"]
    counts = ", ".join(f"{rows[s]} {s}" for s in paths.SPLITS)
    out = io.StringIO()
    print(f"Created the study {_shown(study)}/ ({counts} bios).", file=out)
    if made["split_for_you"]:
        shares = "/".join(
            f"{round(100 * SPLIT_CYCLE.count(s) / len(SPLIT_CYCLE))}" for s in paths.SPLITS
        )
        print(
            f"Your file had no split column: split {shares} (train/dev/test), stratified by "
            f"profession x gender, seed {made['seed']}; the copy in data/raw/ carries it.",
            file=out,
        )
    group = made["min_group"]
    if group["size"] != group["default"]:
        print(
            f"analyze.min_group_size: {group['size']}, not the real study's {group['default']}: "
            f"{min_group_comment(group)}.",
            file=out,
        )
    if model == TINY:
        print(
            "Model: the tiny GPT-2 built from your train split, a toy for trying the pipeline; "
            "its numbers say nothing about GPT-2.",
            file=out,
        )
    print("Every setting is in params.yaml there. Next, with the suite's venv on PATH:", file=out)
    print(f"  cd {study} && dvc repro", file=out)
    print("then look at the results (from the suite's folder):", file=out)
    print(f"  make dashboard STUDY={study.resolve()}", file=out)
    sys.stdout.write(out.getvalue())


def main() -> None:
    """Regenerate (or check) every study's ``dvc.yaml``, or scaffold a new study."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    parser.add_argument(
        "--study", action="append", type=Path, default=[], help="also this study (repeatable)"
    )
    commands = parser.add_subparsers(dest="command")
    new = commands.add_parser("new", help="scaffold a study of your own in DIR")
    new.add_argument("dir", type=Path, metavar="DIR", help="the new study's folder")
    new.add_argument(
        "--data",
        action="append",
        type=Path,
        required=True,
        metavar="FILE",
        help="one CSV/parquet/JSONL file (with or without a `split` column), "
        "or three: train, dev, test in that order",
    )
    new.add_argument(
        "--model",
        default=None,
        help="'tiny' (a toy built locally), a hub id, or a local model folder "
        "(default: GPT-2 at the real study's pinned revision)",
    )
    new.add_argument("--revision", default=None, help="the hub model's commit sha")
    new.add_argument(
        "--task",
        choices=tuple(tasks.TASKS),
        default=tasks.DEFAULT,
        help="what the study predicts: gender (default) or occupation (pipeline/lib/tasks.py)",
    )
    args = parser.parse_args()
    if args.command == "new":
        root = load_for_update((REPO / "params.yaml").read_text(encoding="utf-8"))
        model = args.model or str(root["model"]["name"])
        made = new_study(args.dir, args.data, model, args.revision, args.task)
        _print_summary(args.dir, model, made)
        return
    params_stale = stale_params()
    if args.check:
        names = [f"{_shown(s)}/params.yaml" for s in params_stale]
        names += [f"{_shown(s)}/dvc.yaml" for s in stale_studies(args.study)]
        if names:
            raise SuiteError(
                f"{', '.join(names)} out of date with dvc.yaml, params.yaml or a "
                "params.overrides.yaml; run `make pipelines`"
            )
        return
    # params first: a study's dvc.yaml reads the catalogue of the task its params.yaml sets
    for study in params_stale:
        (study / "params.yaml").write_text(generated_params(study), encoding="utf-8")
        print(f"wrote {_shown(study)}/params.yaml", file=sys.stderr)
    for study in stale_studies(args.study):
        write_dvc_yaml(study)
        print(f"wrote {_shown(study)}/dvc.yaml", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
