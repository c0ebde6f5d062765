from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.lib import catalogue, paths
from pipeline.lib.batch_scoring import ZeroShotScorer, predict_probs
from pipeline.lib.io import read_parquet_metadata
from pipeline.lib.model_predictors import (
    LOADERS,
    LoadContext,
    load_random_head,
    load_zero_shot,
    params_keys,
    predict_frame,
)
from pipeline.lib.params import StageParams
from pipeline.lib.prediction_files import COLUMNS, read_predictions
from pipeline.lib.runtime import CPU, Runtime
from tests.conftest import demo_params, run_module, stage_env

BATCH = 32


def context(model_dir, extra: dict | None = None, predictor: str = "zero_shot"):
    """A loader context on CPU: the demo's predict params (``extra`` merged in)."""
    params = StageParams(demo_params({"predict": extra or {}}), params_keys(predictor))
    return LoadContext(params, CPU, base_dir=model_dir)


def zero_shot_words() -> dict:
    return demo_params()["predict"]["zero_shot"]


@pytest.fixture(scope="module")
def zero_shot(tiny_model_dir):
    return load_zero_shot(context(tiny_model_dir))


@pytest.fixture(scope="module")
def test_split(tiny_study_template):
    return pd.read_parquet(tiny_study_template / paths.split_path("test"))


def small_study(study, rows: int = 96):
    """Shrink the study's test split so that a subprocess run takes seconds."""
    test = pd.read_parquet(study / paths.split_path("test")).head(rows)
    test.to_parquet(study / paths.split_path("test"))
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["predict"].update(max_length=256, batch_size=16)
    (study / "params.yaml").write_text(yaml.safe_dump(params))
    return test


# --- the zero-shot scorer -------------------------------------------------------------------


def test_zero_shot_frame_schema_and_accuracy_above_chance(zero_shot, test_split):
    result = predict_frame(test_split["id"], test_split["text"].tolist(), zero_shot, CPU, BATCH)
    frame = result.frame
    assert tuple(frame.columns) == COLUMNS
    assert frame["id"].tolist() == test_split["id"].tolist()  # original order restored
    assert frame["prob_female"].between(0, 1).all()
    assert set(frame["predictor"]) == {"zero_shot"}
    # The tiny model read bios in pretraining: a label swap or a wrong continuation score
    # drops this far below 0.5.
    accuracy = (frame["pred"] == test_split["gender_id"]).mean()
    assert accuracy > 0.8, accuracy
    assert result.n_truncated == 0


def brute_force_logprob(model, tokenizer, text: str, word: str) -> float:
    """Sum of the word's token log-probs after the text: one full forward, no batching."""
    prompt = tokenizer(text)["input_ids"]
    full = tokenizer(text + word)["input_ids"]
    assert full[: len(prompt)] == prompt  # the word starts a new token
    with torch.inference_mode():
        logits = model(torch.tensor([full])).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    return sum(log_probs[pos - 1, full[pos]].item() for pos in range(len(prompt), len(full)))


