"""``fakelens adapt``: teach a detector a new kind of fake from a few dozen examples (NumPy + scikit-learn + ONNX Runtime)."""

from __future__ import annotations

from .api import adapt, evaluate
from .examples import MIN_PER_CLASS, AdaptInputError

__all__ = ["adapt", "evaluate", "AdaptInputError", "MIN_PER_CLASS"]
