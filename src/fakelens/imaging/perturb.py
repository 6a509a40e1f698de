"""Image degradations that real-world faces go through: compression, rescaling, noise, blur.

One set of functions serves two purposes: training draws them at random
(:func:`random_degradation`) so the detector learns to look past them, and
``fakelens robustness`` applies fixed settings (:data:`ROBUSTNESS_PERTURBATIONS`)
to measure what each one costs. All take and return uint8 ``HxWx3`` RGB arrays
of the same size. Pillow does the work, so the runtime install (``fakelens
robustness`` with a bundled detector) needs no OpenCV.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter

from .imageio import resize_rgb

Perturbation = Callable[[np.ndarray], np.ndarray]


def jpeg(rgb: np.ndarray, quality: int, subsampling: int | None = None) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (PIL's default 4:2:0 chroma unless given)."""
    buf = io.BytesIO()
    kwargs = {} if subsampling is None else {"subsampling": subsampling}
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality), **kwargs)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


#: Down-scaling filters a picture may have met (area averaging, bilinear, bicubic), for training's random rescale.
DOWNSCALE_FILTERS = (Image.Resampling.BOX, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)


def rescale(rgb: np.ndarray, factor: float, down: int = Image.Resampling.BOX, up: int = Image.Resampling.BILINEAR) -> np.ndarray:
    """Down-scale by ``factor`` and back up (Pillow filters): the softness of a low-resolution source."""
    h, w = rgb.shape[:2]
    small = resize_rgb(rgb, (max(4, round(w * factor)), max(4, round(h * factor))), down)
    return resize_rgb(small, (w, h), up)


