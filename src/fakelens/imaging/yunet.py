"""yuface (libfacedetection's YuNet, weights inside its wheel): one runner and one reading of its output.

Both the face detector of photos and frames (:class:`fakelens.faces.detectors.YuFaceDetector`) and the aligner's
search on a face crop (:func:`fakelens.imaging.align.largest_face`) call it, so the row layout is read in one place.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..utils.openmp import OpenMPThreads

#: Columns of a yuface row: confidence (0-100), x, y, w, h, five landmark (x, y) pairs, one unused.
ROW_WIDTH = 16

# One yuface call at a time in a process. Its C call keeps the GIL, and two threads' first calls could deadlock: one
# inside it waits on a lock that the other's first call holds while that one waits for the GIL (3 of 20 fresh
# processes aligning crops on two threads hung, session 31). Waiting on this lock gives the GIL up; the GIL already
# kept the calls from running at once, so nothing is lost.
_DETECT_LOCK = threading.Lock()


def yuface_rows(raw, min_score: float) -> np.ndarray:
    """yuface's raw output as ``(n, 16)`` float rows, keeping confidence >= ``min_score`` (0-1) and a positive size."""
    rows = np.asarray(raw, dtype=np.float64).reshape(-1, ROW_WIDTH)
    return rows[(rows[:, 0] >= 100 * min_score) & (rows[:, 3] > 0) & (rows[:, 4] > 0)]


class YuFace:
    """yuface's detector with its own OpenMP runtime held to ``threads`` (None: left as it is).

    yuface parallelises with an OpenMP runtime of its own whose spinning threads fight anything else on the CPU
    (a 640x360 frame: 50 ms with one thread, 450 ms median with two beside a training job), hence one by default.
    """

    def __init__(self, threads: int | None = 1):
        import yuface  # imported here so that fakelens imports without it

        self._detect = yuface.c_detect
        self.threads = threads
        self._openmp = OpenMPThreads(yuface.__file__) if threads else None

    def rows(self, rgb: np.ndarray, min_score: float) -> np.ndarray:
        """Rows (:func:`yuface_rows`) of the faces in an RGB uint8 image, in its pixels."""
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        with self._openmp.limit(self.threads) if self._openmp else contextlib.nullcontext():
            with _DETECT_LOCK:
                raw = self._detect(bgr)
        return yuface_rows(raw, min_score)
