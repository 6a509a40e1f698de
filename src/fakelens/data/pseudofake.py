"""Three families of pseudo-fakes made from real faces and their 68 landmarks (training only).

* ``sbi``: self-blended images (Shiohara & Yamasaki, CVPR 2022). One face is
  both source and target: one of the two gets colour jitter (RGB shift, HSV,
  brightness/contrast) and frequency jitter (down- and up-scaling, or
  sharpening), the source moves by a slight affine change, and it is blended
  into the target through the landmark hull (with a forehead extension),
  elastically deformed, eroded or dilated and blurred, at a random ratio.
* ``xray``: cross-identity blends (Face X-ray's blended images, Li et al.,
  CVPR 2020). A donor face whose landmarks are nearest the target's, among a
  few drawn from other identities, is aligned to the target by a similarity
  transform, colour-matched inside the mask (Reinhard's LAB statistics) and
  blended through the deformed hull.
* ``region``: the mouth (points 48-67) or the eyes (36-47) alone, from a
  slightly warped copy of the face or from a donor: what reenactment and
  lip-sync leave behind while the rest of the face is untouched.

Every function takes its randomness from the ``numpy`` generator it is given,
so a seed gives the same pseudo-fake. Each returns a :class:`PseudoFake`: the
image, the blend mask (exactly 0 where the image equals the target) and the
target (the input face, or for ``sbi`` possibly its jittered copy).
Written for this project after the papers and their public reference code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..imaging.landmarks import BROWS, EYES, JAW, LEFT_EYE, MOUTH, RIGHT_EYE
from ..sources import PSEUDO_FAKE_KIND

FAMILIES = ("sbi", "xray", "region")

#: SBI's blend ratios: mostly a full blend, sometimes a partial one.
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
#: Mask values below this are set to 0: the image outside the mask is then the target's, bit for bit.
MASK_FLOOR = 1.0 / 255


@dataclass(frozen=True)
class PseudoFake:
    image: np.ndarray  # uint8 HxWx3
    mask: np.ndarray  # float32 HxW in [0, 1]: the share of the source in each pixel
    target: np.ndarray  # uint8 HxWx3: what the source was blended into


# --- masks -------------------------------------------------------------------------------------------------------


def _up_axis(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """The face's upward unit vector (mouth -> eyes) and the eye-to-mouth distance."""
    up = lm[EYES].mean(axis=0) - lm[MOUTH].mean(axis=0)
    dist = float(np.linalg.norm(up)) or 1.0
    return up / dist, dist


def forehead_points(lm: np.ndarray, lift: float) -> np.ndarray:
    """The brows raised by ``lift`` eye-to-mouth distances: the forehead a 68-point hull leaves out (SBI's 81-point hull)."""
    up, dist = _up_axis(lm)
    return lm[BROWS] + up * lift * dist


