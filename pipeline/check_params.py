"""``check_params`` stage: the whole ``params.yaml`` is valid before any other stage runs.

Each stage reads and checks only its own keys, and ``dvc repro`` reruns a stage only when one
of the keys it lists changed. A misspelt key (``seeds.trian``, ``predict.batchsize``, a
top-level ``lora_r``) is therefore a key no stage lists: DVC would see nothing changed and
exit 0 with the old value in force. This stage closes that gap. It depends on ``params.yaml``
as a FILE (any edit reruns it; it loads no model library and takes under a second), validates
every key and value of it with the suite's schema (:mod:`pipeline.lib.params`: unknown keys at
any level, with the nearest valid one; missing keys; values out of range; YAML anchors and
aliases) and that the study's ``dvc.yaml`` runs the predictors of the ``task`` it sets, and
stops ``dvc repro`` with one line before any other stage runs: ``prepare``
depends on its output, and every other stage descends from ``prepare``.

Its output, ``results/params_check.json``, has the same bytes after every successful check, so
a valid edit reruns only the stages whose own keys changed. Run from a study directory::

    python -m pipeline.check_params
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.lib import catalogue, contract, paths
from pipeline.lib.errors import SuiteError, run_main
from pipeline.lib.io import write_json
from pipeline.lib.params import PARAMS_FILE, parse_study, read_params

PARAMS: tuple[str, ...] = ()  # it reads the whole file, as a file dep (not DVC params)


def main() -> None:
    """Validate the study's whole params file; write the (constant) check record."""
    # Its error line needs no `dvc checkout` hint: its only output is a constant record, and no
    # other stage's output was touched (run_main adds the hint when DVC_STAGE is set).
    os.environ.pop("DVC_STAGE", None)
    study = parse_study(read_params(PARAMS_FILE), PARAMS_FILE)
    pipeline = Path("dvc.yaml")
    read_by = (
        catalogue.pipeline_task(pipeline.read_text(encoding="utf-8"))
        if pipeline.is_file()
        else None
    )
    if read_by is not None and read_by != study.task:
        raise SuiteError(
            f"{PARAMS_FILE}: task is {study.task!r} but this study's dvc.yaml runs the {read_by!r} "
            "task's predictors; run `make pipelines` to regenerate it (a generated study), or "
            f"set task back to {read_by!r} (the root study is the {read_by} study; start a study "
            "of another task with `python -m pipeline.commands.studies new DIR --task ...`)"
        )
    record = {
        "params_file": PARAMS_FILE,
        "valid": True,
        "checked_by": "python -m pipeline.check_params",
    }
    write_json(
        contract.checked(contract.ParamsCheck, record, paths.PARAMS_CHECK), paths.PARAMS_CHECK
    )


if __name__ == "__main__":
    run_main(main)
