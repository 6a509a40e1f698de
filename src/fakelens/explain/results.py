"""What an explanation holds: arrays for notebooks and the service, ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .faithfulness import Faithfulness
from .lime_explainer import LimeResult


@dataclass
class CamResult:
    method: str  # the Grad-CAM variant, e.g. "gradcam++"
    layer: str  # the model layer it looked at
    heatmap: np.ndarray  # HxW float32 in [0, 1]: where the evidence for FAKE is
    overlay: np.ndarray  # HxWx3 uint8: the heatmap (jet) over the face


@dataclass
class Explanation:
    """Everything about one face's verdict and why; ``to_dict()`` gives the JSON-friendly part."""

    source: str | None
    rgb: np.ndarray  # HxWx3 uint8: the face as the model saw it (its input size)
    prob_fake: float
    label: str
    gradcam: CamResult | None = None
    lime: LimeResult | None = None
    faithfulness: dict[str, Faithfulness] = field(default_factory=dict)  # method -> deletion check
    face_box: tuple[int, int, int, int] | None = None  # where the face sits in a whole photo, when known
    bands: dict | None = None  # where the verdict's bands sit on the P(fake) scale ({"real_below", "fake_from"})
    evidence: list = field(default_factory=list)  # the file's own provenance (EvidenceItem), when read from a file
    # A detector that aligns faces: ``rgb`` and the maps are the face as given, ``model_input`` the aligned face
    # the model saw, ``alignment`` the roll and scale undone (imaging.align.Alignment.to_dict()).
    model_input: np.ndarray | None = None
    alignment: dict | None = None

    def to_dict(self) -> dict:
        d: dict = {"source": self.source, "prob_fake": round(float(self.prob_fake), 6), "verdict": self.label}
        if self.face_box is not None:
            d["face_box"] = [int(v) for v in self.face_box]
        if self.alignment is not None:
            d["alignment"] = dict(self.alignment)
        if self.gradcam is not None:
            d["gradcam"] = {"method": self.gradcam.method, "layer": self.gradcam.layer}
        if self.lime is not None:
            top = self.lime.top_segments
            d["lime"] = {
                "top_segments": [int(s) for s in top],
                "top_weights": [round(float(w), 6) for w in self.lime.weights[top]],
                "fit_r2": round(self.lime.fit_r2, 6),
            }
        if self.evidence:
            d["evidence"] = [item.to_dict() for item in self.evidence]
        for method, check in self.faithfulness.items():
            d.setdefault(method, {})["faithfulness"] = check.to_dict()
        return d


def onto_face_as_given(e: Explanation, face: np.ndarray, alignment) -> None:
    """Move an explanation made on the aligned face onto the face as given (the same size): the maps are warped
    back with the alignment's inverse (:func:`fakelens.imaging.align.unalign_map`) and the overlays redrawn."""
    from dataclasses import replace

    from ..imaging.align import unalign_map
    from .cam import cam_overlay
    from .lime_explainer import render_lime

    e.model_input, e.rgb, e.alignment = e.rgb, face, alignment.to_dict()
    if e.gradcam is not None:
        heat = np.clip(unalign_map(e.gradcam.heatmap, alignment), 0.0, 1.0).astype(np.float32)
        e.gradcam = replace(e.gradcam, heatmap=heat, overlay=cam_overlay(face, heat))
    if e.lime is not None:
        segments = unalign_map(e.lime.segments, alignment, nearest=True)
        mask = unalign_map(e.lime.mask, alignment, nearest=True)
        e.lime = replace(e.lime, segments=segments, mask=mask, overlay=render_lime(face, segments, mask))
