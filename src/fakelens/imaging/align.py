"""Face alignment in the one preprocessing path: roll and scale normalised from the eyes.

A face crop is turned so that the eyes are level and scaled so that the
eye-to-mouth distance is the training crops' (a similarity transform about the
landmark centre, which is moved to where the training crops have it). The same
function runs at training (:class:`~fakelens.data.transforms.TrainTransform`)
and wherever a crop becomes model input (:meth:`PreprocessConfig.load_face`:
crops, the crops of photos and video frames, the service, explanations), so a
tilted head reaches the model upright. It is on for a detector whose
``detector.json`` says ``preprocess.align: true``.

Landmarks: yuface (the default face detector, weights inside its wheel) finds
the face on the crop padded with black (tight crops hide the face from a
detector), first on a 96 px canvas and, where that misses, on a 192 px one;
dlib's 68-point predictor (:mod:`fakelens.imaging.landmarks`) then places the
eyes and the mouth. Where yuface's face sits where fakelens' crops hold theirs,
dlib reads it in that fixed box (:data:`~fakelens.imaging.landmarks.CROP_BOX`),
else in yuface's box: yuface's box follows a turned head loosely, and dlib in it
misread turned heads often (300 DFDC crops turned by +-10-30 degrees: 31% read
more than 5 degrees off from yuface's box, 9% from the fixed box; 90th
percentile 35 against 4 degrees; ``benchmarks/face_alignment.py``). With the
small canvas first, 6-8 ms a crop on this CPU (was 11-14).
yuface's own eye points barely follow a tilt (a crop turned by 20 degrees read
as 1-13 degrees), dlib's do; a head turned more than 8 degrees is turned back
and measured once more, because dlib starts from an upright mean face. A crop
without a found face passes unchanged (its alignment is ``None``).

The matrix of every alignment is kept, so that maps computed on the aligned
face (Grad-CAM, LIME) are warped back onto the picture as given
(:func:`unalign_map`).

NumPy, Pillow, yuface and dlib: no OpenCV and no PyTorch at run time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .landmarks import CROP_BOX, LEFT_EYE, MOUTH, RIGHT_EYE, shared_landmarks
from .yunet import YuFace

#: Where the training crops have the landmark centre (mean of dlib's eye and mouth centres), as a fraction of the side,
#: and their eye-centre to mouth-centre distance / side: medians over 300 DFDC crops, measured as :func:`measure`
#: measures (benchmarks/face_alignment.py --n 300).
CANONICAL_CENTRE = (0.505, 0.525)
CANONICAL_EYE_MOUTH = 0.428
#: Bounds on the scale change: the eye-mouth distance also shrinks with pitch, which is no reason to zoom far.
SCALE_RANGE = (0.85, 1.18)
#: The landmark centre is moved by at most this fraction of the side (landmarks far off are wrong, not the crop).
MAX_SHIFT = 0.1
#: Rolls beyond this are refused as landmark errors.
MAX_ROLL_DEGREES = 60.0
#: A first estimate above this many degrees is refined on the crop turned back by it.
REFINE_ABOVE_DEGREES = 8.0
#: Side of the black-padded canvas the face box is searched on.
DETECT_CANVAS = 192
#: The aligner searches this smaller canvas first (a quarter of the pixels), and DETECT_CANVAS only where it misses.
QUICK_CANVAS = 96
#: yuface's face counts as framed like fakelens' crops when its box centre is within this fraction of the side of the
#: fixed box's centre, and its size within this factor of the fixed box's; a loose or off-centre face keeps its box.
FRAMED_SHIFT = 0.25
FRAMED_SIZE = 2.0

_local = threading.local()


@dataclass(frozen=True)
class Alignment:
    """A similarity transform from a square crop's pixels to the aligned crop's (same side)."""

    matrix: np.ndarray  # 2x3 float64: aligned (x, y) = matrix @ (x, y, 1)
    roll_degrees: float
    scale: float
    side: int

    def to_dict(self) -> dict:
        return {"roll_degrees": round(self.roll_degrees, 2), "scale": round(self.scale, 4)}


def _yuface() -> YuFace:
    det = getattr(_local, "yuface", None)
    if det is None:
        det = _local.yuface = YuFace(threads=1)  # one thread: its spinning OpenMP threads fight the model's
    return det


def largest_face(
    rgb: np.ndarray, min_score: float = 0.5, canvas_side: int | None = DETECT_CANVAS
) -> tuple[tuple[float, float, float, float], np.ndarray] | None:
    """yuface's box ``(x0, y0, x1, y1)`` and five landmarks ``(5, 2)`` of the largest face in a face crop, or None.

    Tight crops hide the face from the detector (it needs some context around the face), so the crop is padded
    with black by half its side, as fakelens does when it recognises crops. The padded crop is searched at a
    longer side of ``canvas_side`` pixels (None: as it is): the aligner needs only the box, which a small canvas
    finds fast; the five points come out coarser there. In the crop's pixels. The aligner and the five-point
    self-blends (:mod:`fakelens.data.sbi`) both search a crop this way.
    """
    h, w = rgb.shape[:2]
    pad = max(h, w) // 2
    canvas = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)))
    scale = 1.0 if canvas_side is None else min(1.0, canvas_side / max(canvas.shape[:2]))
    if scale < 1:
        size = (max(1, round(canvas.shape[1] * scale)), max(1, round(canvas.shape[0] * scale)))
        canvas = np.asarray(Image.fromarray(canvas).resize(size, Image.BILINEAR))
    rows = _yuface().rows(canvas, min_score)
    if not len(rows):
        return None
    geometry = rows[np.argmax(rows[:, 3] * rows[:, 4]), 1:15] / scale  # box and points; the score is not rescaled
    x, y, bw, bh = geometry[:4]
    landmarks = geometry[4:].reshape(5, 2) - pad
    return (x - pad, y - pad, x - pad + bw, y - pad + bh), landmarks


def face_box(rgb: np.ndarray, min_score: float = 0.5) -> tuple[float, float, float, float] | None:
    """yuface's box ``(x0, y0, x1, y1)`` of the largest face in a face crop, or None (:func:`largest_face`)."""
    found = largest_face(rgb, min_score)
    return None if found is None else found[0]


