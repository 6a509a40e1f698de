"""An adapted detector's head: a logistic regression on the base model's pooled features, fused with the base logit.

``fakelens adapt`` (:mod:`fakelens.adapt`) fits it; the :class:`~fakelens.Detector`
applies it in :meth:`~fakelens.Detector.logits`, so predict, explain, evaluate,
benchmark and the service all score with it. NumPy only (the runtime install).

The fused logit is ``base_weight * base_logit + head_weight * max(0, head_logit - head_offset) + bias``
where ``head_logit = coef . (features - mean) / scale + intercept``. The head
was fitted to tell the new kind of fake from real faces (the user's and the
base's own validation faces); below ``head_offset`` (where the real faces and
the base's known data lie) it says nothing, and the fused score is an affine
map of the base logit: the base's ranking and verdicts are kept there. Above it,
the evidence of the new kind adds to the base's score.

The arrays live in ``adapter.safetensors`` beside ``detector.json`` (no pickle:
a detector folder is untrusted input) and are checked for shape and finiteness
when loaded; the fusion weights live in ``detector.json`` (validated by
:mod:`fakelens.inference.detector_config`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RunDirError
from ..utils.atomic import atomic_path

ADAPTER_FILE = "adapter.safetensors"
ARRAYS = ("mean", "scale", "coef")


@dataclass(frozen=True, eq=False)
class Adapter:
    mean: np.ndarray  # (C,) feature means of the fitting data
    scale: np.ndarray  # (C,) their standard deviations (> 0)
    coef: np.ndarray  # (C,) the head's weights on standardised features
    intercept: float
    base_weight: float
    head_weight: float
    bias: float
    head_offset: float
    info: dict  # what it was fitted on, for the model card and detector.json

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[0])

    def head_logits(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return z @ self.coef + self.intercept

    def fuse(self, base_logits: np.ndarray, head_logits: np.ndarray) -> np.ndarray:
        evidence = np.maximum(0.0, np.asarray(head_logits, dtype=np.float64) - self.head_offset)
        return self.base_weight * np.asarray(base_logits, dtype=np.float64) + self.head_weight * evidence + self.bias

    def logits(self, base_logits: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The adapted detector's logits from the base's logits and pooled features (both TTA-averaged)."""
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(f"the adapter expects {self.n_features} pooled features, the model gives {features.shape[-1]}")
        return self.fuse(base_logits, self.head_logits(features)).astype(np.float32)

    # ---------------------------------------------------------------- files
    def save(self, folder: str | os.PathLike) -> dict:
        """Write the arrays atomically; returns the ``adapter`` section for ``detector.json``."""
        from safetensors.numpy import save_file

        path = Path(folder) / ADAPTER_FILE
        with atomic_path(path) as tmp:
            save_file({k: np.ascontiguousarray(getattr(self, k), dtype=np.float32) for k in ARRAYS}, str(tmp))
        return self.config(_sha256(path))

    def config(self, sha256: str) -> dict:
        return {
            "file": ADAPTER_FILE,
            "sha256": sha256,
            "n_features": self.n_features,
            "intercept": float(self.intercept),
            "base_weight": float(self.base_weight),
            "head_weight": float(self.head_weight),
            "bias": float(self.bias),
            "head_offset": float(self.head_offset),
            "info": self.info,
        }

    @classmethod
    def load(cls, folder: str | os.PathLike, spec) -> "Adapter":
        """Read ``spec.file`` in ``folder`` (a validated :class:`~fakelens.inference.detector_config.AdapterSpec`)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        path = Path(folder) / spec.file
        if not path.is_file():
            raise RunDirError(f"{path}: the adapter's weights are missing")
        if _sha256(path) != spec.sha256:
            raise RunDirError(f"{path}: the adapter's weights do not match detector.json (sha256 differs)")
        try:
            arrays = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise RunDirError(f"{path}: unreadable adapter weights ({exc})") from None
        for name in ARRAYS:
            arr = arrays.get(name)
            if arr is None or arr.shape != (spec.n_features,) or not np.all(np.isfinite(arr)):
                raise RunDirError(f"{path}: {name!r} must be {spec.n_features} finite numbers")
        if np.any(arrays["scale"] <= 0):
            raise RunDirError(f"{path}: 'scale' must be positive")
        return cls(
            arrays["mean"].astype(np.float64),
            arrays["scale"].astype(np.float64),
            arrays["coef"].astype(np.float64),
            spec.intercept,
            spec.base_weight,
            spec.head_weight,
            spec.bias,
            spec.head_offset,
            dict(spec.info),
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
