"""Is the explanation telling the truth about the model? A deletion check.

Remove the region the explanation ranks highest (blur it away) and see how far
P(FAKE) falls; do the same for random regions of the same size. If the
explanation points at evidence the model really uses, the first drop is the
larger one. ``score = drop_top - drop_random``: above 0 the explanation beats
chance; near 0 it is no better than pointing anywhere.

Blurring, rather than painting grey, keeps the face's colours and shape, so the
perturbed face stays close to what the model has seen, while the fine texture
and blending seams a manipulation leaves behind are gone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageFilter

ScoreFn = Callable[[np.ndarray], np.ndarray]  # uint8 NxHxWx3 faces -> P(FAKE)


@dataclass(frozen=True)
class Faithfulness:
    prob_fake: float  # P(FAKE) of the intact face
    prob_top_removed: float  # ... with the explanation's top region removed
    prob_random_removed: float  # ... with a random region of the same size removed (mean over draws)
    region_fraction: float  # share of the face that was removed
    n_random: int

    @property
    def drop_top(self) -> float:
        return self.prob_fake - self.prob_top_removed

    @property
    def drop_random(self) -> float:
        return self.prob_fake - self.prob_random_removed

    @property
    def score(self) -> float:
        return self.drop_top - self.drop_random

    def to_dict(self) -> dict:
        d = {k: round(float(v), 6) if isinstance(v, float) else v for k, v in asdict(self).items()}
        d.update(drop_top=round(self.drop_top, 6), drop_random=round(self.drop_random, 6), score=round(self.score, 6))
        return d


def blur_face(rgb: np.ndarray) -> np.ndarray:
    """What a removed region is replaced with: the face blurred at ~1/20 of its size."""
    radius = max(2.0, rgb.shape[0] / 20)
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius)))


def remove_regions(rgb: np.ndarray, masks: Sequence[np.ndarray], blurred: np.ndarray | None = None) -> np.ndarray:
    """One copy of ``rgb`` per boolean HxW mask, the masked pixels taken from the blurred face."""
    blurred = blur_face(rgb) if blurred is None else blurred
    masks = np.asarray(masks, dtype=bool)
    return np.where(masks[..., None], blurred[None], rgb[None])


def top_fraction_mask(heatmap: np.ndarray, fraction: float) -> np.ndarray:
    """The ``fraction`` of pixels with the highest values (an exact count; ties broken by position)."""
    if not 0 < fraction < 1:
        raise ValueError(f"region fraction must be in (0, 1), got {fraction}")
    flat = heatmap.reshape(-1)
    n = max(1, int(round(fraction * flat.size)))
    mask = np.zeros(flat.size, dtype=bool)
    mask[np.argsort(-flat, kind="stable")[:n]] = True
    return mask.reshape(heatmap.shape)


def shifted_masks(mask: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random regions of exactly the same size and shape: ``mask`` moved by random offsets (wrapping round)."""
    h, w = mask.shape
    return [np.roll(mask, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1)) for _ in range(n)]


def random_segment_masks(segments: np.ndarray, k: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``k`` superpixels drawn at random, ``n`` times: the baseline for a top-k superpixel region."""
    ids = np.unique(segments)
    k = min(k, len(ids))
    return [np.isin(segments, rng.choice(ids, size=k, replace=False)) for _ in range(n)]


def deletion_faithfulness(
    score_fn: ScoreFn,
    rgb: np.ndarray,
    top_region: np.ndarray,
    random_regions: Sequence[np.ndarray],
    prob_fake: float | None = None,
) -> Faithfulness:
    """Score the face, the face without ``top_region`` and without each random region, in one batch."""
    if not len(random_regions):
        raise ValueError("need at least one random region to compare with")
    variants = remove_regions(rgb, [top_region, *random_regions])
    if prob_fake is None:
        variants = np.concatenate([rgb[None], variants])
    probs = np.asarray(score_fn(variants), dtype=np.float64)
    if prob_fake is None:
        prob_fake, probs = float(probs[0]), probs[1:]
    return Faithfulness(
        prob_fake=float(prob_fake),
        prob_top_removed=float(probs[0]),
        prob_random_removed=float(probs[1:].mean()),
        region_fraction=float(np.mean(top_region)),
        n_random=len(random_regions),
    )
