"""One class per explanation method, and the registry :func:`~fakelens.explain.explain` runs them from.

A method is built from ``(detector, config)``: building it checks what it
needs (the Grad-CAM layer exists, ...) before any image is read. Its
:meth:`~ExplainMethod.fill` takes explanations that already hold the face
(``e.rgb``, the model's input size) and the verdict (``e.prob_fake``), and adds
the method's own part: its result and, when ``config.faithfulness``, its
deletion check under ``e.faithfulness[name]``.

>>> cam = CamMethod(detector, ExplainConfig(cam="gradcam++"))
>>> cam.fill(explanations)            # sets e.gradcam and e.faithfulness["gradcam"]

Adding a method is adding a subclass (with a ``name``) to :data:`EXPLAIN_METHODS`;
its options go into :class:`~fakelens.explain.config.ExplainConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Sequence

import numpy as np

from ..inference.tta import apply_view, undo_view
from ._scoring import score_faces
from .cam import OnnxCam, cam_overlay, check_cam_variant
from .config import METHOD_NAMES, ExplainConfig, resolve_methods  # noqa: F401  (resolve_methods: re-exported)
from .faithfulness import deletion_faithfulness, random_segment_masks, shifted_masks, top_fraction_mask
from .lime_explainer import LimeExplainer
from .results import CamResult, Explanation

if TYPE_CHECKING:
    from ..inference.detector import Detector


def make_cam_explainer(detector, method: str = "gradcam", target_layer: str | None = None):
    """The cheapest explainer that computes the asked-for map: the ONNX CAM output where it applies, else pytorch-grad-cam."""
    method = check_cam_variant(method)
    if method == "gradcam" and target_layer is None and getattr(detector.runner, "has_cam", False):
        return OnnxCam(detector)
    from .gradcam import GradCam

    return GradCam.for_detector(detector, method, target_layer)


class ExplainMethod:
    """The interface: ``Method(detector, config)``, then ``method.fill(explanations, rngs)``."""

    #: the key in :data:`EXPLAIN_METHODS`, in ``config.methods`` and in ``Explanation.faithfulness``
    name: ClassVar[str]

    def __init__(self, detector: "Detector", config: "ExplainConfig | None" = None):
        self.detector = detector
        self.config = ExplainConfig() if config is None else config

    def fill(self, explanations: Sequence[Explanation], rngs: Sequence[np.random.Generator] | None = None) -> None:
        """Add this method's result (and its faithfulness check) to each explanation, in place.

        ``rngs``: one generator per face for the random regions of the
        faithfulness check. :func:`~fakelens.explain.explain` passes the same
        generators to every method in turn, so a face's random regions do not
        depend on the batch it is in; None gives each face a fresh
        ``default_rng(config.random_state)``.
        """
        raise NotImplementedError

    def _rngs(self, explanations: Sequence[Explanation], rngs: Sequence[np.random.Generator] | None):
        if rngs is None:
            return [np.random.default_rng(self.config.random_state) for _ in explanations]
        if len(rngs) != len(explanations):
            raise ValueError(f"got {len(rngs)} random generators for {len(explanations)} explanations")
        return rngs

    def _score(self, faces: np.ndarray) -> np.ndarray:
        """P(FAKE) of perturbed faces, through the detector itself (the numbers ``predict`` gives)."""
        return score_faces(self.detector, faces)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CamMethod(ExplainMethod):
    """Grad-CAM (or the variant ``config.cam``) at ``config.target_layer``: ``e.gradcam``, a map of the evidence for FAKE.

    The map comes from the ONNX export's CAM output where that computes it, else
    from pytorch-grad-cam on a private copy of the detector's torch model. With
    ``detector.tta`` the verdict averages the face and its test-time views (the
    mirror image, a zoomed view), and so does the map, view by view mapped back
    onto the face. The faithfulness check removes the ``cam_region_fraction``
    hottest pixels; a map that is zero everywhere ranks nothing and gets none.
    """

    name = "gradcam"

    def __init__(self, detector: "Detector", config: "ExplainConfig | None" = None):
        super().__init__(detector, config)
        self.explainer = make_cam_explainer(detector, self.config.cam, self.config.target_layer)

    def heatmaps(self, faces: np.ndarray) -> np.ndarray:
        """``NxHxW`` maps in [0, 1] for uint8 ``NxHxWx3`` faces at the model's input size."""
        batch = self.detector.arrays_to_batch(faces)
        total = np.asarray(self.explainer(batch), dtype=np.float32)
        seen = np.ones(total.shape[-2:], dtype=np.float32)
        # The verdict averages the face and its test-time views, so the map does too: each view's map is put
        # back on the face's own pixels, and each pixel averages the views that saw it.
        for view in self.detector.views:
            heat, covered = undo_view(view, self.explainer(apply_view(view, batch)))
            total, seen = total + heat, seen + covered
        return total / seen

    def fill(self, explanations: Sequence[Explanation], rngs: Sequence[np.random.Generator] | None = None) -> None:
        if not len(explanations):
            return
        rngs = self._rngs(explanations, rngs)
        cfg = self.config
        heatmaps = self.heatmaps(np.stack([e.rgb for e in explanations]))  # one batch: Grad-CAM runs batched
        for e, heat, rng in zip(explanations, heatmaps, rngs):
            e.gradcam = CamResult(self.explainer.method, self.explainer.layer_name, heat, cam_overlay(e.rgb, heat))
            if cfg.faithfulness and heat.max() > 0:  # an all-zero map ranks nothing above anything else
                region = top_fraction_mask(heat, cfg.cam_region_fraction)
                e.faithfulness[self.name] = deletion_faithfulness(
                    self._score, e.rgb, region, shifted_masks(region, cfg.n_random, rng), e.prob_fake
                )

    def __repr__(self) -> str:
        return f"CamMethod({self.explainer!r})"


