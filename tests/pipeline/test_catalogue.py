"""The catalogues' `erased` section: what each mitigated predictor mitigates, checked on read."""

from __future__ import annotations

import pytest

from pipeline.lib import catalogue
from pipeline.lib.errors import SuiteError

TRAINED = """
trained:
  head_only:
    label: head
    description: a head
"""


def erased(fields: str) -> str:
    return TRAINED + "erased:\n  leace_head_only:\n    label: erased\n    description: e\n" + fields


def test_an_erased_predictor_names_a_trained_predictor_it_mitigates():
    specs = catalogue.parse_catalogue(erased("    mitigates: head_only\n"))
    spec = next(s for s in specs if s.name == "leace_head_only")
    assert (spec.section, spec.seeded, spec.mitigates) == ("erased", True, "head_only")
    assert catalogue.train_stage("leace_head_only", 7) == "train_erased@leace_head_only-7"
    assert catalogue.predict_stage("leace_head_only", 7) == "predict_erased@leace_head_only-7"
    assert catalogue.predict_stage("lora", 7) == "predict_seeded@lora-7"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("", "erased.leace_head_only: mitigates must name the trained predictor it mitigates"),
        ("    mitigates: lora\n", "mitigates 'lora', which is not a trained predictor"),
    ],
)
def test_an_erased_predictor_without_a_known_counterpart_is_one_line(fields, message):
    with pytest.raises(SuiteError, match=message):
        catalogue.parse_catalogue(erased(fields))


def test_both_task_catalogues_pair_leace_head_only_with_head_only():
    for task in catalogue.CATALOGUE_FILES:
        spec = catalogue.spec("leace_head_only", task)
        assert spec is not None and spec.mitigates == "head_only", task
