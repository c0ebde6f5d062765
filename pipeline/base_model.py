"""``base_model`` stage: fix the base GPT-2 that every predictor starts from.

``model.source`` in params.yaml:

- ``hub``: a hub model (``openai-community/gpt2`` at a pinned revision). Only a reference is
  written: the weights are not the suite's to cache.
- ``local``: a local model folder (a mirror, an air-gapped copy); only a reference is written.
- ``tiny``: build the tiny GPT-2 used by the demo and the tests: a byte-level BPE tokenizer
  trained on the train split, a small ``GPT2Config`` model briefly pretrained as a causal LM on
  the train bios (so that its zero-shot guesses are better than chance), saved with
  safetensors as a normal model folder.

Writes ``models/base/`` holding ``reference.json`` (and, for ``tiny``, the model itself). Every
loader resolves the base through :func:`pipeline.lib.model_loading.base_model_source`. Params:
``model``,
``seeds.model``. Run from a study directory: ``python -m pipeline.base_model``, or build a tiny
model anywhere with ``python -m pipeline.base_model --tiny OUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from pipeline.lib import paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import atomic_dir
from pipeline.lib.params import load_stage_params
from pipeline.lib.provenance import run_log
from pipeline.lib.tiny_gpt2 import save_tiny_model

log = logging.getLogger(__name__)

PARAMS = ("model", "seeds.model")


def hub_reference(model) -> dict:
    """What ``models/base/reference.json`` records for a hub or local base model."""
    return {
        "source": model.source,
        "name_or_path": model.name if model.source == "hub" else model.path,
        "revision": model.revision if model.source == "hub" else None,
    }


def main() -> None:
    """Write the base-model reference (hub/local) or build the tiny model (tiny)."""
    parser = argparse.ArgumentParser(description="Fix the base GPT-2 of the study.")
    parser.add_argument(
        "--tiny", metavar="OUT_DIR", help="build a tiny GPT-2 into OUT_DIR from the train split"
    )
    args = parser.parse_args()
    params = load_stage_params(PARAMS)
    model, seed = params["model"], params["seeds.model"]
    train_file = paths.split_path("train")
    with run_log("base_model"):
        if model.source == "tiny" or args.tiny:
            train = pd.read_parquet(paths.require(train_file, "prepare"), columns=["text"])
            texts = train["text"].tolist()
            save_tiny_model(texts, model.tiny, seed, Path(args.tiny or paths.BASE_MODEL_DIR))
            return
        if model.source == "local" and not Path(model.path).is_dir():
            raise SuiteError(f"model.path: no model folder at {model.path}")
        if model.source == "hub" and model.revision is None:
            log.warning("model.revision is null: %s is unpinned (the hub's latest)", model.name)
        with atomic_dir(paths.BASE_MODEL_DIR) as tmp:
            (tmp / paths.BASE_REFERENCE_FILE).write_text(
                json.dumps(hub_reference(model), indent=2, sort_keys=True) + "\n"
            )


if __name__ == "__main__":
    run_main(main)