class LimeMethod(ExplainMethod):
    """LIME on superpixels: ``e.lime``, each superpixel's push toward FAKE or REAL.

    The faithfulness check removes the ``top_k`` superpixels pushing hardest
    toward FAKE and compares with ``top_k`` superpixels drawn at random.
    """

    name = "lime"

    def __init__(self, detector: "Detector", config: "ExplainConfig | None" = None):
        super().__init__(detector, config)
        cfg = self.config
        self.explainer = LimeExplainer(detector, cfg.lime_samples, cfg.top_k, cfg.segmentation, random_state=cfg.random_state)

    def fill(self, explanations: Sequence[Explanation], rngs: Sequence[np.random.Generator] | None = None) -> None:
        rngs = self._rngs(explanations, rngs)
        cfg = self.config
        for e, rng in zip(explanations, rngs):
            e.lime = self.explainer(e.rgb)
            if cfg.faithfulness:
                region = e.lime.fake_region(cfg.top_k)
                baseline = random_segment_masks(e.lime.segments, cfg.top_k, cfg.n_random, rng)
                e.faithfulness[self.name] = deletion_faithfulness(self._score, e.rgb, region, baseline, e.prob_fake)

    def __repr__(self) -> str:
        cfg = self.config
        return f"LimeMethod(samples={cfg.lime_samples}, top_k={cfg.top_k}, segmentation={cfg.segmentation!r})"


#: name -> method class; the order is the order methods run in and are listed in.
EXPLAIN_METHODS: dict[str, type[ExplainMethod]] = {cls.name: cls for cls in (CamMethod, LimeMethod)}
if tuple(EXPLAIN_METHODS) != METHOD_NAMES:  # a method class added here needs its name in config.METHOD_NAMES
    raise ImportError(f"explain methods {tuple(EXPLAIN_METHODS)} do not match config.METHOD_NAMES {METHOD_NAMES}")
METHODS = METHOD_NAMES


def make_methods(detector: "Detector", config: "ExplainConfig") -> list[ExplainMethod]:
    """The method objects ``config.methods`` names, built (and so checked) in order."""
    unknown = [m for m in config.methods if m not in EXPLAIN_METHODS]
    if unknown:
        raise ValueError(f"unknown explanation method {unknown[0]!r}; choose one of: {', '.join(EXPLAIN_METHODS)}, all")
    return [EXPLAIN_METHODS[name](detector, config) for name in config.methods]
