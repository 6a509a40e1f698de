"""Why did the detector say FAKE? Grad-CAM and LIME per face, each with a faithfulness check.

>>> import fakelens
>>> from fakelens.explain import explain
>>> detector = fakelens.load("runs/lite0")
>>> (e,) = explain(detector, ["face.jpg"], methods="all", cam="gradcam++")
>>> e.label, e.prob_fake, e.gradcam.heatmap.shape, e.faithfulness["lime"].score
"""
from .api import METHODS, explain, explain_faces, explain_files, resolve_methods
from .cam import CAM_VARIANTS, OnnxCam, make_cam_explainer
from .faithfulness import Faithfulness, deletion_faithfulness
from .lime_explainer import SEGMENTATIONS, LimeExplainer, LimeResult
from .results import CamResult, Explanation


def __getattr__(name: str):
    # GradCam needs PyTorch: imported on first use, so the runtime install can explain without it.
    if name == "GradCam":
        from .gradcam import GradCam

        return GradCam
    raise AttributeError(name)

__all__ = [
    "CAM_VARIANTS", "METHODS", "SEGMENTATIONS", "CamResult", "Explanation", "Faithfulness", "GradCam", "OnnxCam",
    "LimeExplainer", "LimeResult", "deletion_faithfulness", "explain", "explain_faces", "explain_files",
    "make_cam_explainer", "resolve_methods",
]
