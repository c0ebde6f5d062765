"""The suite's error type and the edge that turns it into one line and exit code 1."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable


class SuiteError(ValueError):
    """A user-facing problem (bad data, bad params, missing input) with a message naming the fix."""


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
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("error: interrupted; outputs already written are intact", file=sys.stderr)
        raise SystemExit(130) from None
