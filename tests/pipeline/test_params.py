from __future__ import annotations

import pytest

from pipeline.errors import SuiteError
from pipeline.params import DataParams, ModelParams, parse_section, read_params
from tests.conftest import run_module, write_params


def parse_data(value: dict) -> DataParams:
    return parse_section({"data": value}, "data", DataParams)


def test_defaults_are_the_real_study():
    data = parse_data({})
    assert data.source == "hub"
    assert data.hub.name == "LabHC/bias_in_bios"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"source": "ftp"}, "data.source = 'ftp': Input should be 'hub', 'local' or 'sample'"),
        ({"max_rows": {"train": -5}}, "data.max_rows.train = -5: Input should be greater"),
        ({"max_rows": {"train": 0}}, "data.max_rows.train = 0"),
        ({"sample": {"test": "many"}}, "data.sample.test = 'many'"),
        ({"maxrows": 3}, "unknown key data.maxrows; allowed here: source, hub, local"),
        ({"hub": {"revison": "x"}}, "unknown key data.hub.revison; allowed here: name, revision"),
        ({"source": "local"}, "data.source is 'local' but data.local names no files"),
        ({"source": "local", "local": {"train": "a.csv"}}, "give data.local.path, or all of"),
    ],
)
def test_bad_data_params_name_key_value_and_allowed(value, expected):
    with pytest.raises(SuiteError) as err:
        parse_data(value)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_bad_model_params():
    with pytest.raises(SuiteError, match=r"model\.source is 'local' but model\.path is not set"):
        parse_section({"model": {"source": "local"}}, "model", ModelParams)
    with pytest.raises(SuiteError, match="must be a multiple of n_head"):
        parse_section({"model": {"tiny": {"n_embd": 30, "n_head": 4}}}, "model", ModelParams)


def test_unknown_section_and_bad_yaml(tmp_path):
    write_params(tmp_path, {"dataa": {}})
    with pytest.raises(SuiteError, match="unknown section 'dataa'; allowed sections: seeds, data"):
        read_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("data: [unclosed")
    with pytest.raises(SuiteError, match="not valid YAML"):
        read_params(tmp_path / "params.yaml")
    with pytest.raises(SuiteError, match="no params file here"):
        read_params(tmp_path / "missing.yaml")


def test_stage_prints_one_line_and_exits_1(tmp_path):
    write_params(tmp_path, {"data": {"source": "sample", "max_rows": {"train": -1}}})
    result = run_module("pipeline.prepare", tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: params.yaml: data.max_rows")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