def eyes_and_mouth(landmarks: np.ndarray) -> np.ndarray:
    """``(3, 2)``: the centres of the eye on the image's left, the other eye and the mouth, from 68 points."""
    lm = np.asarray(landmarks, dtype=np.float64)
    a, b = lm[RIGHT_EYE].mean(axis=0), lm[LEFT_EYE].mean(axis=0)
    first, second = (a, b) if a[0] <= b[0] else (b, a)
    return np.stack([first, second, lm[MOUTH].mean(axis=0)])


def eye_roll(points: np.ndarray) -> float:
    """Degrees the line from the first eye to the second (:func:`eyes_and_mouth`) is turned from level (y down)."""
    dx, dy = points[1] - points[0]
    return float(np.degrees(np.arctan2(dy, dx)))


def rotation_about(centre, degrees: float, scale: float = 1.0) -> np.ndarray:
    """2x3 matrix turning by ``degrees`` (positive: counter-clockwise on screen, y pointing down) about ``centre``."""
    t = np.radians(degrees)
    a, b = scale * np.cos(t), scale * np.sin(t)
    cx, cy = centre
    return np.array([[a, b, (1 - a) * cx - b * cy], [-b, a, b * cx + (1 - a) * cy]])


def warp(rgb: np.ndarray, matrix: np.ndarray, side: int, mirrored: bool = True) -> np.ndarray:
    """``rgb`` warped by the 2x3 ``matrix`` into a ``side`` square; outside the picture is mirrored in (else black)."""
    h, w = rgb.shape[:2]
    pad = max(h, w) // 2 if mirrored else 0  # a mirrored border: turned corners show face surroundings, not black
    padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric") if pad else rgb
    shifted = np.vstack([matrix, [0, 0, 1]]) @ np.array([[1, 0, -pad], [0, 1, -pad], [0, 0, 1]])
    inverse = np.linalg.inv(shifted)[:2]  # Pillow asks, for each output pixel, where to read
    out = Image.fromarray(padded).transform((side, side), Image.AFFINE, tuple(inverse.ravel()), resample=Image.BILINEAR)
    return np.asarray(out)