def test_multi_token_continuations_match_brute_force(tiny_model_dir, zero_shot, test_split):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, use_safetensors=True).eval()
    params = zero_shot_words()
    female, male = params["female"], params["male"]
    assert max(len(tokenizer(w)["input_ids"]) for w in female + male) > 1
    texts = test_split["text"].head(12).tolist()
    expected = []
    for text in texts:
        f = [brute_force_logprob(model, tokenizer, text, w) for w in female]
        m = [brute_force_logprob(model, tokenizer, text, w) for w in male]
        diff = np.logaddexp.reduce(f) - np.logaddexp.reduce(m)
        expected.append(1 / (1 + np.exp(-diff)))
    encoded = zero_shot.scorer.encode(texts)
    got = predict_probs(encoded, zero_shot.scorer, CPU, batch_size=5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_same_bio_same_score_whatever_batch_and_order(zero_shot, tiny_model_dir, test_split):
    # Lengths vary widely, so each bio is padded differently in each batching.
    texts = test_split["text"].head(24).tolist()
    encoded = zero_shot.scorer.encode(texts)
    reference = predict_probs(encoded, zero_shot.scorer, CPU, 1)
    for batch_size in (3, 16, 24):
        got = predict_probs(encoded, zero_shot.scorer, CPU, batch_size)
        np.testing.assert_allclose(got, reference, rtol=0, atol=1e-5)
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = [texts[i] for i in order]
    got = predict_probs(zero_shot.scorer.encode(shuffled), zero_shot.scorer, CPU, 7)
    np.testing.assert_allclose(got, reference[order], rtol=0, atol=1e-5)
    # The classifier scorer shares the loop: same property.
    head = load_random_head(context(tiny_model_dir, predictor="random_head"))
    encoded = head.scorer.encode(texts)
    one = predict_probs(encoded, head.scorer, CPU, 1)
    many = predict_probs(encoded, head.scorer, CPU, 13)
    np.testing.assert_allclose(many, one, rtol=0, atol=1e-5)


def test_truncation_keeps_the_end_and_is_counted(tiny_model_dir, test_split):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = test_split["text"].head(60).tolist()
    lengths = np.array([len(tokenizer(t)["input_ids"]) for t in texts])
    limit = int(np.median(lengths))
    predictor = load_zero_shot(context(tiny_model_dir, {"max_length": limit}))
    result = predict_frame(range(len(texts)), texts, predictor, CPU, BATCH)
    assert result.n_truncated == int((lengths > limit).sum()) > 0
    encoded = predictor.scorer.encode(texts)
    longest = int(np.argmax(lengths))
    assert encoded.ids[longest] == tokenizer(texts[longest])["input_ids"][-limit:]
    assert max(len(ids) for ids in encoded.ids) == limit


def test_template_text_is_kept_when_the_bio_is_cut(tiny_model_dir):
    params = {"max_length": 20, "zero_shot": {"template": "Bio: {text} Then"}}
    scorer = load_zero_shot(context(tiny_model_dir, params)).scorer
    assert isinstance(scorer, ZeroShotScorer)
    tokenizer = scorer.tokenizer
    encoded = scorer.encode(["She is a nurse. " * 20])
    ids = encoded.ids[0]
    assert len(ids) == 20 and encoded.truncated.tolist() == [True]
    assert ids[: len(tokenizer("Bio:")["input_ids"])] == tokenizer("Bio:")["input_ids"]
    assert ids[-len(tokenizer(" Then")["input_ids"]) :] == tokenizer(" Then")["input_ids"]


def test_zero_shot_params_are_checked():
    with pytest.raises(ValueError, match="exactly once"):
        context(None, {"zero_shot": {"template": "no slot"}})
    with pytest.raises(ValueError, match="both female and male"):
        context(None, {"zero_shot": {"female": [" She"], "male": [" She"]}})


# --- the random head ------------------------------------------------------------------------


def test_random_head_is_seeded_and_padding_free(tiny_model_dir, test_split):
    def head(seed: int):
        extra = {"random_head": {"seed": seed}}
        return load_random_head(context(tiny_model_dir, extra, predictor="random_head"))

    first, again, other = head(3), head(3), head(4)
    model = first.scorer.model
    assert model.config.pad_token_id == first.scorer.tokenizer.eos_token_id
    assert first.scorer.tokenizer.pad_token == "<|endoftext|>"
    torch.testing.assert_close(model.score.weight, again.scorer.model.score.weight, rtol=0, atol=0)
    assert not torch.equal(model.score.weight, other.scorer.model.score.weight)
    texts = test_split["text"].head(64).tolist()
    probs = predict_frame(range(64), texts, first, CPU, BATCH).frame["prob_female"]
    # Batched and padded, each bio scores what the head gives on that bio alone: its logits
    # at the bio's last real token, softmaxed (padding changes nothing). An untrained head is
    # a random projection of the base model's hidden states: whatever it scores, it learned
    # nothing.
    scorer = first.scorer
    with torch.no_grad():
        for row, ids in enumerate(scorer.encode(texts[:8]).ids):
            logits = model(torch.tensor([ids])).logits[0]
            expected = torch.softmax(logits, dim=-1)[1].item()
            assert probs.iloc[row] == pytest.approx(expected, abs=1e-5)
    assert catalogue.is_reference("random_head")
    assert first.model_info["n_layer"] == 2 and first.model_info["parameters"] > 0


# --- precision: the GPU path's bfloat16 weights against float32 ----------------------------


@pytest.mark.parametrize("name", ["zero_shot", "random_head"])
def test_bfloat16_weights_match_float32(tiny_model_dir, test_split, name):
    """The CUDA runtime's precision and padding, run on the CPU: the stated tolerance holds.

    On CUDA prediction runs with bfloat16 weights and widths padded to a multiple of 32 (see
    pipeline/lib/runtime.py); float32 with exact padding is the reference the CPU path writes.
    Tolerance: P(female) within 0.05 of float32 for every bio, the predicted label the same
    for at least 97% of them (a bfloat16 weight keeps 8 significant bits).
    """
    gpu_like = Runtime(torch.device("cpu"), inference_dtype=torch.bfloat16, pad_multiple=32)
    loader = LOADERS[name]
    texts = test_split["text"].head(96).tolist()
    reference = predict_frame(
        range(96), texts, loader(context(tiny_model_dir, None, name)), CPU, BATCH
    )
    ctx = LoadContext(context(tiny_model_dir, None, name).params, gpu_like, base_dir=tiny_model_dir)
    bf16 = predict_frame(range(96), texts, loader(ctx), gpu_like, BATCH)
    assert "bfloat16 weights" in gpu_like.description
    gap = (bf16.frame["prob_female"] - reference.frame["prob_female"]).abs()
    assert 0 < gap.max() < 0.05
    same = (bf16.frame["pred"] == reference.frame["pred"]).mean()
    assert same >= 0.97


# --- the stage: CLI, errors, torchrun --------------------------------------------------------


def test_cli_random_head_is_deterministic_across_runs(tiny_study):
    test = small_study(tiny_study)
    out = tiny_study / paths.predictions_path("random_head")
    first = run_module("pipeline.predict", tiny_study, "random_head")
    assert first.returncode == 0, first.stderr
    blob = out.read_bytes()
    second = run_module("pipeline.predict", tiny_study, "random_head")
    assert second.returncode == 0, second.stderr
    assert out.read_bytes() == blob
    frame = read_predictions(out)
    assert frame["id"].tolist() == test["id"].tolist()
    meta = read_parquet_metadata(out)
    assert meta["device"] == "cpu (float32)"
    assert meta["seeds"] == {"predict.random_head.seed": 1234}
    assert meta["truncated_bios"] == 0 and meta["n_bios"] == len(test)
    assert meta["params"]["predict.max_length"] == 256
    assert set(meta["params"]) == set(params_keys("random_head"))
    assert meta["params_hash"] == frame["params_hash"].iloc[0]
    assert "git_revision" not in meta  # in the run log, so that reruns keep the same bytes
    log = json.loads((tiny_study / paths.run_log_path("predict@random_head")).read_text())
    assert log["stage"] == "predict@random_head" and log["wall_seconds"] >= 0


def test_cli_probes(tiny_study):
    small_study(tiny_study)
    probes = pd.DataFrame(
        {
            "id": ["a:swap", "b:swap", "c:neutral"],
            "text": [
                "He is a nurse in Ohio. He loves his patients.",
                "She is a surgeon in Texas. She works at a hospital.",
                "Works as a teacher in Boston. Enjoys hiking.",
            ],
            "kind": ["swap", "swap", "neutral"],
        }
    )
    (tiny_study / paths.PROBES_FILE).parent.mkdir(parents=True, exist_ok=True)
    probes.to_parquet(tiny_study / paths.PROBES_FILE)
    result = run_module("pipeline.predict", tiny_study, "zero_shot", "--on", "probes")
    assert result.returncode == 0, result.stderr
    out = tiny_study / paths.probe_predictions_path("zero_shot")
    frame = read_predictions(out)
    assert frame["id"].tolist() == probes["id"].tolist()
    assert frame["pred"].tolist()[:2] == [0, 1]
    assert not (tiny_study / paths.predictions_path("zero_shot")).exists()
    # The stage's command scores both with the model loaded once: the same bytes for the probes
    alone = out.read_bytes()
    both = run_module("pipeline.predict", tiny_study, "zero_shot", "--on", "probes", "test")
    assert both.returncode == 0, both.stderr
    assert out.read_bytes() == alone
    test = pd.read_parquet(tiny_study / paths.split_path("test"))
    scored = read_predictions(tiny_study / paths.predictions_path("zero_shot"))
    assert scored["id"].tolist() == test["id"].tolist()


def test_empty_split_and_missing_model_fail_with_one_line(tiny_study):
    test = pd.read_parquet(tiny_study / paths.split_path("test"))
    test.head(0).to_parquet(tiny_study / paths.split_path("test"))
    empty = run_module("pipeline.predict", tiny_study, "zero_shot")
    assert empty.returncode == 1
    assert empty.stderr.strip().splitlines()[-1].startswith("error: data/splits/test.parquet")
    assert "0 rows" in empty.stderr and "Traceback" not in empty.stderr
    test.head(5).to_parquet(tiny_study / paths.split_path("test"))
    (tiny_study / paths.BASE_MODEL_DIR / "reference.json").unlink()
    missing = run_module("pipeline.predict", tiny_study, "random_head")
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert "error: models/base: no base model here" in missing.stderr


def test_torchrun_two_processes_write_the_single_process_file(tiny_study):
    small_study(tiny_study)
    out = tiny_study / paths.predictions_path("zero_shot")
    env = {**stage_env(), "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, "-m", "pipeline.predict", "zero_shot"],
        cwd=tiny_study,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr
    blob = out.read_bytes()
    out.unlink()
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    sharded = subprocess.run(
        [*launch, "-m", "pipeline.predict", "zero_shot"],
        cwd=tiny_study,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    assert out.read_bytes() == blob


def test_every_catalogue_model_has_a_loader():
    assert set(LOADERS) == set(catalogue.names("model"))
