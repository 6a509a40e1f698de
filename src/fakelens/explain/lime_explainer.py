"""LIME on superpixels of the face, rendered as the reference study did:
green regions push the verdict toward REAL, red ones toward FAKE.

LIME switches random subsets of superpixels off (filling each with its mean
colour), scores every perturbed face with the detector and fits a weighted
linear model: one weight per superpixel, the change in P(FAKE) it accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lime import lime_image
from skimage.segmentation import find_boundaries, quickshift, slic

from ..inference.detector import Detector
from ._scoring import score_faces

SEGMENTATIONS = ("slic", "quickshift")
FAKE_RGB = np.array([220, 30, 30], dtype=np.float32)
REAL_RGB = np.array([30, 190, 60], dtype=np.float32)


@dataclass
class LimeResult:
    segments: np.ndarray  # HxW int: superpixel id of each pixel, 0..n-1
    weights: np.ndarray  # (n,) float: each superpixel's push toward FAKE (negative: toward REAL)
    top_segments: np.ndarray  # the top-k superpixel ids by |weight|, strongest first
    mask: np.ndarray  # HxW int8: +1 top-k superpixel pushing FAKE, -1 pushing REAL, 0 elsewhere
    overlay: np.ndarray  # HxWx3 uint8: the face with the top-k superpixels tinted red / green
    fit_r2: float  # R^2 of LIME's local linear model on its samples: how well the weights summarise the model here

    def fake_region(self, k: int | None = None) -> np.ndarray:
        """Boolean HxW mask of the ``k`` superpixels with the largest push toward FAKE."""
        k = len(self.top_segments) if k is None else k
        ranked = np.argsort(-self.weights, kind="stable")[:k]
        return np.isin(self.segments, ranked)


def segment_face(rgb: np.ndarray, method: str = "slic", n_segments: int = 50, seed: int = 0) -> np.ndarray:
    """Superpixels numbered 0..n-1 (LIME needs consecutive ids).

    SLIC's ``n_segments`` keeps the superpixel count, and so LIME's problem
    size, the same at 64 px and at 299 px; quickshift (LIME's default) adapts
    to the image but is slower and its count varies.
    """
    if method == "slic":
        segments = slic(rgb, n_segments=n_segments, compactness=10.0, sigma=1.0, start_label=0, channel_axis=-1)
    elif method == "quickshift":
        segments = quickshift(rgb, kernel_size=4, max_dist=200, ratio=0.2, rng=seed, channel_axis=-1)
    else:
        raise ValueError(f"unknown segmentation {method!r}; choose one of: {', '.join(SEGMENTATIONS)}")
    return np.unique(segments, return_inverse=True)[1].reshape(segments.shape).astype(np.int32)


class _BatchedLimeImageExplainer(lime_image.LimeImageExplainer):
    """``LimeImageExplainer`` whose perturbed faces are built a batch at a time.

    lime's own ``data_labels`` builds every sample in a Python loop over
    superpixels (and draws a progress bar); here one fancy-indexing step per
    batch builds the same samples from the same random draws.
    """

    def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
        n_features = np.unique(segments).shape[0]
        data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
        data[0, :] = 1  # the first sample is the face itself
        labels = []
        for start in range(0, num_samples, batch_size):
            keep = data[start : start + batch_size].astype(bool)[:, segments]  # BxHxW: superpixel left on?
            labels.append(classifier_fn(np.where(keep[..., None], image[None], fudged_image[None])))
        return data, np.concatenate(labels)


class LimeExplainer:
    """``LimeExplainer(detector)(rgb)`` -> :class:`LimeResult` for one face at the model's input size."""

    def __init__(
        self,
        detector: Detector,
        num_samples: int = 1000,
        top_k: int = 5,
        segmentation: str = "slic",
        n_segments: int = 50,
        batch_size: int = 100,
        random_state: int = 0,
    ):
        if segmentation not in SEGMENTATIONS:
            raise ValueError(f"unknown segmentation {segmentation!r}; choose one of: {', '.join(SEGMENTATIONS)}")
        if int(num_samples) < 10:
            raise ValueError(f"lime_samples must be at least 10 (got {num_samples}); LIME fits a linear model on them")
        if int(top_k) < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        self.detector = detector
        self.num_samples = int(num_samples)
        self.top_k = int(top_k)
        self.segmentation = segmentation
        self.n_segments = int(n_segments)
        self.batch_size = int(batch_size)
        self.random_state = int(random_state)

    def _classifier_fn(self, faces: np.ndarray) -> np.ndarray:
        p = score_faces(self.detector, faces.astype(np.uint8, copy=False), batch_size=self.batch_size)
        return np.stack([1.0 - p, p], axis=1)  # LIME wants one column per class; column 1 is FAKE

    def __call__(self, rgb: np.ndarray) -> LimeResult:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        segments = segment_face(rgb, self.segmentation, self.n_segments, self.random_state)
        # a fresh explainer per face: the same face gives the same explanation whatever came before
        explainer = _BatchedLimeImageExplainer(random_state=self.random_state)
        exp = explainer.explain_instance(
            rgb,
            self._classifier_fn,
            labels=(1,),
            top_labels=None,
            hide_color=None,  # a switched-off superpixel takes its mean colour
            num_samples=self.num_samples,
            batch_size=self.batch_size,
            segmentation_fn=lambda _: segments,
        )
        weights = np.zeros(int(segments.max()) + 1, dtype=np.float64)
        for seg, w in exp.local_exp[1]:
            weights[seg] = w
        top = np.argsort(-np.abs(weights), kind="stable")[: self.top_k]
        mask = np.zeros(segments.shape, dtype=np.int8)
        for seg in top:
            mask[segments == seg] = 1 if weights[seg] > 0 else -1
        fit_r2 = exp.score[1] if isinstance(exp.score, dict) else exp.score  # a dict per label in later lime releases
        return LimeResult(segments, weights, top, mask, render_lime(rgb, segments, mask), float(fit_r2))


def render_lime(rgb: np.ndarray, segments: np.ndarray, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Tint the chosen superpixels red (toward FAKE) or green (toward REAL) and outline them."""
    out = rgb.astype(np.float32)
    for sign, colour in ((1, FAKE_RGB), (-1, REAL_RGB)):
        sel = mask == sign
        out[sel] = (1 - alpha) * out[sel] + alpha * colour
    chosen = np.where(mask != 0, segments, -1)
    edges = find_boundaries(chosen, mode="inner") & (mask != 0)
    out[edges] = np.where(mask[edges, None] > 0, FAKE_RGB, REAL_RGB)
    return np.clip(out, 0, 255).astype(np.uint8)
