"""Training that fails safe: a diverged run stops with one line and replaces nothing."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pipeline.lib import paths
from pipeline.lib.classifier_training import TrainResult
from pipeline.lib.divergence import check_finite_result
from pipeline.lib.errors import SuiteError
from tests.conftest import demo_params, run_module, write_params
from tests.pipeline.test_train import lora_params

SEED = 1234  # the one training seed run here (one of the demo's seeds.train)
PREVIOUS = {
    paths.trained_dir("lora", SEED) / "adapter_model.safetensors": b"the previous, good adapter",
    paths.trained_dir("lora", SEED) / "metadata.json": b'{"previous": true}\n',
    paths.train_history("lora", SEED): (
        b"step,epoch,train_loss,dev_accuracy,dev_loss,learning_rate\n1,1,0.5,0.9\n"
    ),
    paths.train_metrics("lora", SEED): b'{"dev_accuracy": 0.9}\n',
}


def previous_outputs(study) -> None:
    for file, content in PREVIOUS.items():
        (study / file).parent.mkdir(parents=True, exist_ok=True)
        (study / file).write_bytes(content)


def outputs_now(study) -> dict:
    files = [p for p in (study / (paths.TRAINED_DIR / "lora")).rglob("*") if p.is_file()]
    files += [study / paths.train_history("lora", SEED), study / paths.train_metrics("lora", SEED)]
    return {p.relative_to(study): p.read_bytes() for p in files}


@pytest.fixture
def small_study(tmp_path):
    """A study with a small sample and an (untrained) tiny GPT-2: seconds, not minutes."""
    study = tmp_path / "study"
    write_params(
        study,
        demo_params(
            {
                "data": {"sample": {"train": 200, "dev": 40, "test": 40}},
                "model": {"tiny": {"pretrain_steps": 0, "vocab_size": 400}},
                "lora": {"max_steps": 3, "eval_steps": 1, "max_length": 64, "batch_size": 8},
            }
        ),
    )
    for stage in ("pipeline.prepare", "pipeline.base_model"):
        done = run_module(stage, study)
        assert done.returncode == 0, done.stderr[-2000:]
    return study


def test_a_non_finite_loss_stops_training_before_anything_is_replaced(small_study):
    from safetensors.torch import load_file, save_file

    tiny_study = small_study
    # A base model with one non-finite weight: the very first loss is NaN (a real divergence
    # looks the same to the trainer, a few steps later).
    weights_file = tiny_study / paths.BASE_MODEL_DIR / "model.safetensors"
    weights = load_file(weights_file)
    name = next(key for key in weights if key.endswith("ln_f.weight"))
    weights[name][0] = float("nan")
    save_file(weights, weights_file, metadata={"format": "pt"})
    previous_outputs(tiny_study)
    before = outputs_now(tiny_study)

    result = run_module("pipeline.train", tiny_study, "lora", str(SEED))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert errors[0].startswith("error: training diverged: non-finite loss at optimizer step 1 (")
    assert "lora.learning_rate = " in errors[0]
    assert "nothing was written" in errors[0]
    assert outputs_now(tiny_study) == before
    # no checkpoint of the diverged state was kept to resume from
    assert not list((tiny_study / paths.checkpoints_dir("lora")).rglob("suite-complete.json"))


def result_with(history: pd.DataFrame, dev: dict, model: torch.nn.Module) -> TrainResult:
    return TrainResult(
        model=model,
        tokenizer=None,
        history=history,
        dev_metrics=dev,
        best_step=1,
        global_step=1,
        trainable_params=1,
        world_size=1,
        is_main_process=True,
        resumed_from=None,
        loop_seconds=0.0,
    )


HISTORY = pd.DataFrame(
    {
        "step": [1, 2],
        "epoch": [0.5, 1.0],
        "train_loss": [0.7, None],  # a final evaluation that logged no train loss: blank
        "dev_accuracy": [0.6, 0.7],
        "dev_loss": [0.65, 0.6],
        "learning_rate": [1e-3, None],
    }
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, None),
        ({"dev": {"accuracy": float("nan")}}, "dev accuracy is nan"),
        ({"dev_loss": float("nan")}, "a non-finite dev score or loss in the history at step 2"),
        ({"train_loss": float("inf")}, "a non-finite dev score or loss in the history at step 2"),
        ({"weight": float("nan")}, "trained weight weight is not finite"),
    ],
)
def test_nothing_non_finite_is_written(change, message):
    history = HISTORY.copy()
    for column in ("dev_loss", "train_loss"):
        if column in change:
            history.loc[1, column] = change[column]
    model = torch.nn.Linear(2, 1, bias=False)
    if "weight" in change:
        with torch.no_grad():
            model.weight[0, 0] = change["weight"]
    dev = {"accuracy": 0.7, "loss": 0.6, "n": 60, **change.get("dev", {})}
    lora = lora_params(learning_rate=5e-3)
    if message is None:
        check_finite_result(result_with(history, dev, model), ("lora", lora), seed=SEED)
        return
    with pytest.raises(SuiteError) as err:
        check_finite_result(result_with(history, dev, model), ("lora", lora), seed=SEED)
    assert str(err.value).startswith(f"training diverged: {message} (lora.learning_rate = 0.005)")