def gaussian_noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    rng = rng or np.random.default_rng(0)
    noisy = rgb.astype(np.float32) + rng.normal(0.0, sigma, rgb.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def gaussian_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (Pillow's radius is the standard deviation)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).filter(ImageFilter.GaussianBlur(float(sigma))))


def skin_smoothing(rgb: np.ndarray, strength: float = 0.8, sigma: float = 3.0) -> np.ndarray:
    """A phone camera's beauty mode, roughly: flat areas (skin) blurred by ``sigma`` pixels, edges kept.

    Each pixel is mixed with its Gaussian-blurred value by ``strength`` times one minus its edge strength (Pillow's
    edge filter on the smoothed grey image, softened and scaled to its 90th percentile), so eyes, lips and outlines stay
    sharp while the skin loses its texture: the smooth skin of many synthetic faces, on a real one.
    """
    img = Image.fromarray(np.ascontiguousarray(rgb))
    blurred = np.asarray(img.filter(ImageFilter.GaussianBlur(float(sigma))), dtype=np.float32)
    # edges of the grey image smoothed first, so that the texture itself (pores, grain) does not count as an edge
    grey = img.convert("L").filter(ImageFilter.GaussianBlur(2.0))
    edges = np.asarray(grey.filter(ImageFilter.FIND_EDGES).filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32)
    scale = max(float(np.percentile(edges, 90)), 1.0)
    weight = float(strength) * np.clip(1.0 - edges / scale, 0.0, 1.0)[..., None]
    out = rgb.astype(np.float32) * (1.0 - weight) + blurred * weight
    return np.clip(out, 0, 255).round().astype(np.uint8)


def social_media_chain(rgb: np.ndarray, face_fraction: float = 0.3, long_side: int = 720, quality: int = 75) -> np.ndarray:
    """What a face goes through when its photo is resized to ``long_side`` and saved at JPEG ``quality``.

    A face crop is ``face_fraction`` of the photo's long side, so after the resize
    it has ``face_fraction * long_side`` pixels; it is compressed at that size
    and scaled back up, as the detector's face cropper would.
    """
    h, w = rgb.shape[:2]
    side = max(16, int(round(face_fraction * long_side)))
    if side < max(h, w):
        small = resize_rgb(rgb, (side, side), Image.Resampling.BOX)
        return resize_rgb(jpeg(small, quality), (w, h), Image.Resampling.BILINEAR)
    return jpeg(rgb, quality)


#: The fixed perturbations of ``fakelens robustness`` (name -> function), mildest first within each kind.
ROBUSTNESS_PERTURBATIONS: dict[str, Perturbation] = {
    "none": lambda x: x,
    "jpeg90": lambda x: jpeg(x, 90),
    "jpeg70": lambda x: jpeg(x, 70),
    "jpeg50": lambda x: jpeg(x, 50),
    "jpeg30": lambda x: jpeg(x, 30),
    "resize0.5": lambda x: rescale(x, 0.5),
    "resize0.25": lambda x: rescale(x, 0.25),
    "blur1": lambda x: gaussian_blur(x, 1.0),
    "smooth": lambda x: skin_smoothing(x),
    "noise3": lambda x: gaussian_noise(x, 3.0),
    "noise5": lambda x: gaussian_noise(x, 5.0),
    "noise10": lambda x: gaussian_noise(x, 10.0),
    "social720": lambda x: social_media_chain(x),
}


def random_degradation(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A random chain of the degradations above; ``strength`` in [0, 1] scales how often and how much.

    Each kind is applied independently, in the order a real picture meets them
    (blur or rescale at capture, noise, then one or two compressions), so the
    model sees mixtures, not only one degradation at a time.
    """
    s = float(np.clip(strength, 0.0, 1.0))
    if s == 0:
        return rgb
    out = rgb
    if rng.random() < 0.15 * s:
        out = gaussian_blur(out, rng.uniform(0.3, 0.3 + 1.5 * s))
    if rng.random() < 0.25 * s:
        out = rescale(out, rng.uniform(1.0 - 0.75 * s, 1.0), down=DOWNSCALE_FILTERS[int(rng.integers(len(DOWNSCALE_FILTERS)))])
    if rng.random() < 0.2 * s:
        out = gaussian_noise(out, rng.uniform(1.0, 1.0 + 11.0 * s), rng)
    if rng.random() < 0.15 * s:
        out = social_media_chain(out, face_fraction=rng.uniform(0.15, 0.5), quality=int(rng.integers(60, 90)))
    if rng.random() < 0.5 * s:
        out = jpeg(out, int(rng.integers(int(100 - 70 * s), 101)))
    return out


@dataclass(frozen=True)
class SizeQualityChain:
    """Cue hygiene: every training face, real or fake, may become a small, compressed face.

    With ``probability`` the crop is scaled down so that its longer side is
    ``smallest`` pixels (the smallest faces met in the wild, 64-96), compressed
    as JPEG at a quality in ``quality``, and scaled back up (half of the time
    the compression comes after the scaling back, as a re-saved upscaled crop).
    The transform never sees the label, so image size, JPEG quality and file
    format stop telling the classes apart: both go through the same chain.
    """

    probability: float = 0.5
    smallest: tuple[int, int] = (64, 96)
    quality: tuple[int, int] = (30, 95)

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.probability <= 0 or rng.random() >= self.probability:
            return rgb
        h, w = rgb.shape[:2]
        side = int(rng.integers(self.smallest[0], self.smallest[1] + 1))
        quality = int(rng.integers(self.quality[0], self.quality[1] + 1))
        down = DOWNSCALE_FILTERS[int(rng.integers(len(DOWNSCALE_FILTERS)))]
        compress_small = rng.random() < 0.5
        if side >= max(h, w):
            return jpeg(rgb, quality)
        scale = side / max(h, w)
        small = resize_rgb(rgb, (max(4, round(w * scale)), max(4, round(h * scale))), down)
        if compress_small:
            return resize_rgb(jpeg(small, quality), (w, h), Image.Resampling.BILINEAR)
        return jpeg(resize_rgb(small, (w, h), Image.Resampling.BILINEAR), quality)
