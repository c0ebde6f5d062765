"""``erase`` stage: a LEACE eraser of gender for the frozen base's representation, and leakage.

The representation is what a head-only classifier's head reads: the base model's final hidden
state at a bio's last real token (:func:`pipeline.lib.erasure.representations`). On the train
split the stage fits a LEACE eraser of gender (``gender_id``) on it
(:func:`pipeline.lib.erasure.fit_eraser`); the catalogue's ``erased`` predictors put it before
their head (``leace_head_only``). Gender is the protected attribute of every task, so the
eraser is the same for both and the stage takes no ``--task``.

It then measures **leakage**: a linear gender probe (:func:`pipeline.lib.erasure.gender_probe`),
fitted on the train split's representations, answers for every test bio, once from the
representation as it is and once from the erased one. LEACE's guarantee (no linear classifier
beats a constant on the data it was fitted on) says the second should be at the majority rate;
the analysis reports both against it.

Writes, atomically: ``models/erasers/base/`` (``eraser.safetensors``, ``metadata.json``) and
``results/leakage/base.parquet`` (``id``, ``gender_id``, ``pred``, ``pred_erased``). Params:
``erase``. Run from a study directory: ``python -m pipeline.erase``.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import torch

from pipeline.lib import contract, paths
from pipeline.lib.erasure import erase, fit_eraser, gender_probe, representations, save_eraser
from pipeline.lib.errors import run_main
from pipeline.lib.io import atomic_dir, write_parquet
from pipeline.lib.labels import GENDERS
from pipeline.lib.model_loading import base_model_source, build_classifier, load_tokenizer
from pipeline.lib.params import load_stage_params
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.runtime import DEFAULT_BATCH_SIZE, make_runtime, shutdown
from pipeline.lib.tables import read_split

log = logging.getLogger(__name__)

PARAMS = ("erase",)
STAGE = "erase"
REPRESENTATION = paths.BASE_REPRESENTATION  # what head_only and leace_head_only heads read


def main() -> None:
    """Fit the eraser on the train split; probe gender on the test split, as is and erased."""
    params = load_stage_params(PARAMS)
    settings = params["erase"]
    columns = ("id", "text", "gender_id")
    train = read_split(paths.split_path("train"), columns)
    test = read_split(paths.split_path("test"), columns)
    runtime = make_runtime("auto")
    batch_size = settings.batch_size or DEFAULT_BATCH_SIZE[runtime.device.type]
    try:
        with run_log(STAGE):
            name_or_path, revision = base_model_source(paths.BASE_MODEL_DIR)
            tokenizer = load_tokenizer(name_or_path, revision)
            model = build_classifier(name_or_path, revision, tokenizer, GENDERS)
            model = model.to(runtime.device).eval()  # float32: the eraser is fitted in float64
            rep = {
                split: representations(
                    model,
                    tokenizer,
                    frame["text"].tolist(),
                    settings.max_length,
                    runtime,
                    batch_size,
                    desc=f"representations ({split})",
                )
                for split, frame in (("train", train), ("test", test))
            }
            tensors = fit_eraser(rep["train"], train["gender_id"].to_numpy())
            erased = {
                split: erase(tensors, torch.as_tensor(x, dtype=torch.float32)).double().numpy()
                for split, x in rep.items()
            }
            probe = (settings.probe_C, settings.probe_max_iter)
            leakage = pd.DataFrame(
                {
                    "id": test["id"].astype(object).to_numpy(),
                    "gender_id": test["gender_id"].to_numpy(np.int64),
                    "pred": gender_probe(rep["train"], train["gender_id"], rep["test"], *probe),
                    "pred_erased": gender_probe(
                        erased["train"], train["gender_id"], erased["test"], *probe
                    ),
                }
            )
            out = paths.leakage_path(REPRESENTATION)
            contract.check_table(leakage, contract.TABLES["leakage_probes"], out, exact=True)
            metadata = run_metadata(STAGE, params, device=runtime.description)
            metadata.update(representation=REPRESENTATION, train_bios=len(train))
            with atomic_dir(paths.eraser_dir(REPRESENTATION)) as tmp:
                save_eraser(tensors, tmp)
                (tmp / "metadata.json").write_text(
                    json.dumps(metadata, indent=2, sort_keys=True) + "\n"
                )
            write_parquet(leakage, out, metadata=metadata)
            for column, what in (("pred", "as is"), ("pred_erased", "erased")):
                accuracy = float((leakage[column] == leakage["gender_id"]).mean())
                log.info("gender probe, %s, %s: %.3f", REPRESENTATION, what, accuracy)
            log.info("wrote %s and %s", paths.eraser_dir(REPRESENTATION), out)
    finally:
        shutdown(runtime)


if __name__ == "__main__":
    run_main(main)
