"""Class-activation maps without PyTorch, and the choice of CAM explainer for a detector.

For the bundled detector (and any model with a global-average-pool + linear
head exported by fakelens) the ONNX file has a second output, the class
activation map, which for such a head equals Grad-CAM on the last feature map
(see :class:`fakelens.export.exporter.LogitAndCam`). :class:`OnnxCam` reads
it in the same forward pass, so explanations need no PyTorch. Other variants
(Grad-CAM++, Score-CAM, ...) or other layers go through pytorch-grad-cam
(``fakelens.explain.gradcam.GradCam``, training install); :func:`fakelens.explain.methods.make_cam_explainer`
picks between them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Selectable variants -> pytorch-grad-cam class names. All of them are driven
#: by the FAKE target; EigenCAM-style maps that ignore the target are left out.
CAM_VARIANTS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "xgradcam": "XGradCAM",
    "hirescam": "HiResCAM",
    "layercam": "LayerCAM",
    "eigengradcam": "EigenGradCAM",
    "scorecam": "ScoreCAM",  # one forward pass per channel: accurate, but seconds per image
}


def check_cam_variant(name: str) -> str:
    key = str(name).lower()
    if key not in CAM_VARIANTS:
        raise ValueError(f"unknown Grad-CAM variant {name!r}; choose one of: {', '.join(CAM_VARIANTS)}")
    return key


def scale_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each map shifted to min 0, divided by its max and resized to ``size`` (h, w), as pytorch-grad-cam does."""
    out = []
    for m in np.asarray(maps, dtype=np.float32):
        m = m - m.min()
        m = m / (1e-7 + m.max())
        # Pillow's bilinear upscaling clamps at the border like OpenCV's INTER_LINEAR, which pytorch-grad-cam uses.
        out.append(np.asarray(Image.fromarray(m.astype(np.float32), mode="F").resize((size[1], size[0]), Image.BILINEAR)))
    return np.stack(out).astype(np.float32) if out else np.zeros((0, *size), np.float32)


class OnnxCam:
    """``OnnxCam(detector)(batch)`` -> ``NxHxW`` maps in [0, 1] from the export's ``cam`` output."""

    method = "gradcam"
    layer_name = "last feature map (CAM output of the ONNX export)"

    def __init__(self, detector):
        self.detector = detector

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch, dtype=np.float32)
        if len(batch) == 0:
            return np.zeros((0, *batch.shape[-2:]), dtype=np.float32)
        _, maps = self.detector.runner.run_with_cam(batch)
        return scale_maps(maps, batch.shape[-2:])

    def __repr__(self) -> str:
        return "OnnxCam()"


def cam_overlay(rgb: np.ndarray, heatmap: np.ndarray, image_weight: float = 0.5) -> np.ndarray:
    """The heatmap in the jet colour map, half over the face (pytorch-grad-cam's ``show_cam_on_image`` rendering)."""
    from matplotlib import colormaps

    colour = colormaps["jet"](np.uint8(255 * np.clip(heatmap, 0, 1)))[..., :3].astype(np.float32)
    cam = (1 - image_weight) * colour + image_weight * (rgb.astype(np.float32) / 255)
    return np.uint8(255 * cam / np.max(cam))