def landmark_box(rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """The box dlib's predictor reads the face of a square crop in, or None where yuface finds no face.

    The fixed box where fakelens' crops hold their face, when yuface's face is there (:data:`FRAMED_SHIFT`,
    :data:`FRAMED_SIZE`); else yuface's own box. yuface only has to say that, and roughly where, a face is, so the
    small canvas is searched first.
    """
    found = largest_face(rgb, canvas_side=QUICK_CANVAS) or largest_face(rgb)
    if found is None:
        return None
    side = rgb.shape[0]
    found_box, fixed = np.asarray(found[0], dtype=np.float64), np.asarray(CROP_BOX) * side
    shift = np.abs((found_box[:2] + found_box[2:]) / 2 - (fixed[:2] + fixed[2:]) / 2).max()
    size_ratio = (found_box[2:] - found_box[:2]).mean() / (fixed[2:] - fixed[:2]).mean()
    framed = shift < FRAMED_SHIFT * side and 1 / FRAMED_SIZE < size_ratio < FRAMED_SIZE
    return tuple(float(v) for v in (fixed if framed else found_box))


def measure(rgb: np.ndarray) -> np.ndarray | None:
    """The eye and mouth centres (:func:`eyes_and_mouth`) of the face in a square crop, or None where no face is found."""
    box = landmark_box(rgb)
    if box is None:
        return None
    predictor = shared_landmarks()
    points = eyes_and_mouth(predictor(rgb, box))
    roll = eye_roll(points)
    if abs(roll) > REFINE_ABOVE_DEGREES:
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        level = rotation_about(centre, roll)
        upright = warp(rgb, level, rgb.shape[0], mirrored=False)  # dlib reads the face in the box, not the corners
        again = eyes_and_mouth(predictor(upright, box))
        back = np.linalg.inv(np.vstack([level, [0, 0, 1]]))
        points = (back @ np.c_[again, np.ones(3)].T).T[:, :2]
    return points


def alignment_for(points: np.ndarray, side: int) -> Alignment | None:
    """The transform that levels the eyes and brings the face to the training crops' scale and place."""
    points = np.asarray(points, dtype=np.float64)
    if not np.isfinite(points).all():
        return None
    roll = eye_roll(points)
    eye_mid, mouth = points[0:2].mean(axis=0), points[2]
    eye_mouth = float(np.linalg.norm(mouth - eye_mid))
    if abs(roll) > MAX_ROLL_DEGREES or eye_mouth <= 0:
        return None
    scale = float(np.clip(CANONICAL_EYE_MOUTH * side / eye_mouth, *SCALE_RANGE))
    centre = (eye_mid + mouth) / 2
    matrix = rotation_about(centre, roll, scale)
    target = np.asarray(CANONICAL_CENTRE) * side
    matrix[:, 2] += np.clip(target - centre, -MAX_SHIFT * side, MAX_SHIFT * side)
    return Alignment(matrix, roll, scale, int(side))


def align_face(rgb: np.ndarray) -> tuple[np.ndarray, Alignment | None]:
    """A square uint8 crop -> (the aligned crop, its alignment); unchanged with ``None`` where no face is found."""
    if rgb.ndim != 3 or rgb.shape[0] != rgb.shape[1]:
        raise ValueError(f"align_face takes a square HxWx3 crop (got shape {rgb.shape})")
    points = measure(rgb)
    alignment = alignment_for(points, rgb.shape[0]) if points is not None else None
    if alignment is None:
        return rgb, None
    return warp(rgb, alignment.matrix, alignment.side), alignment


def unalign_map(values: np.ndarray, alignment: Alignment | None, nearest: bool = False) -> np.ndarray:
    """A square map over the aligned face (any size) -> the same map over the crop as given (same size).

    Each pixel of the crop as given reads the map where the alignment put it
    (bilinear, or the nearest value for labels such as superpixel ids); what the
    aligned view did not cover takes the nearest map value.
    """
    if alignment is None:
        return values
    n = values.shape[0]
    k = n / alignment.side  # map pixels per crop pixel
    to_map = np.diag([k, k, 1.0])
    forward = to_map @ np.vstack([alignment.matrix, [0, 0, 1]]) @ np.linalg.inv(to_map)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    mapped = forward[:2] @ np.stack([xs.ravel(), ys.ravel(), np.ones(n * n)])
    u = np.clip(mapped[0] - 0.5, 0, n - 1)
    v = np.clip(mapped[1] - 0.5, 0, n - 1)
    if nearest:
        return np.asarray(values)[np.rint(v).astype(int), np.rint(u).astype(int)].reshape(n, n)
    # bilinear read of the map at (u, v)
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    u1, v1 = np.minimum(u0 + 1, n - 1), np.minimum(v0 + 1, n - 1)
    fu, fv = u - u0, v - v0
    vals = np.asarray(values, dtype=np.float32)
    out = vals[v0, u0] * (1 - fu) * (1 - fv) + vals[v0, u1] * fu * (1 - fv) + vals[v1, u0] * (1 - fu) * fv + vals[v1, u1] * fu * fv
    return out.reshape(n, n).astype(np.float32)


__all__ = [
    "Alignment",
    "align_face",
    "alignment_for",
    "eye_roll",
    "eyes_and_mouth",
    "face_box",
    "landmark_box",
    "largest_face",
    "measure",
    "unalign_map",
    "warp",
]
