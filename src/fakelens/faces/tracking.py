"""Keep each person's faces together across the sampled frames of a video.

Frames are sampled sparsely (32 over a 10 s clip: one every ~0.3 s), so a
moving head may not overlap its previous box. A face joins a track when the
boxes overlap enough (IoU), or failing that when its centre moved by less than
``max_shift`` face sizes and its size changed by less than ``max_size_ratio``.
Pairs are matched greedily, best first; unmatched faces start new tracks.
A track is compared with its most recent face, so a person missed in a few
frames is picked up again where they were last seen.
"""

from __future__ import annotations

import math
from typing import Sequence

from .detectors import FaceBox


def box_iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def match_cost(a: FaceBox, b: FaceBox, iou_threshold: float = 0.3, max_shift: float = 1.0, max_size_ratio: float = 1.6) -> float:
    """Lower is a better match; ``inf`` for no match. Any IoU match beats any distance match."""
    iou = box_iou(a, b)
    if iou >= iou_threshold:
        return 1.0 - iou
    size_a, size_b = math.sqrt(max(a.area, 1e-9)), math.sqrt(max(b.area, 1e-9))
    if max(size_a, size_b) / min(size_a, size_b) > max_size_ratio:
        return math.inf
    (ax, ay), (bx, by) = a.centre, b.centre
    shift = math.hypot(ax - bx, ay - by) / math.sqrt(size_a * size_b)
    return 1.0 + shift if shift <= max_shift else math.inf


def link_faces(
    frames: Sequence[Sequence[FaceBox]], iou_threshold: float = 0.3, max_shift: float = 1.0, max_size_ratio: float = 1.6
) -> list[list[int]]:
    """Track id of every face: ``ids[f][k]`` for face ``k`` of frame ``f``.

    Ids count from 0 in order of first appearance (left to right within a frame).
    """
    last_box: list[FaceBox] = []  # per track, its most recent face
    ids: list[list[int]] = []
    for faces in frames:
        frame_ids = [-1] * len(faces)
        pairs = sorted(
            (cost, t, k)
            for t, prev in enumerate(last_box)
            for k, face in enumerate(faces)
            if (cost := match_cost(prev, face, iou_threshold, max_shift, max_size_ratio)) < math.inf
        )
        used_tracks: set[int] = set()
        for _, t, k in pairs:
            if t not in used_tracks and frame_ids[k] < 0:
                frame_ids[k] = t
                used_tracks.add(t)
        for k in sorted((k for k in range(len(faces)) if frame_ids[k] < 0), key=lambda k: faces[k].x0):
            frame_ids[k] = len(last_box)
            last_box.append(faces[k])
        for k, t in enumerate(frame_ids):
            last_box[t] = faces[k]
        ids.append(frame_ids)
    return ids
