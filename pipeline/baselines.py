"""``baselines`` stage: fit one baseline of the catalogue and predict every bio.

One stage per baseline (``python -m pipeline.baselines <name>``), each with its own params key
``baselines.<name>``; the baselines themselves are :mod:`pipeline.lib.baseline_predictors`. Each
writes the shared predictions schema for the test split (``results/predictions/``) and for the
probe texts (``results/probes/``). Run from a study directory.
"""

from __future__ import annotations

import argparse
import logging

from pipeline.lib import catalogue, paths, tasks
from pipeline.lib.baseline_predictors import BASELINES, params_keys, predict_baseline
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.params import load_stage_params
from pipeline.lib.prediction_files import write_predictions
from pipeline.lib.provenance import run_log, run_metadata
from pipeline.lib.tables import read_probes, read_split

log = logging.getLogger(__name__)


def main() -> None:
    """Fit one baseline on the train split; write its test and probe predictions."""
    parser = argparse.ArgumentParser(description="Fit a baseline and predict every bio.")
    parser.add_argument("baseline", choices=sorted(BASELINES))
    tasks.add_argument(parser)
    args = parser.parse_args()
    task = tasks.get(args.task)
    if args.baseline not in catalogue.names("baseline", task.name):
        known = ", ".join(catalogue.names("baseline", task.name))
        raise SuiteError(
            f"{args.baseline} is not a baseline of the {task.name} task ({known}); this study's "
            "dvc.yaml was made for another task: run `make pipelines`"
        )
    params = load_stage_params(params_keys(args.baseline))
    train = read_split(paths.split_path("train"), ("text", task.label_column))
    train = train.rename(columns={task.label_column: "label"})
    targets = {
        "test": read_split(paths.split_path("test"), ("id", "text")),
        "probes": read_probes(paths.PROBES_FILE, ("id", "text")),
    }
    stage = f"baselines@{args.baseline}"
    with run_log(stage):
        own = params[f"baselines.{args.baseline}"]
        classes = None if task.name == "gender" else task.n_classes
        frames = predict_baseline(args.baseline, train, targets, own, classes)
        meta = run_metadata(stage, params)
        made_from = [paths.split_path("train")]  # a baseline's "weights": what it was fitted on
        for target, out in (
            ("test", paths.predictions_path),
            ("probes", paths.probe_predictions_path),
        ):
            write_predictions(
                frames[target], out(args.baseline), meta, made_from=made_from, task=task.name
            )
        log.info("wrote %s predictions", args.baseline)


if __name__ == "__main__":
    run_main(main)
