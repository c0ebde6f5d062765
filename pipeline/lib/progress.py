"""Progress bars for the suite's long loops: live on a terminal, two lines in a log.

    from pipeline.lib.progress import progress_bar
    for batch in progress_bar(batches, desc="score", unit="batch"): ...
    with progress_bar(total=steps, desc="pretrain", unit="step") as bar: ...

On a terminal a bar redraws in place as tqdm's always did. When stderr is not a terminal
(``dvc repro > log 2>&1``, CI), each redraw would be one more line of the log (a captured demo
run wrote hundreds of them, 118 KB): there a bar draws at its start, at most once every
:data:`LOG_INTERVAL_SECONDS` on a long loop, and at its end, and stays (``leave=True``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm as plain_tqdm
from tqdm.auto import tqdm

LOG_INTERVAL_SECONDS = 60.0  # a long loop in a log still says it is alive, once a minute


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_bar(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar over ``iterable`` (or ``total=``); ``kwargs`` go to tqdm.

    Not on a terminal: the plain (not notebook) bar, redrawn at most every
    :data:`LOG_INTERVAL_SECONDS` (``maxinterval`` too, or tqdm's monitor thread would redraw a
    slow bar every 10 s) and left in place, unless the caller says otherwise.
    """
    if _is_terminal(kwargs.get("file") or sys.stderr):
        return tqdm(iterable, **kwargs)
    kwargs.setdefault("mininterval", LOG_INTERVAL_SECONDS)
    kwargs.setdefault("maxinterval", LOG_INTERVAL_SECONDS)
    kwargs.setdefault("leave", True)
    return plain_tqdm(iterable, **kwargs)
