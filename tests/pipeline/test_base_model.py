from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError
from pipeline.lib.model_loading import base_model_source
from tests.conftest import demo_params, run_module, write_params


def test_tiny_model_round_trip(tiny_model_dir):
    assert (tiny_model_dir / "model.safetensors").is_file()
    assert not list(tiny_model_dir.glob("*.bin"))
    source, revision = base_model_source(tiny_model_dir)
    assert (source, revision) == (str(tiny_model_dir), None)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, use_safetensors=True).eval()
    again = AutoModelForCausalLM.from_pretrained(source, use_safetensors=True).eval()
    ids = tokenizer("She is a nurse in Chicago.", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        torch.testing.assert_close(model(ids).logits, again(ids).logits, rtol=0, atol=0)
    assert tokenizer.eos_token == "<|endoftext|>"


def test_tiny_model_learned_pronouns(tiny_model_dir, sample_raw):
    # A model that has read bios expects "She" after a bio about a woman: above chance.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    she, he = (tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w))[0] for w in (" She", " He"))
    test = sample_raw["test"].head(200)
    correct = 0
    with torch.inference_mode():
        for text, gender in zip(test["hard_text"], test["gender"], strict=True):
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)["input_ids"]
            logits = model(ids).logits[0, -1]
            correct += int(logits[she] > logits[he]) == gender
    assert correct / len(test) > 0.7


def test_hub_reference_and_missing_base(tmp_path):
    write_params(tmp_path, demo_params({"model": {"source": "hub"}}))
    (tmp_path / "data/splits").mkdir(parents=True)
    pd.DataFrame({"text": ["x"]}).to_parquet(tmp_path / paths.split_path("train"))
    result = run_module("pipeline.base_model", tmp_path)
    assert result.returncode == 0, result.stderr
    reference = json.loads((tmp_path / paths.BASE_MODEL_DIR / "reference.json").read_text())
    assert reference == {
        "source": "hub",
        "name_or_path": "openai-community/gpt2",
        "revision": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    }
    assert len(reference["revision"]) == 40
    assert base_model_source(tmp_path / paths.BASE_MODEL_DIR)[1] == reference["revision"]
    with pytest.raises(SuiteError, match="run the base_model stage first"):
        base_model_source(tmp_path / "nowhere")


def test_local_model_folder_must_exist(tmp_path):
    write_params(tmp_path, demo_params({"model": {"source": "local", "path": "no/such/folder"}}))
    result = run_module("pipeline.base_model", tmp_path)
    assert result.returncode == 1
    assert "error: model.path: no model folder at no/such/folder" in result.stderr
