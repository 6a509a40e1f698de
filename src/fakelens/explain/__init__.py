"""Why did the detector say FAKE? Grad-CAM and LIME per face, each with a faithfulness check.

>>> import fakelens
>>> from fakelens.explain import explain
>>> detector = fakelens.load("runs/lite0")
>>> (e,) = explain(detector, ["face.jpg"], methods="all", cam="gradcam++")
>>> e.label, e.prob_fake, e.gradcam.heatmap.shape, e.faithfulness["lime"].score
"""
from .api import METHODS, CamResult, Explanation, explain, explain_faces, explain_files, resolve_methods
from .faithfulness import Faithfulness, deletion_faithfulness
from .gradcam import CAM_VARIANTS, GradCam
from .lime_explainer import SEGMENTATIONS, LimeExplainer, LimeResult

__all__ = [
    "CAM_VARIANTS", "METHODS", "SEGMENTATIONS", "CamResult", "Explanation", "Faithfulness", "GradCam",
    "LimeExplainer", "LimeResult", "deletion_faithfulness", "explain", "explain_faces", "explain_files",
    "resolve_methods",
]
