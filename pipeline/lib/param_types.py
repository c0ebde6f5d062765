"""The building blocks of every params schema: strict scalar types and the section base.

Light on purpose (pydantic only): the params schema (:mod:`pipeline.lib.params`) and every
predictor's own settings (:mod:`pipeline.lib.predictor_settings`) are built from these, and
validating a ``params.yaml`` never imports torch, transformers or scikit-learn.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Field, Strict


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


Int = Annotated[int, Strict()]  # rejects true/false, "8" and 8.0
# 2, 2.0 and "2e-5" (YAML 1.1) are fine; .inf and .nan are not (no setting means infinity)
Float = Annotated[float, BeforeValidator(_not_bool), AllowInfNan(False)]
MAX_SEED = 2**32 - 1  # numpy and torch take seeds below 2^32
Seed = Annotated[int, Strict(), Field(ge=0, le=MAX_SEED)]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]


class Section(BaseModel):
    """Base of every params section: every key required, unknown keys are errors, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Section):
    """The own key of a predictor without settings: ``predict.<name>: {}``."""
