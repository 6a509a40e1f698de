"""Test-time augmentation: the views of a face whose logits the detector averages with the face's own.

A view is a fixed geometric change of a model-size batch (``NxCxHxW``, already
normalised), made in NumPy so that the ONNX Runtime install (no PyTorch, no
OpenCV) has it too. Views act on the batch, not on the decoded image, so every
entry point (crops, photos, videos, the service, Grad-CAM) gets them from the
one preprocessing path without a second decode.

- ``mirror``: the face flipped left to right.
- ``zoom``: the centre :data:`ZOOM` of the crop, resized back to the input size
  (bilinear). Training re-cuts every crop by ``framing_jitter`` (side x 0.85 to
  1.05 by default), so a slightly tighter framing is a face the model has seen.
- ``mirror-zoom``: both.

Which views ship is chosen on validation by ``fakelens calibrate``
(:func:`fakelens.training.calibrate.choose_views`); the detector stores them in
``detector.json`` as ``tta_views``. Grad-CAM maps of a view are mapped back to
the face's own pixels with :func:`undo_view`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

#: Share of the crop's side the zoomed view keeps (its centre).
ZOOM = 0.88

VIEWS = ("mirror", "zoom", "mirror-zoom")

#: The view sets ``fakelens calibrate`` chooses among, cheapest first (each runs the model once per view, plus once
#: for the face itself).
VIEW_SETS: tuple[tuple[str, ...], ...] = (("mirror",), ("mirror-zoom",), ("mirror", "zoom", "mirror-zoom"))

#: What a detector saved before views had names averaged: its face and the mirror image.
DEFAULT_VIEWS: tuple[str, ...] = ("mirror",)


def check_views(views: Sequence[str]) -> tuple[str, ...]:
    """``views`` as a tuple, or ValueError when one is unknown, repeated, or there are none."""
    views = tuple(views)
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ValueError(f"unknown test-time view {unknown[0]!r} (known: {', '.join(VIEWS)})")
    if not views or len(set(views)) != len(views):
        raise ValueError(f"test-time views must be one or more of {', '.join(VIEWS)}, each once (got {list(views)})")
    return views


@lru_cache(maxsize=16)
def _resample_index(size: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps for sampling the centre ``scale`` of a ``size`` axis at ``size`` points (half-pixel centres).

    Returns (low index, high index, weight of the high one, covered): ``covered`` is
    False where the point falls outside the source axis (only when ``scale`` > 1).
    """
    src = (size - size * scale) / 2 + (np.arange(size) + 0.5) * scale - 0.5
    covered = (src >= -0.5) & (src <= size - 0.5)
    src = np.clip(src, 0, size - 1)
    lo = np.floor(src).astype(np.intp)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, (src - lo).astype(np.float32), covered


def _resample(x: np.ndarray, scale: float, axes: tuple[int, int]) -> np.ndarray:
    """The centre ``scale`` of ``x`` along two axes, resized back to their length (bilinear, separable)."""
    for axis in axes:
        lo, hi, w, _ = _resample_index(x.shape[axis], scale)
        shape = [1] * x.ndim
        shape[axis] = -1
        low, high = x.take(lo, axis), x.take(hi, axis)
        high -= low  # low + w * (high - low), in place: the view runs on every scored batch
        high *= w.reshape(shape)
        low += high
        x = low
    return x


def apply_view(name: str, batch: np.ndarray) -> np.ndarray:
    """``batch`` (``NxCxHxW`` float32) as the view ``name`` sees it, C-contiguous float32."""
    if name not in VIEWS:
        raise ValueError(f"unknown test-time view {name!r}")
    x = batch
    if name in ("zoom", "mirror-zoom"):
        x = _resample(x, ZOOM, (-2, -1))
    if name in ("mirror", "mirror-zoom"):
        x = x[..., ::-1]
    return np.ascontiguousarray(x, dtype=np.float32)


def undo_view(name: str, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps (``NxHxW``) made on view ``name`` -> (the maps on the face's own pixels, where the view saw them).

    The second array is 1 where the view covered the pixel and 0 where it did
    not (the border a zoomed view cut away), so views can be averaged per pixel.
    """
    if name not in VIEWS:
        raise ValueError(f"unknown test-time view {name!r}")
    m = np.asarray(maps, dtype=np.float32)
    seen = np.ones(m.shape[-2:], dtype=np.float32)
    if name in ("mirror", "mirror-zoom"):
        m = m[..., ::-1]
    if name in ("zoom", "mirror-zoom"):
        m = _resample(m, 1.0 / ZOOM, (-2, -1))
        rows = _resample_index(m.shape[-2], 1.0 / ZOOM)[3]
        cols = _resample_index(m.shape[-1], 1.0 / ZOOM)[3]
        seen = np.outer(rows, cols).astype(np.float32)
    return np.ascontiguousarray(m * seen), np.broadcast_to(seen, m.shape)
