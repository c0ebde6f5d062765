from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config

from pipeline.lib import catalogue, paths
from pipeline.lib.classifier_training import train_classifier
from pipeline.lib.lora_model import attach_lora, trainable_parameter_count
from pipeline.lib.model_loading import (
    base_model_source,
    build_classifier,
    load_lora_classifier,
    load_tokenizer,
)
from pipeline.lib.params import parse_key
from pipeline.lib.predictor_settings import LoraParams
from pipeline.lib.trainers import RECIPES
from pipeline.train import save_run
from tests.conftest import DEMO_PARAMS, REPO, demo_params, run_module, stage_env

# Small and fast on 2 shared cores; a high learning rate because the tiny model is tiny.
FAST = {
    "learning_rate": 3e-3,
    "warmup_ratio": 0.1,
    "max_steps": 40,
    "batch_size": 16,
    "max_length": 96,
    "eval_steps": 10,
    "checkpoint_steps": 10,
}


def lora_params(**change) -> LoraParams:
    """The demo's lora section with ``change``, validated."""
    return parse_key(demo_params({"lora": change}), "lora")


def set_lora(study: Path, **lora) -> None:
    """Set ``lora`` keys in a study's params (the others stay the demo's)."""
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["lora"] = {**DEMO_PARAMS["lora"], **lora}
    (study / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def shrink_splits(study: Path, train_rows: int, dev_rows: int) -> None:
    for split, rows in (("train", train_rows), ("dev", dev_rows)):
        file = study / paths.split_path(split)
        pd.read_parquet(file).head(rows).to_parquet(file, index=False)


def prob_female(model, tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = tokenizer(
                texts[start : start + 64],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            out.append(torch.softmax(model(**batch).logits.float(), -1)[:, 1].numpy())
    return np.concatenate(out)


def zero_shot_accuracy(base_dir: Path, frame: pd.DataFrame) -> float:
    """Does the base LM expect " She" rather than " He" after the bio? (as in test_base_model)."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, use_safetensors=True).eval()
    she, he = (tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w))[0] for w in (" She", " He"))
    correct = 0
    with torch.inference_mode():
        for text, gender in zip(frame["text"], frame["gender_id"], strict=True):
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)["input_ids"]
            logits = model(ids).logits[0, -1]
            correct += int(logits[she] > logits[he]) == gender
    return correct / len(frame)


def test_trainable_parameters_of_the_seed_setup_on_gpt2_124m():
    # GPT-2 124M's architecture with random weights (no download): r 8 on c_attn and c_proj plus
    # the two-label head is the seed experiment's 812,544 trainable parameters.
    from transformers import GPT2ForSequenceClassification

    config = GPT2Config(num_labels=2, pad_token_id=50256)
    seed_setup = parse_key(yaml.safe_load((REPO / "params.yaml").read_text()), "lora")
    model = attach_lora(GPT2ForSequenceClassification(config), seed_setup)
    assert trainable_parameter_count(model) == 812_544
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all("lora_" in n or ".score." in n for n in trainable)
    assert any(".score.modules_to_save." in n for n in trainable)


def test_classifier_fuses_gelu_with_the_same_outputs_and_gradients(tiny_study_template):
    # Training builds GPT-2 with PyTorch's fused tanh GELU instead of transformers' Python one
    # (a speed-up, BENCHMARKS.md): the logits and the gradients must stay those of the stock model.
    import copy

    from transformers.activations import GELUTanh, NewGELUActivation

    base_dir = str(tiny_study_template / paths.BASE_MODEL_DIR)
    tokenizer = load_tokenizer(base_dir)
    fused = build_classifier(base_dir, None, tokenizer).eval()
    stock = copy.deepcopy(fused)
    for block in stock.transformer.h:
        block.mlp.act = NewGELUActivation()
    assert all(isinstance(block.mlp.act, GELUTanh) for block in fused.transformer.h)
    texts = ["She is a nurse in Ohio.", "He has taught history for twenty years at a school."]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    labels = torch.tensor([1, 0])
    outputs = {}
    for name, model in (("fused", fused), ("stock", stock)):
        out = model(**batch, labels=labels)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        outputs[name] = (out.logits.detach(), grads)
    torch.testing.assert_close(outputs["fused"][0], outputs["stock"][0], rtol=1e-5, atol=1e-5)
    assert outputs["fused"][1].keys() == outputs["stock"][1].keys()
    for name, grad in outputs["fused"][1].items():
        torch.testing.assert_close(grad, outputs["stock"][1][name], rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def trained(tiny_study_template, tmp_path_factory):
    """One in-process training run on the tiny study (the pure core, as main() calls it)."""
    study = tiny_study_template
    train = pd.read_parquet(study / paths.split_path("train"))
    dev = pd.read_parquet(study / paths.split_path("dev"))
    base = base_model_source(study / paths.BASE_MODEL_DIR)
    lora = lora_params(**FAST)
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    result = train_classifier(
        train, dev, RECIPES["lora"], lora, seed=0, base=base, checkpoint_dir=checkpoints
    )
    return {"study": study, "dev": dev, "lora": lora, "result": result, "base": base}


def test_lora_beats_chance_and_matches_zero_shot_on_dev(trained):
    result, dev = trained["result"], trained["dev"]
    zero_shot = zero_shot_accuracy(trained["study"] / paths.BASE_MODEL_DIR, dev)
    accuracy = result.dev_metrics["accuracy"]
    # Independent check of the reported number from the returned model itself.
    probs = prob_female(result.model, result.tokenizer, dev["text"].tolist(), 96)
    assert ((probs >= 0.5).astype(int) == dev["gender_id"].to_numpy()).mean() == accuracy
    print(f"dev accuracy: LoRA {accuracy:.4f}, zero-shot {zero_shot:.4f}")
    # Chance is ~0.5 (share of women ~0.46). The sample's hard bios (first person, name or
    # title only, singular they, a last sentence about someone else) hold the zero-shot base
    # near 0.85 on dev; 40 steps at this tiny scale bring LoRA about level with it. That LoRA
    # beats the base significantly is the demo's job (120 steps on 3,000 bios: 0.926 against
    # 0.854 on the test split, test_reproducibility checks the primary verdict).
    assert accuracy > 0.75
    assert accuracy >= zero_shot - 0.05
    history = result.history
    assert list(history["step"]) == [10, 20, 30, 40]
    best = history.loc[history["dev_accuracy"].idxmax()]
    assert result.best_step == best["step"]
    # the reported dev scores are those logged at the selected step (not scored again), and
    # equal the returned model's own accuracy on dev (above)
    assert (accuracy, result.dev_metrics["loss"]) == (best["dev_accuracy"], best["dev_loss"])
    assert history[["train_loss", "dev_loss", "learning_rate"]].notna().all().all()


def test_only_lora_and_head_parameters_change(trained):
    result = trained["result"]
    from transformers import AutoModelForSequenceClassification

    fresh = AutoModelForSequenceClassification.from_pretrained(
        trained["base"][0], num_labels=2, use_safetensors=True
    )
    base_weights = dict(fresh.named_parameters())
    changed_trainable = 0
    for name, param in result.model.named_parameters():
        if param.requires_grad:
            assert "lora_" in name or ".score.modules_to_save." in name, name
            changed_trainable += int("lora_B" in name and bool(param.abs().sum() > 0))
            continue
        if ".score." in name:
            continue  # the head's untrained original, kept by peft beside the trained copy
        plain = name.removeprefix("base_model.model.").replace(".base_layer", "")
        torch.testing.assert_close(param, base_weights[plain], rtol=0, atol=0)
    assert changed_trainable > 0  # lora_B starts at zero: training moved it
    head = dict(result.model.named_parameters())
    trained_head = head["base_model.model.score.modules_to_save.default.weight"]
    original_head = head["base_model.model.score.original_module.weight"]
    assert not torch.equal(trained_head, original_head)


def test_saved_adapter_reloads_with_its_head(trained, tmp_path):
    result, dev = trained["result"], trained["dev"]
    study = tmp_path / "study"
    (study / "models").mkdir(parents=True)
    (study / paths.BASE_MODEL_DIR).symlink_to(trained["study"] / paths.BASE_MODEL_DIR)
    metadata = {
        "base": {"source": "tiny", "name_or_path": "models/base", "revision": None, "local": True}
    }
    save_run(result, RECIPES["lora"], study / paths.trained_dir("lora", 0), metadata)
    saved = load_file(study / paths.trained_dir("lora", 0) / "adapter_model.safetensors")
    assert "base_model.model.score.weight" in saved  # the head travels with the adapter
    assert not list((study / paths.trained_dir("lora", 0)).glob("*.bin"))

    # Unmerged (the adapter as trained) and merged (as the predict stage scores it) agree.
    merged, _ = load_lora_classifier(study / paths.trained_dir("lora", 0), "cpu")
    model, tokenizer = load_lora_classifier(
        study / paths.trained_dir("lora", 0), "cpu", merge=False
    )
    assert not model.training and not merged.training
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    assert model.config.pad_token_id == tokenizer.eos_token_id
    texts = dev["text"].tolist()
    before = prob_female(result.model, result.tokenizer, texts, 96)
    after = prob_female(model, tokenizer, texts, 96)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6)
    np.testing.assert_allclose(prob_female(merged, tokenizer, texts, 96), before, atol=1e-5)

    # The pitfall: the same LoRA weights with a fresh random head (what loading an adapter saved
    # without its head gives) do not reproduce the trained model.
    head = model.base_model.model.score.modules_to_save["default"]
    torch.manual_seed(0)
    with torch.no_grad():
        torch.nn.init.normal_(head.weight, std=0.02)
    headless = prob_female(model, tokenizer, texts, 96)
    assert np.abs(headless - before).max() > 0.1


def test_missing_adapter_is_one_clear_error(tmp_path):
    from pipeline.lib.errors import SuiteError

    with pytest.raises(SuiteError, match="run the train stage first"):
        load_lora_classifier(tmp_path / "models/lora")


def _small_resume_study(study: Path) -> dict:
    # 128 train bios at batch 8: 16 steps per epoch, so a resume inside epoch 2 must replay that
    # epoch's order exactly. Checkpoints every 5 steps but logs every 10: checkpoint 15 falls
    # between two logs, so the train loss summed since the last log must survive the kill too.
    shrink_splits(study, train_rows=128, dev_rows=64)
    lora = {**FAST, "batch_size": 8, "max_steps": 30, "max_length": 64, "checkpoint_steps": 5}
    set_lora(study, **lora)
    return lora


# Runs the train stage and SIGKILLs it at a chosen moment (the test's hooks; the code is the
# stage's own). argv[1] is the phase.
KILLER = """
import os, signal, sys
from contextlib import contextmanager
import transformers
from pipeline import train
from pipeline.lib import checkpoints, dev_selection
from pipeline.lib.errors import run_main

phase = sys.argv[1]
sys.argv = ["pipeline.train", "lora", "0"]  # the tiny study's one seed (seeds.train: [0])
Trainer = transformers.Trainer

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_evaluate, real_step = Trainer.evaluate, Trainer.training_step

def evaluate(self, *args, **kwargs):
    if phase == "evaluation" and self.state.global_step == 20:
        die()
    return real_evaluate(self, *args, **kwargs)

def training_step(self, *args, **kwargs):
    if phase == "mid_epoch" and self.state.global_step == 17:  # computing step 18
        die()
    return real_step(self, *args, **kwargs)

Trainer.evaluate, Trainer.training_step = evaluate, training_step

selection = dev_selection._dev_selection_class()
real_restore = selection.restore_best

def restore_best(self, model):
    if phase == "selection":  # after the last step: the best step's weights, then the writes
        die()
    return real_restore(self, model)

selection.restore_best = restore_best

real_write_json, real_atomic_dir = checkpoints.write_json, train.atomic_dir

def write_json(obj, path):
    if phase == "checkpoint" and str(path).endswith("checkpoint-20/" + checkpoints.COMPLETE_FILE):
        die()  # checkpoint 20 is written but for its marker
    return real_write_json(obj, path)

@contextmanager
def atomic_dir(path):
    with real_atomic_dir(path) as tmp:
        yield tmp
        if phase == "final_save":
            die()  # the adapter is complete in its temporary folder, not yet renamed

checkpoints.write_json, train.atomic_dir = write_json, atomic_dir
if phase == "cleanup":  # every output written, the checkpoints not yet removed
    train.remove_checkpoints = lambda folder: die()
run_main(train.main)
"""

OUTPUTS = (
    paths.trained_dir("lora", 0) / "adapter_model.safetensors",
    paths.trained_dir("lora", 0) / "adapter_config.json",
    paths.trained_dir("lora", 0) / "metadata.json",
    paths.train_metrics("lora", 0),
    paths.train_history("lora", 0),
)

# Each phase: where its run resumes from (None: a fresh start) and whether that checkpoint
# already holds the end of training (the run must then select only, not train a step more).
PHASES = (
    ("mid_epoch", None, False),  # killed computing step 18: checkpoint 15 is the last
    ("evaluation", 15, False),  # killed scoring dev at step 20, before checkpoint 20
    ("checkpoint", 15, False),  # killed writing checkpoint 20, before its marker
    ("selection", 15, False),  # killed restoring the best step's weights after step 30
    ("final_save", 30, True),  # killed with the adapter complete but not renamed into place
    ("cleanup", 30, True),  # killed after every write, before the checkpoints are removed
)


def hidden(folder: Path) -> list[str]:
    """Temporary (dot) entries of ``folder``: an atomic write that did not finish."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []


def run_killed(study: Path, phase: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILLER, phase],
        cwd=study,
        env=stage_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def resumed_from(stderr: str) -> int | None:
    found = re.search(r"resuming from \S*checkpoint-(\d+)", stderr)
    return int(found.group(1)) if found else None


def test_kills_at_every_phase_resume_to_the_uninterrupted_result(tiny_study, tmp_path):
    # One run killed six times in a row, once in each phase of training, then finished: every
    # resume must pick up exactly where the last complete checkpoint left it, and the result is
    # byte for byte the uninterrupted run's.
    _small_resume_study(tiny_study)
    clean = Path(shutil.copytree(tiny_study, tmp_path / "clean", symlinks=True))
    uninterrupted = run_module("pipeline.train", clean, "lora", "0")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    study = tiny_study
    for phase, resumes_at, finished in PHASES:
        killed = run_killed(study, phase)
        assert killed.returncode == -signal.SIGKILL, (phase, killed.stderr[-3000:])
        assert resumed_from(killed.stderr) == resumes_at, phase
        assert ("holds the end of training" in killed.stderr) == finished, phase
        assert (study / paths.checkpoints_dir("lora")).is_dir(), phase
        # a killed run never leaves an adapter that looks complete
        assert (study / paths.trained_dir("lora", 0)).exists() == (phase == "cleanup"), phase
        leftovers = hidden(study / (paths.TRAINED_DIR / "lora"))
        assert bool(leftovers) == (phase == "final_save"), (phase, leftovers)

    resumed = run_module("pipeline.train", study, "lora", "0")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed_from(resumed.stderr) == 30
    assert "holds the end of training" in resumed.stderr
    log = json.loads((study / paths.run_log_path(catalogue.train_stage("lora", 0))).read_text())
    assert log["resumed_from_checkpoint"] is True
    assert not (study / paths.checkpoints_dir("lora")).exists()  # removed after success
    # the killed save's temporary folder is gone
    assert not hidden(study / (paths.TRAINED_DIR / "lora"))
    for output in OUTPUTS:
        assert (study / output).read_bytes() == (clean / output).read_bytes(), output
    metrics = json.loads((study / paths.train_metrics("lora", 0)).read_text())
    assert metrics["steps"] == 30  # not 31: the finished checkpoint was not trained further
    history = pd.read_csv(study / paths.train_history("lora", 0))
    assert list(history.columns) == list(paths.HISTORY_COLUMNS)
    assert list(history["step"]) == [10, 20, 30]
    assert history["train_loss"].notna().all()


@pytest.mark.parametrize(
    ("lora", "message"),
    [
        ({"r": 0}, "error: params.yaml: lora.r = 0: Input should be greater than or equal to 1"),
        (
            {"target_modules": ["c_attn", "q_proj"]},
            "error: lora.target_modules: no layer named 'q_proj' in the base model; "
            "adaptable layers: c_attn, c_fc, c_proj",
        ),
        (
            {"batch_size": 16, "gradient_accumulation_steps": 100},
            "error: lora.gradient_accumulation_steps = 100: one optimizer step needs",
        ),
    ],
)
def test_bad_params_give_one_line_and_exit_1(tiny_study, lora, message):
    set_lora(tiny_study, **lora)
    result = run_module("pipeline.train", tiny_study, "lora", "0")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tiny_study / paths.trained_dir("lora", 0)).exists()


def test_two_process_ddp_run_saves_one_adapter(tiny_study):
    shrink_splits(tiny_study, train_rows=96, dev_rows=32)
    set_lora(tiny_study, **{**FAST, "batch_size": 8, "max_steps": 4, "eval_steps": 2})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "pipeline.train",
            "lora",
            "0",
        ],
        cwd=tiny_study,
        env={**stage_env(), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lora_dir = tiny_study / paths.trained_dir("lora", 0)
    assert len(list(lora_dir.glob("adapter_model.safetensors"))) == 1
    assert not hidden(lora_dir.parent)
    meta = json.loads((lora_dir / "metadata.json").read_text())
    assert meta["run"]["world_size"] == 2
    assert meta["steps"] == 4
    assert meta["dev_bios"] == 32  # every dev bio scored once across both processes


def test_lora_learns_what_a_barely_pretrained_base_cannot(tiny_study_template, tmp_path):
    # The session's tiny GPT-2 already reads pronouns, so 40 steps of LoRA only match it.
    # Fine-tuning must add the skill to a base that lacks it: a tiny GPT-2 pretrained for a
    # few steps only.
    from pipeline.lib.tiny_gpt2 import save_tiny_model
    from tests.conftest import TINY

    train = pd.read_parquet(tiny_study_template / paths.split_path("train"))
    dev = pd.read_parquet(tiny_study_template / paths.split_path("dev"))
    weak = tmp_path / "weak-gpt2"
    save_tiny_model(train["text"].tolist(), TINY.model_copy(update={"pretrain_steps": 30}), 0, weak)
    zero_shot = zero_shot_accuracy(weak, dev)
    lora = lora_params(**{**FAST, "max_steps": 60})
    result = train_classifier(
        train,
        dev,
        RECIPES["lora"],
        lora,
        seed=0,
        base=(str(weak), None),
        checkpoint_dir=tmp_path / "ckpt",
    )
    accuracy = result.dev_metrics["accuracy"]
    print(f"weak base: zero-shot {zero_shot:.4f}, LoRA {accuracy:.4f} (dev)")
    assert zero_shot < 0.75
    assert accuracy > 0.8
    assert accuracy > zero_shot + 0.15


def test_frozen_projections_in_bfloat16_change_nothing_under_autocast():
    """CUDA training stores the frozen Conv1D weights in bfloat16 once instead of letting
    autocast cast them at every forward pass: under bfloat16 autocast (run here on the CPU)
    logits, loss and every trainable gradient are bit-identical, and only frozen layers moved."""
    import copy

    from transformers import GPT2Config, GPT2ForSequenceClassification

    from pipeline.lib.lora_model import attach_lora, frozen_matmuls_in_bfloat16

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2,
        n_embd=64,
        n_head=4,
        vocab_size=500,
        num_labels=2,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    # eval(): no dropout, so that the two passes draw nothing at random; gradients still flow.
    stock = attach_lora(GPT2ForSequenceClassification(config), lora_params(**FAST)).eval()
    cast = copy.deepcopy(stock)
    assert frozen_matmuls_in_bfloat16(cast) == 2 * 4  # c_attn, c_proj, c_fc, mlp.c_proj a layer
    for name, param in cast.named_parameters():
        expected = torch.bfloat16 if (".c_" in name and not param.requires_grad) else torch.float32
        assert param.dtype == expected, name
    ids, labels = torch.randint(1, 500, (4, 23)), torch.tensor([0, 1, 1, 0])
    outputs = []
    for model in (stock, cast):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=ids, labels=labels)
        out.loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
        outputs.append((out.logits, out.loss, grads))
    (logits_a, loss_a, grads_a), (logits_b, loss_b, grads_b) = outputs
    torch.testing.assert_close(logits_a, logits_b, rtol=0, atol=0)
    torch.testing.assert_close(loss_a, loss_b, rtol=0, atol=0)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 0
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], rtol=0, atol=0)
