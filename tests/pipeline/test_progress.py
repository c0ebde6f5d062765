"""Progress bars: live on a terminal, a start and an end line when stderr is a log file."""

from __future__ import annotations

import io
import subprocess
import sys

from tqdm.auto import tqdm

from pipeline.lib.progress import LOG_INTERVAL_SECONDS, progress_bar
from tests.conftest import REPO, stage_env

# 1,000 items over about a second: plain tqdm redraws about ten times in that (every 0.1 s).
LOOP = """
import time
from pipeline.lib.progress import progress_bar
for _ in progress_bar(range(1000), desc="planted bar"):
    time.sleep(0.001)
"""


def test_a_bar_writes_two_lines_when_stderr_is_a_file(tmp_path):
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        subprocess.run(
            [sys.executable, "-c", LOOP],
            cwd=REPO,
            env=stage_env(REPO),
            stderr=stderr,
            check=True,
            timeout=120,
        )
    # a redraw starts with "\r" on one line; an editor or a CI log shows each as a line
    draws = [d for d in log.read_text().replace("\r", "\n").splitlines() if "planted bar" in d]
    assert 1 <= len(draws) <= 2, draws
    assert "1000/1000" in draws[-1]  # the end line stays (leave=True)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_is_tqdms_own():
    with progress_bar(range(3), file=Terminal()) as bar:
        assert isinstance(bar, tqdm) and bar.mininterval < LOG_INTERVAL_SECONDS
    with progress_bar(range(3), file=io.StringIO()) as bar:
        assert bar.mininterval == LOG_INTERVAL_SECONDS and bar.leave
    with progress_bar(range(3), file=io.StringIO(), leave=False) as bar:
        assert not bar.leave  # the caller's choice wins
