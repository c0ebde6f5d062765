"""The study's task: what a predictor predicts from a bio, and who the protected group is.

One study answers one question, set by ``task`` in its ``params.yaml``::

    gender      predict the subject's gender (0 male, 1 female); the classifier's errors are then
                broken down by profession (the suite's first question; the default)
    occupation  predict the profession (28 classes, the dataset's ids); gender is the protected
                attribute: is the classifier right as often for women as for men in each
                occupation (De-Arteaga et al. 2019)?

Every stage whose work depends on the task gets it on its command line (``--task ${task}`` in
``dvc.yaml``, which DVC fills from ``params.yaml``: a changed task is a changed command, so the
stages rerun). The task decides the label column of the splits, the classes, the catalogue of
predictors (:mod:`pipeline.lib.catalogue`) and the schema of the predictions files
(:mod:`pipeline.lib.prediction_files`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

from pipeline.lib.labels import GENDERS, PROFESSIONS

TaskName = Literal["gender", "occupation"]
DEFAULT: TaskName = "gender"


@dataclass(frozen=True)
class Task:
    """One task: its label and its classes."""

    name: TaskName
    label_column: str  # the split's column holding the label (an id)
    classes: tuple[str, ...]  # class names by id
    question: str  # one line, for reports and the dashboard

    @property
    def n_classes(self) -> int:
        """How many classes a classifier of this task has."""
        return len(self.classes)


TASKS: dict[str, Task] = {
    "gender": Task(
        "gender",
        "gender_id",
        GENDERS,
        "predict the gender of a biography's subject; errors broken down by profession",
    ),
    "occupation": Task(
        "occupation",
        "profession_id",
        PROFESSIONS,
        "predict a biography's occupation; true-positive rates compared between women and men",
    ),
}


def get(name: str) -> Task:
    """The task called ``name``; ValueError naming the known ones otherwise."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; tasks: {', '.join(TASKS)}")
    return TASKS[name]


def add_argument(parser: argparse.ArgumentParser) -> None:
    """``--task`` on a stage's command line (``dvc.yaml`` passes ``${task}`` of params.yaml)."""
    parser.add_argument(
        "--task",
        choices=tuple(TASKS),
        default=DEFAULT,
        help="what the study predicts (params.yaml's task; dvc.yaml passes it)",
    )
