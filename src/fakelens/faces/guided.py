"""Cheaper face detection across video frames: look where the faces were.

Searching a whole 1280x720 frame costs yuface ~45 ms on one core, about half
of scoring a 32-frame clip. Between sampled frames a person moves little, so
:class:`GuidedFaceFinder` searches the whole frame only every
``full_every``-th frame (and whenever nobody was found in the previous one);
in the frames between, it looks for each face of the previous frame again in
a window of ``window`` face sizes around it, shrunk so the face is about
``face_px`` pixels, where yuface is as reliable as anywhere (it finds a full
face down to ~12 px). A window costs a few ms. A person entering the picture
is picked up at the next full search, at most ``full_every - 1`` sampled
frames late; a face lost in its window is looked for again there.
"""

from __future__ import annotations

import math

import numpy as np

from ..imaging.imageio import resize_rgb
from .detectors import FaceBox, FaceDetector
from .tracking import box_iou, match_cost


def suppress_duplicates(faces: list[FaceBox], iou_threshold: float = 0.4) -> list[FaceBox]:
    """Keep the most confident of boxes that overlap (two windows can see the same face)."""
    kept: list[FaceBox] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(box_iou(face, k) < iou_threshold for k in kept):
            kept.append(face)
    return kept


class GuidedFaceFinder:
    """Call it on consecutive sampled frames of one video: ``faces = finder(rgb)``."""

    def __init__(self, face_detector: FaceDetector, full_every: int = 8, window: float = 3.0, face_px: int = 96):
        if full_every < 1:
            raise ValueError("full_every must be at least 1")
        self.face_detector = face_detector
        self.full_every = int(full_every)
        self.window = float(window)
        self.face_px = int(face_px)
        self._previous: list[FaceBox] = []
        self._since_full = 0
        self.full_searches = 0
        self.window_searches = 0

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        if not self._previous or self._since_full >= self.full_every - 1:
            faces = self.face_detector.detect(rgb)
            self._since_full = 0
            self.full_searches += 1
        else:
            faces = suppress_duplicates([f for prev in self._previous for f in self._search_around(rgb, prev)])
            self._since_full += 1
        self._previous = faces
        return faces

    def _search_around(self, rgb: np.ndarray, face: FaceBox) -> list[FaceBox]:
        h, w = rgb.shape[:2]
        size = math.sqrt(max(face.area, 1.0))
        half = self.window * size / 2
        cx, cy = face.centre
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(w, int(math.ceil(cx + half))), min(h, int(math.ceil(cy + half)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return []
        window = rgb[y0:y1, x0:x1]
        scale = min(1.0, self.face_px / size)
        if scale < 1.0:
            window = resize_rgb(window, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))))
        self.window_searches += 1
        found = [f.scaled(1.0 / scale, x0, y0) for f in self.face_detector.detect(np.ascontiguousarray(window))]
        # Only the face being followed: a neighbour cut by the window's edge
        # would get a wrong box, and is found whole at the next full search.
        costs = [match_cost(face, f) for f in found]
        best = min(range(len(found)), key=costs.__getitem__, default=None)
        return [found[best]] if best is not None and costs[best] < math.inf else []
