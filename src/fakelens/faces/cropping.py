"""Square face crops framed like the DFDC training crops.

What the training crops look like (``../shared/data/dfdc-faces``, measured by
``benchmarks/faces_framing.py``; each crop padded with a black border so the
detector sees the whole face, then yuface run on it):

* square: 25,985 of 26,096 crops have ``original_width == original_height``
  within 1 px; the other 11 are at most 6 px short in height, i.e. a square
  clipped at the frame edge and stretched to 224x224. None is padded.
* tight: the yuface box spans x 0.05..0.96 and y -0.13..1.00 of the crop side
  (medians), so the crop is about the face box itself (side = 0.995 x
  sqrt(w*h)), cutting the forehead and keeping the chin. The landmark centre
  (mean of the eye and mouth midpoints) lies at (0.51, 0.49) of the crop.
* saved as 224x224 JPEG, quality 75 with 4:2:0 chroma (the quantisation tables
  are the IJG ones at 75): the model learned on that compression.

A crop is placed from the detection as: centre = landmark centre (box centre
without landmarks) + offsets, side = ``side_scale`` x face size, where the face
size is ``sqrt(box_size * eye_mouth_distance)`` (box_size = sqrt(w*h)) when
landmarks exist. Mixing the two sizes gave the crops closest to the originals
(mean IoU 0.842 with the original crop on 1,000 crops, vs 0.830 for the box
alone) and is much less sensitive to what lies above the forehead, which
the DFDC crops cut off: with an edge-replicated instead of a black border the
box-only framing fell to IoU 0.754 and this one to 0.806.

The model is sensitive to framing: moving the exact original square by 4% of
its side at random changes P(fake) by 0.10 on average (epoch-1
efficientnet_lite0, ``benchmarks/faces_photo.py``), so the framing matters as
much as the detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..imaging.imageio import resize_rgb
from ..imaging.perturb import jpeg


class FaceLike(Protocol):
    """What framing needs of a detected face (a :class:`~fakelens.faces.detectors.FaceBox`, duck-typed so
    that this module, which the detectors import for their framings, imports nothing of theirs)."""

    area: float
    centre: tuple[float, float]
    landmarks: Sequence[tuple[float, float]] | None


#: Side of the crops written and scored, as in the Kaggle "deepfake-faces" layout.
CROP_SIZE = 224
#: JPEG quality of the DFDC training crops (see the module docstring).
CROP_JPEG_QUALITY = 75


@dataclass(frozen=True)
class Framing:
    """Where the square crop goes relative to a detected face.

    ``side_scale``: crop side / face size. ``centre_dx``/``centre_dy``: crop
    centre minus face centre, in units of the face size. ``eye_mouth_ratio``:
    the median eye-mouth distance / box size of the fit, used to keep a bad
    landmark guess from changing the crop size much; ``None`` for a detector
    without landmarks (the box alone is then used).
    """

    side_scale: float
    centre_dx: float = 0.0
    centre_dy: float = 0.0
    eye_mouth_ratio: float | None = None

    def uses_landmarks(self, face: "FaceLike") -> bool:
        return self.eye_mouth_ratio is not None and face.landmarks is not None and len(face.landmarks) >= 5

    def face_size(self, face: "FaceLike") -> float:
        box = float(np.sqrt(max(face.area, 1.0)))
        if not self.uses_landmarks(face):
            return box
        # Clamp to [0.6, 1.6] x the usual ratio: profile faces and misplaced
        # landmarks give eye-mouth distances far from it.
        em = float(np.clip(_eye_mouth_distance(face), 0.6 * self.eye_mouth_ratio * box, 1.6 * self.eye_mouth_ratio * box))
        return float(np.sqrt(box * em))

    def face_centre(self, face: "FaceLike") -> tuple[float, float]:
        bx, by = face.centre
        if not self.uses_landmarks(face):
            return bx, by
        lx, ly = _landmark_centre(face)
        # Landmarks far from the box centre are wrong, not the box.
        if np.hypot(lx - bx, ly - by) > 0.3 * np.sqrt(max(face.area, 1.0)):
            return bx, by
        return lx, ly

    def square(self, face: "FaceLike") -> tuple[float, float, float, float]:
        """The crop square ``(x0, y0, x1, y1)`` in image coordinates (may leave the image)."""
        size = self.face_size(face)
        cx, cy = self.face_centre(face)
        cx, cy = cx + self.centre_dx * size, cy + self.centre_dy * size
        half = self.side_scale * size / 2
        return cx - half, cy - half, cx + half, cy + half

    def to_dict(self) -> dict:
        return {
            "side_scale": self.side_scale,
            "centre_dx": self.centre_dx,
            "centre_dy": self.centre_dy,
            "eye_mouth_ratio": self.eye_mouth_ratio,
        }


def _landmark_centre(face: "FaceLike") -> tuple[float, float]:
    lm = np.asarray(face.landmarks[:5], dtype=np.float64)
    eyes, mouth = lm[0:2].mean(axis=0), lm[3:5].mean(axis=0)
    centre = (eyes + mouth) / 2
    return float(centre[0]), float(centre[1])


def _eye_mouth_distance(face: "FaceLike") -> float:
    lm = np.asarray(face.landmarks[:5], dtype=np.float64)
    return float(np.linalg.norm(lm[3:5].mean(axis=0) - lm[0:2].mean(axis=0)))


# Fitted by benchmarks/faces_framing.py (seed 0) on 1,000 shared DFDC crops,
# each padded by half its side with black; medians. yuface found 991 of them.
# The crop side varies around the fit by 7.8% (std of the log ratio): the
# jitter of the original extractor, which no fixed framing can remove.
YUFACE_FRAMING = Framing(side_scale=1.526, centre_dx=-0.012, centre_dy=0.015, eye_mouth_ratio=0.425)
# res10 found 931 of the same crops; box only (IoU with the originals 0.82).
RES10_FRAMING = Framing(side_scale=1.041, centre_dx=-0.005, centre_dy=0.042)


def crop_region(square: tuple[float, float, float, float], height: int, width: int) -> tuple[int, int, int, int]:
    """Integer pixel region for ``square`` inside a ``height`` x ``width`` image.

    A square that sticks out of the image is shifted back in, keeping the
    face's proportions (the DFDC crops are square to within 1 px in 99.96% of
    cases). Only when the image is smaller than the square is it clipped; the
    crop is then stretched to square, as the original extractor did for the
    few crops it clipped at the frame edge.
    """
    x0, y0, x1, y1 = square
    side = max(1, int(round(x1 - x0)))

    def place(start: float, limit: int) -> tuple[int, int]:
        if side >= limit:
            return 0, limit
        a = int(round(start))
        a = min(max(a, 0), limit - side)
        return a, a + side

    cx0, cx1 = place(x0, width)
    cy0, cy1 = place(y0, height)
    return cx0, cy0, cx1, cy1


def jpeg_roundtrip(rgb: np.ndarray, quality: int = CROP_JPEG_QUALITY) -> np.ndarray:
    """Encode and decode as JPEG (4:2:0), as the training crops were stored."""
    return jpeg(rgb, quality)


def crop_face(
    rgb: np.ndarray, face: "FaceLike", framing: Framing, size: int = CROP_SIZE, jpeg_quality: int | None = CROP_JPEG_QUALITY
) -> np.ndarray:
    """The ``size`` x ``size`` RGB crop of ``face`` framed like the training data.

    ``jpeg_quality`` (None to skip) passes the crop through the same JPEG
    compression as the training crops, so the model sees the artefacts it
    learned on rather than cleaner or differently compressed pixels.
    """
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = crop_region(framing.square(face), h, w)
    region = rgb[y0:y1, x0:x1]
    crop = resize_rgb(region, (size, size))
    return jpeg_roundtrip(crop, jpeg_quality) if jpeg_quality else crop