def polygon_mask(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """A float32 0/1 mask of the convex hull of ``points``."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(np.float32)


def face_hull(shape: tuple[int, int], lm: np.ndarray, rng: np.random.Generator, forehead: bool = True) -> np.ndarray:
    """The face's hull mask: all 68 points, or (as Face X-ray's variants) the lower face, optionally with the forehead."""
    points = lm if rng.random() < 0.75 else np.concatenate([lm[JAW], lm[29:36]])  # full face, or jaw up to the nose
    if forehead:
        points = np.concatenate([points, forehead_points(lm, rng.uniform(0.2, 0.5))])
    return polygon_mask(shape, points)


def deform_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Elastic warp, random erosion or dilation, then blur (SBI's mask deformation), scaled to the image size."""
    h, w = mask.shape
    side = min(h, w)
    # elastic: a smooth random displacement field
    sigma = 0.05 * side
    field = rng.uniform(-1, 1, (2, h, w)).astype(np.float32)
    field = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in field])
    field *= 0.04 * side / (np.abs(field).max() or 1.0)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mask = cv2.remap(mask, xs + field[0], ys + field[1], cv2.INTER_LINEAR, borderValue=0)
    k = int(rng.integers(1, max(2, side // 20)))
    kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
    binary = (mask > 0.5).astype(np.uint8)
    binary = cv2.erode(binary, kernel) if rng.random() < 0.5 else cv2.dilate(binary, kernel)
    return soften(binary.astype(np.float32), rng.uniform(0.01, 0.05) * side)


def soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Blur a 0/1 mask, rescale its peak to 1 and cut the faint tail to exactly 0."""
    soft = cv2.GaussianBlur(mask, (0, 0), max(float(sigma), 0.5))
    soft /= float(soft.max()) or 1.0
    soft[soft < MASK_FLOOR] = 0
    return soft.astype(np.float32)


# --- jitter ------------------------------------------------------------------------------------------------------


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's source colour changes: one of an RGB shift, an HSV shift, or brightness and contrast."""
    kind = int(rng.integers(3))
    x = rgb.astype(np.float32)
    if kind == 0:
        x = x + rng.uniform(-20, 20, size=3)
    elif kind == 1:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180
        hsv[..., 1:] *= rng.uniform(0.8, 1.2, size=2)
        x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    else:
        x = (x - 128) * rng.uniform(0.9, 1.1) + 128 + 255 * rng.uniform(-0.1, 0.1)
    return np.clip(x, 0, 255).round().astype(np.uint8)


def frequency_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's source sharpness changes: down-scaled and back up (softer), or sharpened."""
    h, w = rgb.shape[:2]
    if rng.random() < 0.5:
        f = rng.uniform(0.5, 0.9)
        small = cv2.resize(rgb, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blurred = cv2.GaussianBlur(rgb, (0, 0), 1.0).astype(np.float32)
    amount = rng.uniform(0.2, 0.5)
    return np.clip(rgb.astype(np.float32) * (1 + amount) - blurred * amount, 0, 255).round().astype(np.uint8)


def _affine_about(centre: np.ndarray, sx: float, sy: float, angle: float, shift: np.ndarray) -> np.ndarray:
    """A 2x3 matrix: scale (``sx``, ``sy``) and rotate (degrees) about ``centre``, then move by ``shift``."""
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    linear = np.array([[c, -s], [s, c]]) @ np.diag([sx, sy])
    return np.hstack([linear, (centre - linear @ centre + shift)[:, None]]).astype(np.float32)


def _warp(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray, ratio: float) -> PseudoFake:
    mask = (mask * ratio).astype(np.float32)
    mask[mask < MASK_FLOOR] = 0
    m = mask[..., None]
    out = source.astype(np.float32) * m + target.astype(np.float32) * (1 - m)
    out = np.where(m > 0, np.clip(out, 0, 255).round(), target).astype(np.uint8)
    return PseudoFake(out, mask, target)


# --- the three families ------------------------------------------------------------------------------------------


def self_blend68(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> PseudoFake:
    """A self-blended image (SBI) of the face crop ``rgb`` with landmarks ``lm`` (68x2)."""
    source, target = rgb, rgb
    jittered = frequency_jitter(colour_jitter(rgb, rng), rng)
    if rng.random() < 0.5:
        source = jittered
    else:
        target = jittered
    h, w = rgb.shape[:2]
    scale = rng.uniform(0.95, 1 / 0.95)
    shift = rng.uniform(-1, 1, size=2) * (0.03 * w, 0.015 * h)
    source = _warp(source, _affine_about(np.array([w / 2, h / 2]), scale, scale, 0.0, shift))
    mask = deform_mask(face_hull(rgb.shape[:2], lm, rng), rng)
    return blend(source, target, mask, float(rng.choice(BLEND_RATIOS)))


def normalised_shape(lm: np.ndarray) -> np.ndarray:
    """Landmarks with position, scale and rotation removed (Procrustes), for comparing face shapes."""
    x = lm - lm.mean(axis=0)
    x = x / (np.linalg.norm(x) or 1.0)
    return x


def nearest_donor(target_lm: np.ndarray, candidates: list[np.ndarray]) -> int:
    """The candidate whose face shape (after the best rotation) is nearest the target's (Face X-ray's donor search)."""
    t = normalised_shape(target_lm)
    best, best_d = 0, np.inf
    for i, lm in enumerate(candidates):
        c = normalised_shape(lm)
        u, _, vt = np.linalg.svd(c.T @ t)
        d = float(np.linalg.norm(c @ (u @ vt) - t))
        if d < best_d:
            best, best_d = i, d
    return best


def similarity_to(src_lm: np.ndarray, dst_lm: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) taking ``src_lm`` onto ``dst_lm``."""
    matrix, _ = cv2.estimateAffinePartial2D(src_lm.astype(np.float32), dst_lm.astype(np.float32), method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("no similarity transform between these landmarks")
    return matrix.astype(np.float32)


def colour_transfer(source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``source`` with the LAB mean and spread of ``target`` inside ``region`` (Reinhard et al. 2001)."""
    inside = (region > 0.5).astype(np.uint8)
    if int(inside.sum()) < 16:
        return source
    s_lab, t_lab = cv2.cvtColor(source, cv2.COLOR_RGB2LAB), cv2.cvtColor(target, cv2.COLOR_RGB2LAB)
    s_mean, s_std = (v.reshape(3) for v in cv2.meanStdDev(s_lab, mask=inside))
    t_mean, t_std = (v.reshape(3) for v in cv2.meanStdDev(t_lab, mask=inside))
    gain = (t_std + 1e-3) / (s_std + 1e-3)
    out = s_lab.astype(np.float32) * gain.astype(np.float32) + (t_mean - s_mean * gain).astype(np.float32)
    return cv2.cvtColor(np.clip(out, 0, 255).round().astype(np.uint8), cv2.COLOR_LAB2RGB)


def _warp_donor(donor: np.ndarray, donor_lm: np.ndarray, target_lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The donor moved onto the target's landmarks (reflected at its borders: no straight seam where it ends)."""
    h, w = shape
    return cv2.warpAffine(donor, similarity_to(donor_lm, target_lm), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def xray_blend(rgb: np.ndarray, lm: np.ndarray, donor: np.ndarray, donor_lm: np.ndarray, rng: np.random.Generator) -> PseudoFake:
    """Face X-ray's blended image: ``donor`` (another person, similar landmarks) aligned and blended into ``rgb``."""
    source = _warp_donor(donor, donor_lm, lm, rgb.shape[:2])
    hull = face_hull(rgb.shape[:2], lm, rng, forehead=rng.random() < 0.5)
    mask = deform_mask(hull, rng)
    source = colour_transfer(source, rgb, polygon_mask(rgb.shape[:2], lm))
    if rng.random() < 0.5:
        source = frequency_jitter(source, rng)
    return blend(source, rgb, mask, float(rng.choice(BLEND_RATIOS)))


REGIONS = {"mouth": (MOUTH,), "eyes": (RIGHT_EYE, LEFT_EYE)}


def region_mask(shape: tuple[int, int], lm: np.ndarray, region: str, rng: np.random.Generator) -> np.ndarray:
    """The mouth's or each eye's hull, grown by a random margin, deformed and softened."""
    _, dist = _up_axis(lm)
    mask = np.zeros(shape, np.float32)
    for part in REGIONS[region]:
        mask = np.maximum(mask, polygon_mask(shape, lm[part]))
    grow = max(1, int(dist * rng.uniform(0.1, 0.3)))
    mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return soften(mask, dist * rng.uniform(0.05, 0.12))


def region_blend(
    rgb: np.ndarray,
    lm: np.ndarray,
    rng: np.random.Generator,
    region: str | None = None,
    donor: np.ndarray | None = None,
    donor_lm: np.ndarray | None = None,
) -> PseudoFake:
    """The mouth or the eyes from a slightly warped copy of the face (or from an aligned donor), the rest untouched."""
    region = region or ("mouth" if rng.random() < 0.6 else "eyes")
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; choose one of {', '.join(REGIONS)}")
    idx = np.concatenate([np.arange(68)[p] for p in REGIONS[region]])
    if donor is not None and donor_lm is not None:
        source = _warp_donor(donor, donor_lm[idx], lm[idx], rgb.shape[:2])
    else:
        # a mouth opened or closed a little, eyes a little narrower or wider, slightly moved or turned
        _, dist = _up_axis(lm)
        centre = lm[idx].mean(axis=0)
        matrix = _affine_about(
            centre, rng.uniform(0.92, 1.08), rng.uniform(0.85, 1.15), rng.uniform(-4, 4), rng.uniform(-0.04, 0.04, size=2) * dist
        )
        source = _warp(rgb, matrix)
    mask = region_mask(rgb.shape[:2], lm, region, rng)
    source = colour_transfer(source, rgb, mask)
    if rng.random() < 0.5:
        source = frequency_jitter(source, rng)
    return blend(source, rgb, mask, float(rng.choice(BLEND_RATIOS[1:])))


# --- on the fly, in training -------------------------------------------------------------------------------------


class PseudoFakeMaker:
    """A training sample of kind ``pf:<family>`` and its image -> the pseudo-fake image.

    ``donors`` maps a pseudo-fake source's name to the real faces its donors
    come from (its ``real_from`` source's training reals). Face X-ray searched
    the nearest landmarks among random faces; here ``candidates`` donors of
    other groups (other people) are drawn per blend and the nearest is used.
    Landmarks are cached per image path. Data-loader workers are forked anew
    every epoch, so :meth:`warm` fills the cache in the main process first
    (and keeps it in a file, for the next epoch's workers and for ``--resume``);
    a blend then costs the blend alone (about 30 ms), not 16 donors' landmarks.
    """

    def __init__(self, donors: dict[str, list] | None = None, candidates: int = 16, cache_size: int = 200_000):
        from ..imaging.landmarks import shared_landmarks

        self.donors = donors or {}
        self.candidates = int(candidates)
        self.cache_size = int(cache_size)
        self._landmarks = shared_landmarks()
        self._cache: dict[str, np.ndarray] = {}

    def warm(self, paths: list[str], cache_file: str | os.PathLike | None = None, progress: bool = False) -> None:
        """Landmarks of ``paths`` into the cache, read from ``cache_file`` where it has them and written back to it."""
        from ..errors import ImageReadError
        from ..imaging.imageio import load_image
        from ..utils.atomic import atomic_path

        if cache_file is not None and Path(cache_file).is_file():
            with np.load(cache_file) as stored:
                self._cache.update(zip(stored["paths"].tolist(), stored["landmarks"]))
        missing = [p for p in dict.fromkeys(paths) if p not in self._cache]
        if not missing:
            return
        from tqdm import tqdm

        for path in tqdm(missing, desc="68-point landmarks", disable=not progress):
            try:
                self.landmarks_of(path, load_image(path))
            except ImageReadError:
                continue  # the training loop reports it when it draws the image
        if cache_file is not None:
            known = list(self._cache)
            with atomic_path(cache_file, ".npz") as tmp:
                np.savez(tmp, paths=np.asarray(known), landmarks=np.stack([self._cache[p] for p in known]))

    def landmarks_of(self, path: str, rgb: np.ndarray) -> np.ndarray:
        lm = self._cache.get(path)
        if lm is None:
            lm = self._landmarks.for_crop(rgb)
            if len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[path] = lm
        return lm

    def _donor(self, sample, lm: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        """The nearest-landmark face among ``candidates`` drawn from other groups: its image and landmarks."""
        from ..errors import ImageReadError
        from ..imaging.imageio import load_image

        pool = self.donors.get(sample.source) or []
        if not pool:
            return None
        picks = [pool[i] for i in rng.choice(len(pool), min(self.candidates, len(pool)), replace=False)]
        found = []  # (path, landmarks); only the chosen donor's image is read when its landmarks are cached
        for d in picks:
            if d.group == sample.group:
                continue
            if d.path not in self._cache:
                try:
                    self.landmarks_of(d.path, load_image(d.path))
                except ImageReadError:
                    continue
            found.append((d.path, self._cache[d.path]))
        if not found:
            return None
        path, donor_lm = found[nearest_donor(lm, [f[1] for f in found])]
        try:
            return load_image(path), donor_lm
        except ImageReadError:
            return None

    def __call__(self, sample, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        family = sample.kind[len(PSEUDO_FAKE_KIND) :]
        lm = self.landmarks_of(sample.path, rgb)
        if family == "sbi":
            return self_blend68(rgb, lm, rng).image
        if family == "xray":
            donor = self._donor(sample, lm, rng)
            # no donor of another person (a tiny pool): a self-blend keeps the draw a pseudo-fake
            return xray_blend(rgb, lm, *donor, rng).image if donor is not None else self_blend68(rgb, lm, rng).image
        if family == "region":
            donor = self._donor(sample, lm, rng) if rng.random() < 0.3 else None
            return region_blend(rgb, lm, rng, donor=donor[0] if donor else None, donor_lm=donor[1] if donor else None).image
        raise ValueError(f"unknown pseudo-fake family {family!r}; choose one of {', '.join(FAMILIES)}")
