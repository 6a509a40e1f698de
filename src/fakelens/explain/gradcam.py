"""Class-activation maps of the FAKE logit, through pytorch-grad-cam.

Every zoo model has one output, the FAKE log-odds, so the target is
``ClassifierOutputTarget(0)``: the map shows what pushes the verdict toward
FAKE, whatever the verdict is. The layer comes from the model's registry entry
(``ModelSpec.gradcam_layer``), so from-scratch and timm models are handled the
same way.
"""

from __future__ import annotations

import contextlib
import io
import threading
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn

from ..inference.detector import Detector
from ..models import get_model_spec, get_submodule
from .cam import CAM_VARIANTS, check_cam_variant

# pytorch-grad-cam records activations with forward hooks on the model; two explanations
# running at once on one model would see each other's activations. (Predictions never
# share that model: explainers use the detector's private copy, Detector.explain_model().)
_HOOK_LOCK = threading.Lock()


class GradCam:
    """``GradCam(model, "features.3")(batch)`` -> ``NxHxW`` float32 maps in [0, 1] of evidence for FAKE.

    Each map is scaled to its own maximum (pytorch-grad-cam's convention), so
    it says *where* the evidence is, not how strong it is; an image with no
    positive evidence gets an all-zero map.
    """

    def __init__(self, model: nn.Module, target_layer: str, method: str = "gradcam", batch_size: int = 16):
        self.method = check_cam_variant(method)
        self.layer_name = target_layer
        self.model = model
        self.layer = get_submodule(model, target_layer)
        self.batch_size = int(batch_size)

    @classmethod
    def for_detector(cls, detector: Detector, method: str = "gradcam", target_layer: str | None = None) -> "GradCam":
        """A private copy of the detector's torch model (also when it scores through ONNX Runtime) at its registry layer.

        The copy keeps Grad-CAM's hooks out of the model that other threads predict with.
        """
        method = check_cam_variant(method)
        if target_layer is None:
            try:
                target_layer = get_model_spec(detector.model_name).gradcam_layer
            except ValueError as exc:
                raise ValueError(f"{exc}; pass target_layer= to name the layer Grad-CAM should use") from None
        try:
            get_submodule(detector.model, target_layer)
        except ValueError as exc:
            raise ValueError(f"{detector.model_name}: {exc}; pass target_layer= with an existing conv layer") from None
        return cls(detector.explain_model(), target_layer, method)

    def __call__(self, batch) -> np.ndarray:
        """``batch``: the normalised NCHW batch the model takes (a NumPy array or a tensor)."""
        if not isinstance(batch, torch.Tensor):
            batch = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        if len(batch) == 0:
            return np.zeros((0, *batch.shape[-2:]), dtype=np.float32)
        # imported here, not at the top: pytorch-grad-cam pulls in OpenCV and ttach,
        # seconds of start-up that `fakelens predict` and the service need not pay
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        cam_class = getattr(pytorch_grad_cam, CAM_VARIANTS[self.method])
        maps = []
        was_training = self.model.training
        with _HOOK_LOCK, _gradients_to_input_only(self.model), _require_feature_map(self.layer, self.layer_name):
            try:
                with cam_class(model=self.model, target_layers=[self.layer]) as cam, torch.enable_grad(), _quiet_progress(self.method):
                    cam.batch_size = 64  # ScoreCAM's masked copies per forward pass (its default is 16)
                    for start in range(0, len(batch), self.batch_size):
                        chunk = batch[start : start + self.batch_size].detach().clone().requires_grad_(True)
                        maps.append(cam(input_tensor=chunk, targets=[ClassifierOutputTarget(0)] * len(chunk)))
            finally:
                self.model.train(was_training)  # BaseCAM switches to eval; a detector's model already is
        return np.nan_to_num(np.concatenate(maps).astype(np.float32, copy=False), nan=0.0)

    def __repr__(self) -> str:
        return f"GradCam(method={self.method!r}, layer={self.layer_name!r})"


@contextlib.contextmanager
def _gradients_to_input_only(model: nn.Module) -> Iterator[None]:
    """Let gradients flow to the input but not into the weights.

    The map only needs d(logit)/d(activation). Not computing weight gradients
    makes the backward pass cheaper and leaves no ``.grad`` tensors behind on a
    detector that is shared (service, batch jobs); the input is made to require
    grad instead, so frozen backbones work too.
    """
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


@contextlib.contextmanager
def _require_feature_map(layer: nn.Module, name: str) -> Iterator[None]:
    """Fail with a plain message when the target layer does not output an NxCxHxW tensor.

    Registered before pytorch-grad-cam's own hooks so it runs first; theirs
    would fail on a tuple or a flat vector with a message about shapes only.
    """

    def check(module, inputs, output):
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise ValueError(
                f"Grad-CAM layer {name!r} outputs {shape}; it needs a 4-D (N, C, H, W) feature map, such as the last conv block"
            )

    handle = layer.register_forward_hook(check)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def _quiet_progress(method: str) -> Iterator[None]:
    """ScoreCAM draws a tqdm bar for every image; keep command-line output readable."""
    if method != "scorecam":
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield
