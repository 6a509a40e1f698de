"""Self-blended images (Shiohara & Yamasaki, CVPR 2022): pseudo-fakes made from real faces.

A face swap pastes one face into another through a mask and leaves traces at
the mask's edge: a colour or sharpness mismatch, a slightly different scale,
a seam. SBI makes such traces without a second person: a colour-, sharpness-,
scale- and shift-jittered copy of a real face is blended back into the same
face through a soft mask around the face. A detector trained on these learns
the blending traces themselves, which every swap method leaves, rather than
the fingerprints of the few methods in its training set.

The mask is the convex hull of the face outline. fakelens' face detector
(yuface) gives five landmarks (eyes, nose, mouth corners); the outline is
extended from them (brows above the eyes, chin below the mouth, cheeks beside
the eyes), then randomly eroded or dilated and blurred, as in the paper.
Where no face is found the crop's usual framing places an ellipse instead
(the crops are framed consistently: the landmark centre is at about
(0.51, 0.49) of the side, see fakelens.faces.cropping).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..imaging.align import largest_face


def face_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """The five yuface landmarks ``(5, 2)`` of the largest face in a face crop, or None.

    The aligner's search of a crop (:func:`fakelens.imaging.align.largest_face`), which pads tight crops so that
    the detector sees the face, and keeps one detector per thread; at the padded crop's own size, as the points
    shape the blend's mask (a 224 px crop: about 10 ms).
    """
    found = largest_face(rgb, canvas_side=None)
    return None if found is None else found[1]


def hull_mask(shape: tuple[int, int], landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A float32 ``HxW`` mask in [0, 1] covering the face, randomly deformed and softened."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    if landmarks is not None:
        eyes, nose, mouth = landmarks[0:2], landmarks[2], landmarks[3:5]
        eye_mid, mouth_mid = eyes.mean(axis=0), mouth.mean(axis=0)
        down = mouth_mid - eye_mid  # the face's vertical axis, eyes -> mouth
        em = float(np.linalg.norm(down)) or 1.0
        down = down / em
        across = eyes[1] - eyes[0]
        across = across / (np.linalg.norm(across) or 1.0)
        k = rng.uniform(0.8, 1.2, size=4)
        points = [
            eyes[0] - across * 0.45 * em * k[0] - down * 0.55 * em * k[1],  # brows / temples
            eyes[1] + across * 0.45 * em * k[0] - down * 0.55 * em * k[1],
            eyes[0] - across * 0.55 * em * k[2] + down * 0.5 * em,  # cheeks
            eyes[1] + across * 0.55 * em * k[2] + down * 0.5 * em,
            mouth[0] - across * 0.35 * em + down * 0.45 * em,  # jaw
            mouth[1] + across * 0.35 * em + down * 0.45 * em,
            mouth_mid + down * 0.8 * em * k[3],  # chin
            nose,
        ]
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(np.asarray(points)).astype(np.int32)), 1)
    else:
        centre = (int(w * rng.uniform(0.47, 0.55)), int(h * rng.uniform(0.47, 0.56)))
        axes = (int(w * rng.uniform(0.28, 0.36)), int(h * rng.uniform(0.36, 0.44)))
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
    # Random erosion or dilation moves the seam in or out, as in the paper.
    k = int(rng.integers(1, max(2, w // 16)))
    kernel = np.ones((k, k), np.uint8)
    mask = cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel)
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=float(rng.uniform(0.01, 0.06) * w))
    peak = float(soft.max()) or 1.0
    return np.clip(soft / peak, 0, 1).astype(np.float32)


def _jitter_source(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The copy to blend: colour shift, contrast, sharpness, then a small scale change and shift."""
    src = rgb.astype(np.float32)
    src = src * rng.uniform(0.9, 1.1) + rng.uniform(-20, 20, size=3)  # contrast + per-channel shift
    hsv = cv2.cvtColor(np.clip(src, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180
    hsv[..., 1] *= rng.uniform(0.85, 1.15)
    src = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    if rng.random() < 0.5:  # sharpen or soften
        blurred = cv2.GaussianBlur(src, (0, 0), sigmaX=float(rng.uniform(0.5, 1.5)))
        amount = rng.uniform(-0.8, 0.8)
        src = np.clip(src.astype(np.float32) * (1 + amount) - blurred.astype(np.float32) * amount, 0, 255).astype(np.uint8)
    h, w = rgb.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    dx, dy = rng.uniform(-0.03, 0.03, size=2) * (w, h)
    matrix = np.float32([[scale, 0, (1 - scale) * w / 2 + dx], [0, scale, (1 - scale) * h / 2 + dy]])
    return cv2.warpAffine(src, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)


def self_blend(rgb: np.ndarray, rng: np.random.Generator, landmarks: np.ndarray | None = None, find_landmarks: bool = True) -> np.ndarray:
    """A self-blended pseudo-fake of the real face crop ``rgb`` (uint8 ``HxWx3``, same size)."""
    if landmarks is None and find_landmarks:
        landmarks = face_landmarks(rgb)
    mask = hull_mask(rgb.shape[:2], landmarks, rng)
    blend = rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    mask = (mask * blend)[..., None]
    source = _jitter_source(rgb, rng)
    # No extra compression here: the degradations that follow in training hit reals and
    # pseudo-fakes alike, so compression cannot tell the classes apart.
    return np.clip(source.astype(np.float32) * mask + rgb.astype(np.float32) * (1 - mask), 0, 255).round().astype(np.uint8)
