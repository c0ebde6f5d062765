"""GPT-2 specifics shared by training and prediction (a dependency of both DVC stages)."""

from __future__ import annotations

from typing import Any


def fuse_gelu(model: Any) -> Any:
    """Swap GPT-2's Python GELU (7 elementwise passes) for PyTorch's fused tanh GELU.

    Same formula (``gelu(x, approximate="tanh")``) in one kernel instead of seven passes over
    the largest activation (batch x tokens x 3072); differences are float rounding (~1e-7).
    """
    from transformers.activations import GELUTanh, NewGELUActivation

    for module in model.modules():
        if isinstance(getattr(module, "act", None), NewGELUActivation):
            module.act = GELUTanh()
    return model
