"""The contract (``pipeline/lib/contract.py``): what the demo writes matches it, and a file that
does not is refused by every reader with one line naming the file and the field."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dashboard import data
from pipeline.lib import catalogue, contract, paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.io import read_parquet_metadata, write_parquet
from pipeline.lib.labels import GENDERS, PROFESSIONS
from pipeline.lib.prediction_files import read_predictions
from pipeline.lib.tables import read_document, read_numbers, read_probes, read_profile, read_split

TABLES, DOCUMENTS = contract.TABLES, contract.DOCUMENTS


def demo_pipeline_seeds(demo: Path) -> list[int]:
    """The demo's training seeds (``seeds.train``)."""
    return list(yaml.safe_load((demo / "params.yaml").read_text())["seeds"]["train"])


def read_any(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def declared_files(study: Path) -> dict[Path, contract.TableSpec | type]:
    """Every file of ``study`` the contract declares, with its declaration."""
    found = {}
    for path in sorted(p for p in study.rglob("*") if p.is_file()):
        rel = path.relative_to(study)
        if (spec := contract.declared(rel)) is not None:
            found[rel] = spec
    return found


# --- round trip: every output of the demo --------------------------------------------------


def test_every_output_of_the_demo_matches_the_contract(demo_pipeline):
    demo = demo_pipeline["snapshot"]
    files = declared_files(demo)
    for rel, spec in files.items():
        if isinstance(spec, contract.TableSpec):
            frame = read_any(demo / rel)
            assert len(frame), rel
            contract.check_table(frame, spec, rel, exact=True)  # raises on a mismatch
        else:
            contract.validate(spec, json.loads((demo / rel).read_text()), rel)
    # every table and document the contract declares is among the demo's outputs
    tables = {spec.name for spec in files.values() if isinstance(spec, contract.TableSpec)}
    other_tasks = set(contract.TASK_TABLES["occupation"]) - set(contract.TASK_TABLES["gender"])
    assert tables == set(TABLES) - other_tasks
    assert {spec for spec in files.values() if not isinstance(spec, contract.TableSpec)} == set(
        DOCUMENTS.values()
    )
    # one predictions file per predictor or training seed's run, each on the probes too
    runs = {rel.stem for rel, spec in files.items() if spec is TABLES["predictions"]}
    seeds = demo_pipeline_seeds(demo)
    expected = {
        name if not spec.seeded else paths.run_name(name, seed)
        for name, spec in ((n, catalogue.spec(n)) for n in catalogue.names())
        for seed in (seeds if spec.seeded else [None])
    }
    assert runs == expected
    assert {rel.stem for rel, spec in files.items() if spec is TABLES["probe_predictions"]} == runs


def test_the_demo_uses_the_closed_vocabularies(demo_pipeline):
    """The words in the demo's tables are the contract's, all of them where each must appear."""
    demo = demo_pipeline["snapshot"]
    probes = pd.read_csv(demo / TABLES["probes"].file())
    assert set(probes["variant"]) == set(contract.ProbeVariant)
    assert set(probes["profession"]) <= {*PROFESSIONS, contract.ALL_PROFESSIONS}
    overall = probes[probes["profession"] == contract.ALL_PROFESSIONS]
    assert len(overall) == len(set(probes["predictor"])) * len(contract.ProbeVariant)
    texts = pd.read_parquet(demo / TABLES["probe_texts"].file())
    assert set(texts["variant"]) == set(contract.ProbeVariant)
    pairs = pd.read_csv(demo / TABLES["pairs"].file())
    # the demo has a reference; a mitigation is a comparison over seeds only (procedure.csv)
    assert set(pairs["family"]) == set(contract.PairFamily) - {contract.PairFamily.MITIGATION}
    procedure = pd.read_csv(demo / TABLES["procedure"].file())
    assert set(procedure["family"]) == set(contract.PairFamily) - {contract.PairFamily.REFERENCE}
    assert (pairs["family"] == contract.PairFamily.PRIMARY).sum() == len(
        demo_pipeline_seeds(demo)
    )  # the primary pair, once per training seed
    directions = pd.concat(
        [pd.read_csv(demo / TABLES[name].file())["direction"] for name in ("proxy", "seed_proxy")]
    )
    assert set(directions) <= set(contract.ProxyDirection)
    groups = pd.read_csv(demo / TABLES["groups"].file())
    assert set(groups["gender"]) == set(GENDERS)


# --- a file that breaks the contract: every reader refuses it with one line ------------------


def refused(call: Callable[[], object]) -> str:
    """The one line a pipeline reader stops with."""
    with pytest.raises(SuiteError) as error:
        call()
    return str(error.value)


def problem(loaded: data.Loaded) -> str:
    """The one line a dashboard page shows instead of the file."""
    assert not loaded.ok
    return loaded.problem


def _split(study: Path) -> list[str]:
    rel = paths.split_path("test")
    return [
        refused(lambda: read_split(study / rel, TABLES["split"].columns)),  # analyze, score...
        problem(data.bios(study)),
    ]


def _probe_texts(study: Path) -> list[str]:
    rel = paths.PROBES_FILE
    return [refused(lambda: read_probes(study / rel, TABLES["probe_texts"].columns))]


def _predictions(study: Path) -> list[str]:
    rel = paths.predictions_path("zero_shot")
    return [
        refused(lambda: read_predictions(study / rel, check_sources=False)),  # analyze
        problem(data.predictions(study)["zero_shot"]),
    ]


def _run_metrics(study: Path):
    return data.train_metrics(study, "lora", SEED)


def _history(study: Path) -> list[str]:
    rel = paths.train_history("lora", SEED)
    columns = TABLES["history"].columns
    return [
        refused(lambda: read_numbers(study / rel, columns, what="history", missing_hint=None)),
        problem(data.history(study, "lora", SEED)),
    ]


def _analysis_table(name: str) -> Callable[[Path], list[str]]:
    return lambda study: [problem(data.table(study, name))]


def _document(rel: Path, model: type, dashboard: Callable[[Path], data.Loaded]):
    def readers(study: Path) -> list[str]:
        fix = "make it again"
        lines = [refused(lambda: read_document(study / rel, model, what="it", fix=fix))]
        if model is contract.Profile:
            lines.append(refused(lambda: read_profile(study / rel)))  # analyze
        return [*lines, problem(dashboard(study))]

    return readers


SEED = 1234  # a training seed of the demo
RUN_METRICS = paths.train_metrics("lora", SEED)


def rename_column(column: str, to: str):
    def mutate(frame: pd.DataFrame, every_row: bool) -> pd.DataFrame:
        return frame.rename(columns={column: to})

    return mutate


def set_cell(column: str, value):
    """Put ``value`` in the first row (CSV), or in every row (parquet holds one type a column)."""

    def mutate(frame: pd.DataFrame, every_row: bool) -> pd.DataFrame:
        frame = frame.copy()
        if every_row:
            frame[column] = [value] * len(frame)
        else:
            frame[column] = frame[column].astype(object)
            frame.loc[frame.index[0], column] = value
        return frame

    return mutate


TABLE_CASES = [
    # (table, file, mutation, field the line must name, readers)
    ("split", paths.split_path("test"), rename_column("gender_id", "sex"), "gender_id", _split),
    ("split", paths.split_path("test"), set_cell("profession", 7), "profession", _split),
    ("split", paths.split_path("test"), set_cell("gender", "other"), "gender", _split),
    ("probe_texts", paths.PROBES_FILE, rename_column("variant", "kind"), "variant", _probe_texts),
    ("probe_texts", paths.PROBES_FILE, set_cell("variant", "swaped"), "variant", _probe_texts),
    (
        "predictions",
        paths.predictions_path("zero_shot"),
        rename_column("prob_female", "p"),
        "prob_female",
        _predictions,
    ),
    (
        "predictions",
        paths.predictions_path("zero_shot"),
        set_cell("model", 3),
        "model",
        _predictions,
    ),
    (
        "history",
        paths.train_history("lora", SEED),
        rename_column("step", "steps"),
        "step",
        _history,
    ),
    (
        "history",
        paths.train_history("lora", SEED),
        set_cell("dev_loss", "low"),
        "dev_loss",
        _history,
    ),
    *[
        (name, TABLES[name].file(), mutation, field, _analysis_table(name))
        for name, mutation, field in (
            ("gaps", rename_column("gap", "tpr_gap"), "gap"),
            ("gaps", set_cell("gap", "big"), "gap"),
            ("pairs", set_cell("significant", "maybe"), "significant"),
            ("pairs", set_cell("family", "tertiary"), "family"),
            ("procedure", set_cell("predictor_b", "LoRA, seed 1234"), "predictor_b"),
            ("overall", set_cell("predictor", "lora@1234"), "predictor"),
            ("overall", set_cell("n", 2.5), "n"),
            ("probes", set_cell("variant", "swaped"), "variant"),
            ("proxy", set_cell("direction", "sideways"), "direction"),
            ("procedure", rename_column("acc_diff", "difference"), "acc_diff"),
            ("seed_gaps", set_cell("stable", "yes"), "stable"),
        )
    ],
]


def copy_demo(demo: Path, dest: Path) -> Path:
    for folder in ("data", "results"):
        shutil.copytree(demo / folder, dest / folder)
    return dest


def rewrite(path: Path, mutate) -> None:
    frame = mutate(read_any(path), every_row=path.suffix == ".parquet")
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:  # keep the suite's metadata: only the table changes
        write_parquet(frame, path, metadata=read_parquet_metadata(path))


def assert_one_line_naming(line: str, rel: Path, field: str) -> None:
    assert "\n" not in line, line
    assert str(rel) in line, line
    assert repr(field) in line or f" {field} " in line or f".{field} " in line, line


@pytest.mark.parametrize(
    ("table", "rel", "mutate", "field", "readers"),
    TABLE_CASES,
    ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(TABLE_CASES)],
)
def test_every_reader_refuses_a_table_that_breaks_the_contract(
    demo_pipeline, tmp_path, table, rel, mutate, field, readers
):
    study = copy_demo(demo_pipeline["snapshot"], tmp_path / "study")
    contract.check_table(read_any(study / rel), TABLES[table], rel, exact=True)  # good before
    rewrite(study / rel, mutate)
    lines = readers(study)
    assert lines
    for line in lines:
        assert_one_line_naming(line, rel, field)


