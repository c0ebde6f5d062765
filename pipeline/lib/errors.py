"""The suite's error type and the edge that turns it into one line and exit code 1."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable


class SuiteError(ValueError):
    """A user-facing problem (bad data, bad params, missing input) with a message naming the fix."""


def dvc_recovery() -> str:
    """Under ``dvc repro`` / ``dvc exp run``: how to get back what DVC removed, else ``""``.

    DVC deletes a stage's outputs before running its command (``persist: true`` would keep them
    but switches off DVC's run cache for the stage). A stage that then stops leaves none, so its
    error line ends with the command that restores the previous ones from DVC's cache. DVC names
    the stage it runs in ``DVC_STAGE``.
    """
    stage = os.environ.get("DVC_STAGE")
    if not stage:
        return ""
    return (
        f"; DVC removed this stage's previous outputs before running it: `dvc checkout {stage}` "
        "restores them"
    )


def run_main(main: Callable[[], None]) -> None:
    """Run a stage's ``main`` and turn a :class:`SuiteError` into one stderr line and exit 1.

    Only user mistakes are caught: a bug still shows its traceback.
    """
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        main()
    except SuiteError as err:
        print(f"error: {err}{dvc_recovery()}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print(
            f"error: interrupted; outputs already written are intact{dvc_recovery()}",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
