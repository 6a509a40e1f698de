"""Why did the detector say FAKE? Grad-CAM and LIME per face, each with a faithfulness check.

>>> import fakelens
>>> from fakelens.explain import explain
>>> detector = fakelens.load("runs/lite0")
>>> (e,) = explain(detector, ["face.jpg"], methods="all", cam="gradcam++")
>>> e.label, e.prob_fake, e.gradcam.heatmap.shape, e.faithfulness["lime"].score

The options live in an :class:`ExplainConfig` (the keywords above build one);
each method is a class in the :data:`EXPLAIN_METHODS` registry
(:class:`CamMethod`, :class:`LimeMethod`) that fills its part of an :class:`Explanation`:

>>> config = ExplainConfig(methods="all", cam="gradcam++", lime_samples=300)
>>> explanations = explain(detector, ["face.jpg"], config)
"""

from .api import explain, explain_faces, explain_files
from .cam import CAM_VARIANTS, OnnxCam
from .config import ExplainConfig
from .faithfulness import Faithfulness, deletion_faithfulness
from .lime_explainer import SEGMENTATIONS, LimeExplainer, LimeResult
from .methods import EXPLAIN_METHODS, METHODS, CamMethod, ExplainMethod, LimeMethod, make_cam_explainer, make_methods, resolve_methods
from .results import CamResult, Explanation


def __getattr__(name: str):
    # GradCam needs PyTorch: imported on first use, so the runtime install can explain without it.
    if name == "GradCam":
        from .gradcam import GradCam

        return GradCam
    raise AttributeError(name)


__all__ = [
    "CAM_VARIANTS",
    "EXPLAIN_METHODS",
    "METHODS",
    "SEGMENTATIONS",
    "CamMethod",
    "CamResult",
    "ExplainConfig",
    "ExplainMethod",
    "Explanation",
    "Faithfulness",
    "GradCam",
    "LimeExplainer",
    "LimeMethod",
    "LimeResult",
    "OnnxCam",
    "deletion_faithfulness",
    "explain",
    "explain_faces",
    "explain_files",
    "make_cam_explainer",
    "make_methods",
    "resolve_methods",
]
