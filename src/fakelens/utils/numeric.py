"""Numeric helpers shared by every room: one logistic function."""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def sigmoid(x) -> np.ndarray:
    """The logistic function in float64, exact for any logit (no overflow for |x| in the thousands)."""
    return expit(np.asarray(x, dtype=np.float64))
