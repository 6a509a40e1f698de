"""Training transforms; evaluation goes through the one preprocessing path.

:func:`eval_transform` is :meth:`PreprocessConfig.__call__`, the function
``predict`` uses, so validation scores equal what ships. :class:`TrainTransform`
adds what matters for deepfakes and for faces met in the wild:

* cue hygiene (:class:`~fakelens.imaging.perturb.SizeQualityChain`): any face,
  real or fake, may be shrunk to 64-96 px, JPEG-compressed at quality 30-95
  and scaled back, so image size and compression cannot tell the classes apart;
* framing jitter: the face is re-cut a little larger, smaller or shifted, as
  the face cropper frames faces in photos (a face pasted into a photo should
  keep its crop's verdict);
* degradations (:mod:`fakelens.imaging.perturb`): JPEG 30-100, rescaling, noise,
  blur and the social-media chain, so compression and softness stop being cues;
* roll (off unless asked for): the face turned by up to 30 degrees about the crop's centre, the corners black or
  mirrored in, as a tilted head or an already rotated crop arrives; a detector that never saw such corners may read
  them as a fake's (docs/face-science.md, session 21);
* skin smoothing (off unless asked for): a beauty mode's smoothing of flat areas at a random strength, on real and
  fake faces alike, so smooth skin stops telling the classes apart (docs/face-science.md, session 28);
* flips and mild colour changes.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..imaging.perturb import SizeQualityChain, gaussian_noise, random_degradation, skin_smoothing
from ..imaging.preprocess import PreprocessConfig, resize_square  # noqa: F401  (re-exported: the one place they live)


def eval_transform(cfg: PreprocessConfig):
    """Image -> normalised ``3xHxW`` tensor, exactly as at predict time."""

    def transform(source) -> torch.Tensor:
        return torch.from_numpy(cfg(source))

    return transform


def reframe(rgb: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Re-cut the square crop: side x [1 - amount, 1 + amount/3], centre moved by up to amount/2 of the side.

    Zooming out past the crop would need pixels it does not have; the face
    cropper never pads either (it shifts its square into the image), so
    out-of-image parts are filled by reflection only at the small zoom-out.
    """
    if amount <= 0:
        return rgb
    h, w = rgb.shape[:2]
    side = min(h, w) * rng.uniform(1.0 - amount, 1.0 + amount / 3)
    cx = w / 2 + rng.uniform(-0.5, 0.5) * amount * side
    cy = h / 2 + rng.uniform(-0.5, 0.5) * amount * side
    scale = min(h, w) / side
    matrix = np.float32([[scale, 0, min(h, w) / 2 - cx * scale], [0, scale, min(h, w) / 2 - cy * scale]])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(rgb, matrix, (min(h, w), min(h, w)), flags=interp, borderMode=cv2.BORDER_REFLECT)


#: The largest turn of the roll augmentation, in degrees (the tilt tests turn heads by up to 30).
MAX_ROLL_DEGREES = 30.0


def roll(rgb: np.ndarray, rng: np.random.Generator, max_degrees: float = MAX_ROLL_DEGREES, mirrored: bool | None = None) -> np.ndarray:
    """The crop turned by a uniform angle in [-max_degrees, max_degrees] about its centre. The corners it uncovers are
    black (as other tools' rotated crops come) or mirrored in (as fakelens's own aligner fills them), half the time
    each unless ``mirrored`` says which."""
    degrees = rng.uniform(-max_degrees, max_degrees)
    if mirrored is None:
        mirrored = bool(rng.random() < 0.5)
    return turn(rgb, degrees, mirrored)


def turn(rgb: np.ndarray, degrees: float, mirrored: bool) -> np.ndarray:
    """The crop turned by ``degrees`` (counter-clockwise) about its centre, the uncovered corners mirrored in or black."""
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    border = cv2.BORDER_REFLECT if mirrored else cv2.BORDER_CONSTANT
    return cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=(0, 0, 0))


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Brightness, contrast and saturation changes of up to 25% x strength; grey now and then."""
    x = rgb.astype(np.float32)
    x = (x - x.mean()) * rng.uniform(1 - 0.25 * strength, 1 + 0.25 * strength) + x.mean() * rng.uniform(
        1 - 0.25 * strength, 1 + 0.25 * strength
    )
    grey = x.mean(axis=2, keepdims=True)
    sat = 0.0 if rng.random() < 0.05 * strength else rng.uniform(1 - 0.2 * strength, 1 + 0.2 * strength)
    x = grey + (x - grey) * sat
    return np.clip(x, 0, 255).astype(np.uint8)


class TrainTransform:
    """uint8 face crop + generator -> normalised ``3xHxW`` float32 array for training.

    ``strength`` in [0, 1] scales how often and how much each augmentation acts;
    ``framing`` is the largest relative change of the crop's framing;
    ``cue_chain`` is the probability of the size-and-quality chain, which acts
    on every sample whatever its label (the transform is never told the label);
    ``roll`` the probability of :func:`roll`, likewise blind to the label;
    ``smoothing`` the probability of a beauty mode's :func:`~fakelens.imaging.perturb.skin_smoothing` at a random
    strength (0.3-0.9), also blind to the label, so that smooth skin stops telling the classes apart;
    ``level_noise`` the probability of faint Gaussian noise (sd 0.5-2 grey levels) at the model's input size, after the
    resize, so that differences of a level or two (resampling, rounding, sensor noise) stop moving the verdict.
    """

    def __init__(
        self,
        cfg: PreprocessConfig,
        strength: float = 0.5,
        framing: float = 0.15,
        cue_chain: float = 0.0,
        roll: float = 0.0,
        smoothing: float = 0.0,
        level_noise: float = 0.0,
    ):
        self.cfg = cfg
        self.strength = float(np.clip(strength, 0.0, 1.0))
        self.framing = float(framing)
        self.size_quality = SizeQualityChain(float(np.clip(cue_chain, 0.0, 1.0)))
        self.roll = float(np.clip(roll, 0.0, 1.0))
        self.smoothing = float(np.clip(smoothing, 0.0, 1.0))
        self.level_noise = float(np.clip(level_noise, 0.0, 1.0))

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = self.strength
        if self.roll and rng.random() < self.roll:  # before alignment, as a turned face arrives at predict time
            rgb = roll(rgb, rng)
        if self.cfg.align:  # first, as at predict time: the augmentations then act on the upright face
            rgb = self.cfg.aligned_square(_pil(rgb))[0]
        if self.smoothing and rng.random() < self.smoothing:  # as the phone did it, before any later resize or JPEG
            rgb = skin_smoothing(rgb, float(rng.uniform(0.3, 0.9)))
        out = self.size_quality(rgb, rng)
        # Degrade at the crop's own resolution, as the picture was degraded before it was cut.
        out = random_degradation(out, rng, s)
        if rng.random() < 0.8:
            out = reframe(out, rng, self.framing)
        size = self.cfg.image_size
        out = np.asarray(resize_square(_pil(out), size))
        if rng.random() < 0.5:
            out = out[:, ::-1]
        if s > 0 and rng.random() < 0.5 * s:
            out = colour_jitter(out, rng, s)
        if self.level_noise and rng.random() < self.level_noise:  # last: no resize after it smooths it away
            out = gaussian_noise(out, float(rng.uniform(0.5, 2.0)), rng)
        return self.cfg.normalize(np.ascontiguousarray(out))[0]


def _pil(rgb: np.ndarray):
    from PIL import Image

    return Image.fromarray(rgb)


#: The factory name the data module (and older code) builds the training transform by; the class itself, same arguments.
train_transform = TrainTransform
