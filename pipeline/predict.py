"""``predict`` stage: one model predictor's answer for every bio, through one scoring path.

Run from a study directory::

    python -m pipeline.predict zero_shot                 # test split -> results/predictions/
    python -m pipeline.predict random_head --on probes   # probe texts -> results/probes/
    python -m pipeline.predict zero_shot --on test probes  # both, the model loaded once (the stage)
    python -m pipeline.predict lora --seed 1234          # one training seed's run: lora@seed1234
    python -m pipeline.predict zero_shot --task occupation  # the occupation task: 28 classes
    torchrun --nproc_per_node=4 -m pipeline.predict zero_shot   # sharded, one identical file

The predictors are the catalogue's models (``pipeline/catalogue.yaml``), loaded by
:mod:`pipeline.lib.model_predictors` and scored by :mod:`pipeline.lib.batch_scoring`. Params
(exactly these, as in
``dvc.yaml``): ``predict.device``, ``predict.batch_size``, ``predict.max_length`` and the
predictor's own ``predict.<predictor>``. The output is the shared predictions schema
(:mod:`pipeline.lib.prediction_files`) with the run's stable facts in the parquet metadata; the git
revision and times go to ``runs/predict@<predictor>.json`` (:mod:`pipeline.lib.provenance`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from pipeline.lib import contract, paths, tasks
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.model_loading import adapter_metadata, recorded_train_stage
from pipeline.lib.model_predictors import (
    DEFAULT_BATCH_SIZE,
    LOADERS,
    LoadContext,
    load_predictor,
    params_keys,
    predict_frame,
)
from pipeline.lib.params import load_stage_params
from pipeline.lib.prediction_files import write_predictions
from pipeline.lib.provenance import params_hash, run_log, run_metadata
from pipeline.lib.runtime import make_runtime, shutdown
from pipeline.lib.tables import read_prepared

log = logging.getLogger(__name__)


def read_texts(path: Path, stage: str) -> pd.DataFrame:
    """Read and check ``id`` and ``text`` of a table that ``stage`` made; one line if unusable.

    The test split is made by ``prepare``, the probe texts by ``probe`` (:mod:`pipeline.lib.tables`:
    a missing, corrupt or empty file, a null or repeated id, an empty or non-text bio stop).
    """
    what, table = ("probe texts", "probe_texts") if stage == "probe" else ("split", "split")
    return read_prepared(path, ("id", "text"), what=what, stage=stage, spec=contract.TABLES[table])


# What the stage scores: the test split (made by ``prepare``) and the probe texts (``probe``).
TARGETS = {
    "test": (paths.split_path("test"), paths.predictions_path, "prepare"),
    "probes": (paths.PROBES_FILE, paths.probe_predictions_path, "probe"),
}


def trained_in(predictor: str, seed: int | None) -> str | None:
    """The train stage a seed's run records (its ``metadata.json``); None without a seed.

    Its predict stage is the one paired with it (``paths.predict_stage``); a run too old to
    record it was made by ``train``.
    """
    if seed is None:
        return None
    try:
        return recorded_train_stage(adapter_metadata(paths.trained_dir(predictor, seed)))
    except SuiteError:  # no run yet: loading it says so, in one line
        return None


def main() -> None:
    """Predict the test split and/or the probe texts with one model predictor, loaded once."""
    parser = argparse.ArgumentParser(description="Predict every bio with one model predictor.")
    parser.add_argument("predictor", choices=sorted(LOADERS))
    parser.add_argument(
        "--on",
        nargs="+",
        choices=tuple(TARGETS),
        default=["test"],
        help="what to score: the test split, the probe texts or both (the stage: both)",
    )
    parser.add_argument("--seed", type=int, help="the training seed of a seeded predictor's run")
    tasks.add_argument(parser)
    args = parser.parse_args()
    params = load_stage_params(params_keys(args.predictor, args.task))
    name = args.predictor if args.seed is None else paths.run_name(args.predictor, args.seed)
    targets = [target for target in TARGETS if target in args.on]
    # every input is read and checked before the model loads: a bad file stops at once
    bios = {target: read_texts(TARGETS[target][0], TARGETS[target][2]) for target in targets}
    runtime = make_runtime(params["predict.device"])
    batch_size = params["predict.batch_size"] or DEFAULT_BATCH_SIZE[runtime.device.type]
    stage = paths.predict_stage(args.predictor, args.seed, trained_in(args.predictor, args.seed))
    try:
        with run_log(stage) as record:
            context = LoadContext(params, runtime, seed=args.seed, task=args.task)
            predictor = load_predictor(args.predictor, context)
            for target in targets:
                source, out_path, _ = TARGETS[target]
                _predict(
                    predictor,
                    bios[target],
                    source,
                    out_path(name),
                    stage,
                    params,
                    runtime,
                    batch_size,
                    args.task,
                )
            record.update(processes=runtime.world_size)
    finally:
        shutdown(runtime)


def _predict(predictor, bios, source, out, stage, params, runtime, batch_size, task) -> None:
    """Score ``bios`` (read from ``source``) with a loaded predictor and write ``out``."""
    log.info(
        "%s on %d bios (%s): %s, batch %d, %d process(es)",
        predictor.name,
        len(bios),
        source,
        runtime.description,
        batch_size,
        runtime.world_size,
    )
    result = predict_frame(
        bios["id"].tolist(),
        bios["text"].tolist(),
        predictor,
        runtime,
        batch_size,
        identity=params_hash(params.as_dict()),
    )
    if result.frame is None:  # a process of a sharded run other than the first
        return
    metadata = run_metadata(stage, params, device=runtime.description)
    metadata.update(
        predictor=predictor.name,
        model_info=predictor.model_info,
        input=str(source),
        n_bios=len(bios),
        truncated_bios=result.n_truncated,
        batch_size=batch_size,
    )
    made_from = [predictor.weights] if predictor.weights is not None else []
    write_predictions(result.frame, out, metadata, made_from=made_from, task=task)
    log.info("wrote %s (%d bios truncated)", out, result.n_truncated)


if __name__ == "__main__":
    run_main(main)
