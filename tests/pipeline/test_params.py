"""Params: complete files, strict types, one-line errors, and stages that read only their keys."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from pipeline.lib.errors import SuiteError
from pipeline.lib.params import (
    SECTIONS,
    StageParams,
    StudyParams,
    load_stage_params,
    own_schemas,
    parse_key,
    parse_study,
    read_params,
)
from tests.conftest import REPO, demo_params, run_module, write_params

STUDY_FILES = (REPO / "params.yaml", REPO / "demo" / "params.yaml")


def data_error(change: dict) -> str:
    with pytest.raises(SuiteError) as err:
        parse_key(demo_params({"data": change}), "data")
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("file", STUDY_FILES, ids=lambda f: str(f.relative_to(REPO)))
def test_both_study_files_are_complete_and_valid(file):
    study = parse_study(read_params(file), str(file))
    assert isinstance(study, StudyParams)


def test_no_setting_has_a_default_in_code():
    # A default in code is a setting DVC cannot see: every field of every section is required.
    todo: list[type[BaseModel]] = [StudyParams, *own_schemas()]
    checked = 0
    while todo:
        model = todo.pop()
        for name, info in model.model_fields.items():
            assert info.is_required(), f"{model.__name__}.{name} has a default in code"
            checked += 1
            for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    todo.append(candidate)
    assert checked > 70  # the per-predictor schemas too


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"source": "ftp"}, "data.source = 'ftp': Input should be 'hub', 'local' or 'sample'"),
        ({"max_rows": {"train": -5}}, "data.max_rows.train = -5: Input should be greater"),
        ({"max_rows": {"train": 0}}, "data.max_rows.train = 0"),
        ({"sample": {"test": "many"}}, "data.sample.test = 'many'"),
        ({"sample": {"test": True}}, "data.sample.test = True: Input should be a valid integer"),
        ({"sample": {"test": "50"}}, "data.sample.test = '50': Input should be a valid integer"),
        (
            {"maxrows": 3},
            "unknown key data.maxrows (did you mean data.max_rows?); allowed here: source",
        ),
        (
            {"hub": {"revison": "x"}},
            "unknown key data.hub.revison (did you mean data.hub.revision?); allowed here",
        ),
        ({"source": "local"}, "data.source is 'local' but data.local names no files"),
    ],
)
def test_bad_data_params_name_key_value_and_allowed(change, expected):
    assert expected in data_error(change)


def test_local_files_must_lie_in_the_tracked_folder():
    layout = {"train": None, "dev": None, "test": None, "path": None, "split_column": "split"}
    message = data_error({"source": "local", "local": {**layout, "path": "/tmp/bios.csv"}})
    assert "local files must lie in data/raw/" in message
    message = data_error({"source": "local", "local": {**layout, "path": "data/raw/../x.csv"}})
    assert "data/raw/" in message
    assert "give data.local.path, or all of" in data_error(
        {"source": "local", "local": {**layout, "train": "data/raw/a.csv"}}
    )
    ok = demo_params({"data": {"source": "local", "local": {**layout, "path": "data/raw/b.csv"}}})
    assert parse_key(ok, "data").local.path == "data/raw/b.csv"


def test_a_missing_key_is_named():
    params = demo_params()
    del params["lora"]["weight_decay"]
    with pytest.raises(SuiteError, match=r"missing key lora\.weight_decay"):
        parse_key(params, "lora")
    with pytest.raises(SuiteError, match=r"missing key seeds\.train"):
        parse_key({"seeds": {}}, "seeds.train")


def test_strict_types_and_yaml_floats():
    with pytest.raises(SuiteError, match=r"lora\.r = True: Input should be a valid integer"):
        parse_key(demo_params({"lora": {"r": True}}), "lora")
    # YAML 1.1 reads 2e-5 as a string; it is still a valid float
    assert parse_key(demo_params({"lora": {"learning_rate": "2e-5"}}), "lora").learning_rate == 2e-5
    with pytest.raises(SuiteError, match="expected a number, not true/false"):
        parse_key(demo_params({"lora": {"learning_rate": True}}), "lora")


def test_a_revision_belongs_to_its_model():
    hub = {"model": {"source": "hub", "name": "distilgpt2"}}
    with pytest.raises(SuiteError, match="is the pinned commit of openai-community/gpt2, not of"):
        parse_key(demo_params(hub), "model")
    unpinned = demo_params({"model": {"source": "hub", "name": "distilgpt2", "revision": None}})
    assert parse_key(unpinned, "model").revision is None
    own = demo_params({"model": {"source": "hub", "name": "distilgpt2", "revision": "a" * 40}})
    assert parse_key(own, "model").revision == "a" * 40


def test_bad_model_params():
    with pytest.raises(SuiteError, match=r"model\.source is 'local' but model\.path is not set"):
        parse_key(demo_params({"model": {"source": "local"}}), "model")
    with pytest.raises(SuiteError, match="must be a multiple of n_head"):
        parse_key(demo_params({"model": {"tiny": {"n_embd": 30}}}), "model")


def test_target_modules_have_one_order():
    params = demo_params({"lora": {"target_modules": ["c_proj", "c_attn", "c_proj"]}})
    assert parse_key(params, "lora").target_modules == ["c_attn", "c_proj"]


def test_unknown_section_and_bad_yaml(tmp_path):
    write_params(tmp_path, {**demo_params(), "lora_r": 16})
    with pytest.raises(
        SuiteError,
        match="unknown section lora_r \\(did you mean lora\\?\\); allowed here: task, seeds, data",
    ):
        read_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("data: [unclosed")
    with pytest.raises(SuiteError, match="not valid YAML"):
        read_params(tmp_path / "params.yaml")
    with pytest.raises(SuiteError, match="no params file here"):
        read_params(tmp_path / "missing.yaml")
    assert SECTIONS[:2] == ("task", "seeds")


def test_a_stage_reads_only_the_keys_it_declared(tmp_path):
    write_params(tmp_path, demo_params())
    params = load_stage_params(("lora", "seeds.train"), tmp_path / "params.yaml")
    assert params["seeds.train"] == [1234, 1235, 1236] and params["lora"].r == 8
    with pytest.raises(KeyError, match="not among this stage's params"):
        params["seeds.data"]
    # only the declared keys need to be in the file
    assert StageParams({"seeds": {"train": [3]}}, ["seeds.train"])["seeds.train"] == [3]


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ([], "seeds.train"),
        ([1, 1], "seed 1 is listed twice"),
        ([-1], "greater than or equal to 0"),
        (7, "list"),
    ],
)
def test_training_seeds_are_a_list_of_distinct_seeds(train, message):
    with pytest.raises(SuiteError, match=message):
        parse_key({"seeds": {"train": train}}, "seeds.train")


def test_stage_prints_one_line_and_exits_1(tmp_path):
    write_params(tmp_path, demo_params({"data": {"max_rows": {"train": -1}}}))
    result = run_module("pipeline.prepare", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: params.yaml: data.max_rows")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