def drop(*keys: str):
    def mutate(document: dict) -> None:
        node = document
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return mutate


def put(value, *keys: str):
    def mutate(document: dict) -> None:
        node = document
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return mutate


DOCUMENT_CASES = [
    # (file, model, dashboard loader, mutation, field the line must name)
    (paths.ANALYSIS_SUMMARY, contract.Summary, data.summary, drop("settings", "confidence"),
     "settings.confidence"),
    (paths.ANALYSIS_SUMMARY, contract.Summary, data.summary, put("1000", "data", "n_test"),
     "data.n_test"),
    (paths.ANALYSIS_SUMMARY, contract.Summary, data.summary, put("x", "predictors", "zero_shot",
     "reference"), "predictors.zero_shot.reference"),
    (paths.ANALYSIS_METRICS, contract.HeadlineMetrics, data.metrics, drop("primary", "p_value"),
     "primary.p_value"),
    (paths.ANALYSIS_METRICS, contract.HeadlineMetrics, data.metrics, put("high", "zero_shot",
     "accuracy"), "zero_shot.accuracy"),
    (paths.PROFILE, contract.Profile, data.profile, drop("splits", "train", "rows"),
     "splits.train.rows"),
    (paths.PROFILE, contract.Profile, data.profile, put(2, "splits", "train", "professions",
     "nurse", "share_women"), "splits.train.professions.nurse.share_women"),
    (RUN_METRICS, contract.TrainMetrics, _run_metrics, drop("best_step"), "best_step"),
    (RUN_METRICS, contract.TrainMetrics, _run_metrics, put("ten", "best_step"), "best_step"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rel", "model", "dashboard", "mutate", "field"),
    DOCUMENT_CASES,
    ids=[f"{c[0].name}-{c[4]}-{i}" for i, c in enumerate(DOCUMENT_CASES)],
)
def test_every_reader_refuses_a_document_that_breaks_the_contract(
    demo_pipeline, tmp_path, rel, model, dashboard, mutate, field
):
    study = copy_demo(demo_pipeline["snapshot"], tmp_path / "study")
    document = json.loads((study / rel).read_text())
    contract.validate(model, document, rel)  # good before
    mutate(document)
    (study / rel).write_text(json.dumps(document))
    for line in _document(rel, model, dashboard)(study):
        assert "\n" not in line, line
        assert str(rel) in line, line
        assert f"{field} is" in line, line


def test_a_writer_refuses_a_table_out_of_step_with_the_contract():
    """The analyze stage checks every table against the contract before writing it."""
    frame = pd.DataFrame({c: [] for c in reversed(TABLES["seeds"].columns)})
    with pytest.raises(contract.ContractError) as error:
        contract.check_table(frame, TABLES["seeds"], TABLES["seeds"].path, exact=True)
    assert str(error.value).startswith(f"{TABLES['seeds'].path}: columns max, min, sd")


def test_every_table_path_is_declared_once():
    """A path pattern names one table, and every declared file maps back to its declaration."""
    assert len({spec.path for spec in TABLES.values()}) == len(TABLES)
    for spec in TABLES.values():
        example = spec.file(predictor="zero_shot", split="test", seed_folder="seed_1", plot="gaps")
        assert contract.declared(example) is spec
    for pattern, model in DOCUMENTS.items():
        assert contract.declared(pattern.format(predictor="lora", seed_folder="seed_1")) is model
