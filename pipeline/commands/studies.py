"""Generate each extra study's ``dvc.yaml`` from the repo root's, the one source of the stages.

A study is a directory with its own ``params.yaml``, ``dvc.lock`` and outputs. DVC reads a
committed revision from git objects, so every study's ``dvc.yaml`` must be a regular file (a
symlink reads as its target's path, not a pipeline). The demo's is therefore a copy of the root
``dvc.yaml`` that differs only in the two ``vars`` lines locating the code and the catalogue::

    python -m pipeline.commands.studies           # rewrite demo/dvc.yaml (make pipelines)
    python -m pipeline.commands.studies --check   # exit 1 if it is out of date (the tests do this)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.lib.errors import SuiteError, run_main

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "dvc.yaml"
STUDIES = (REPO / "demo",)  # study directories besides the repo root
# The lines of the root dvc.yaml that depend on where the study lies (exactly once each).
CODE_VAR = "  - code: . # the suite's code, from this study directory\n"
CATALOGUE_VAR = "  - pipeline/catalogue.yaml # the predictors: `models` and `baselines`\n"


def generated(study: Path, source_text: str) -> str:
    """The ``dvc.yaml`` text of ``study``, made from the root ``dvc.yaml``'s text."""
    code = Path(os.path.relpath(REPO, study)).as_posix()
    for line in (CODE_VAR, CATALOGUE_VAR):
        if source_text.count(line) != 1:
            raise SuiteError(f"{SOURCE.name}: expected the vars line {line.strip()!r} once")
    header = (
        f"# GENERATED from {code}/dvc.yaml by `make pipelines`"
        " (python -m pipeline.commands.studies):\n"
        "# edit that file, then regenerate; a test fails when this copy drifts.\n"
    )
    text = source_text.replace(CODE_VAR, CODE_VAR.replace("code: .", f"code: {code}"))
    text = text.replace(CATALOGUE_VAR, CATALOGUE_VAR.replace("- pipeline/", f"- {code}/pipeline/"))
    return header + text


def stale_studies() -> list[Path]:
    """The studies whose ``dvc.yaml`` differs from what the root ``dvc.yaml`` generates."""
    source = SOURCE.read_text(encoding="utf-8")
    stale = []
    for study in STUDIES:
        target = study / "dvc.yaml"
        regular = target.is_file() and not target.is_symlink()
        if not regular or target.read_text(encoding="utf-8") != generated(study, source):
            stale.append(study)
    return stale


def main() -> None:
    """Write (or with ``--check`` verify) every extra study's ``dvc.yaml``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    args = parser.parse_args()
    stale = stale_studies()
    if args.check:
        if stale:
            names = ", ".join(str((s / "dvc.yaml").relative_to(REPO)) for s in stale)
            raise SuiteError(f"{names} out of date with dvc.yaml; run `make pipelines`")
        return
    source = SOURCE.read_text(encoding="utf-8")
    for study in stale:
        target = study / "dvc.yaml"
        target.unlink(missing_ok=True)  # a symlink is replaced by a regular file
        target.write_text(generated(study, source), encoding="utf-8")
        print(f"wrote {target.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    run_main(main)
