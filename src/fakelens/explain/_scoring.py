"""Scoring already-decoded faces through the detector.

Every explainer perturbs the face at the model's input size (LIME's
superpixels, faithfulness' removed regions) and asks the detector again. They
all go through :func:`score_faces`, which is the same uint8 -> normalised
tensor -> logits -> calibrated P(FAKE) path as ``Detector.score_files``, so the
numbers in an explanation are the numbers ``fakelens predict`` prints, and an
ONNX Runtime backend is used when the detector has one.
"""

from __future__ import annotations

import numpy as np

from ..inference.detector import Detector

#: LIME's perturbed copies are scored in batches of this size: at 64, ONNX Runtime's memory
#: arena grew by ~800 MB for good (measured under `fakelens serve`); 32 is as fast.
EXPLAIN_BATCH = 32


def score_faces(detector: Detector, faces: np.ndarray, batch_size: int = EXPLAIN_BATCH) -> np.ndarray:
    """Calibrated P(FAKE) for uint8 ``NxHxWx3`` faces at the model's input size."""
    faces = np.asarray(faces)
    return detector.score_arrays(faces[None] if faces.ndim == 3 else faces, batch_size)
