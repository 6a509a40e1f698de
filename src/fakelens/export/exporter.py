"""Export a detector to ONNX, with its preprocessing constants beside it."""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..errors import FakelensError
from ..inference.onnx_backend import (
    CAM_OUTPUT,
    DIGEST_KEY,
    EXPORT_VERSION,
    FEATURES_OUTPUT,
    ONNX_FILE,
    OnnxRunner,
    TorchRunner,
    file_weights_digest,
    weights_digest,
)
from ..models.factory import has_cam_head, logit_cam_features
from ..utils.atomic import atomic_path, write_json
from ..utils.rundir import RunDir


class LogitAndCam(nn.Module):
    """The model's FAKE logit, its class-activation map and its pooled features, for models with a global-average-pool + linear head.

    For such a head, Grad-CAM on the last feature map equals CAM (Zhou et al. 2016):
    the gradient of the logit with respect to feature map k is the constant
    ``w_k / (h*w)``, so Grad-CAM's weighted sum is ``sum_k w_k A_k`` up to a
    positive factor, and both are scaled to [0, 1] per map. Exported as a second
    output, the map costs no extra pass and needs no PyTorch at run time.

    The third output is the pooled vector the classifier reads (``logit = w . features + b``):
    ``fakelens adapt`` fits a small head on it without PyTorch.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        logit, cam, features = logit_cam_features(self.model, x)
        return logit, torch.relu(cam), features


def export_onnx(detector, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``path`` atomically; the graph takes a normalised NCHW float batch and returns FAKE logits.

    Models with a pooling + linear head also output ``cam``, their class-activation
    map, and ``features``, the pooled vector their classifier reads. The file's metadata records the hash of the weights it was made from.
    """
    import onnx

    path = Path(path)
    size = detector.preprocess.image_size
    model = static_same_padding(detector.model.eval(), size)
    with_cam = has_cam_head(model)
    graph = LogitAndCam(model).eval() if with_cam else model
    outputs = ["logit", CAM_OUTPUT, FEATURES_OUTPUT] if with_cam else ["logit"]
    axes = {"input": {0: "batch"}, **{o: {0: "batch"} for o in outputs}}
    dummy = torch.zeros(2, 3, size, size)
    stored = detector.weights_file
    half = stored is not None and stored_in_half_precision(stored)
    with atomic_path(path) as tmp, torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # the exporter's notes on constant folding are about its own graph passes, not the user's model
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            # The TorchScript exporter is quick and gives ONNX Runtime a lean graph for timm models.
            torch.onnx.export(
                graph,
                (dummy,),
                str(tmp),
                input_names=["input"],
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
                # folded batch norms would be rounded to half precision after folding, away from what PyTorch
                # computes; unfolded, the stored tensors stay as they are and ONNX Runtime folds them in float32
                do_constant_folding=not half,
            )
        except Exception:  # noqa: BLE001 - e.g. adaptive pooling to a size that does not divide the input
            torch.onnx.export(
                graph,
                (dummy,),
                str(tmp),
                input_names=["input"],
                output_names=outputs,
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                verbose=False,
            )
        proto = onnx.load(str(tmp))
        if half:
            proto = half_precision_initializers(proto)
        # the hash of the weights as stored (what open_matching_onnx compares), or as held for a detector in memory
        if stored is not None:
            digest = file_weights_digest(stored)
        else:
            digest = weights_digest({k: v.detach().cpu().numpy() for k, v in detector.model.state_dict().items()})
        onnx.helper.set_model_props(proto, {DIGEST_KEY: digest})
        onnx.save(proto, str(tmp))
    return path


def stored_in_half_precision(weights: str | os.PathLike) -> bool:
    """True when every floating-point tensor of a safetensors file is float16 (a fused run's, ``fakelens fuse``)."""
    from safetensors import safe_open

    with safe_open(str(weights), "numpy") as fh:
        dtypes = {fh.get_slice(k).get_dtype() for k in fh.keys()}
    floats = {d for d in dtypes if d.startswith(("F", "BF"))}
    return floats == {"F16"}


def half_precision_initializers(proto, min_elements: int = 64):
    """Store the graph's float32 weights as float16, each behind a Cast back to float32.

    The file halves; ONNX Runtime folds the casts into float32 constants when it loads the graph, so it computes
    exactly what PyTorch computes with the same half-precision weights loaded into float32. Small tensors (shapes,
    scalars) stay as they are.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts, kept = [], []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            kept.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
        kept.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=init.name + "__to_fp32"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(proto)
    return proto


def export_cached(detector) -> Path:
    """Export ``detector`` once into a user cache folder keyed by the hash of all its weights."""

    digest = weights_digest({k: v.detach().cpu().numpy() for k, v in detector.model.state_dict().items()})
    cache = Path(os.environ.get("FAKELENS_CACHE", Path.home() / ".cache" / "fakelens")) / "onnx"
    # EXPORT_VERSION changes whenever the exported graph does, so old caches are not reused.
    path = cache / f"{detector.model_name}-{digest[:16]}-{detector.preprocess.image_size}-v{EXPORT_VERSION}.onnx"
    if not path.is_file():
        export_onnx(detector, path)
    return path


def static_same_padding(model: nn.Module, image_size: int) -> nn.Module:
    """A copy of ``model`` whose TF-style 'SAME' convolutions pad by constants.

    timm's ``Conv2dSame`` (the tf_efficientnet_lite* stride-2 convs) works out its padding from the
    input shape on every call, which exports as ~15 Shape/Gather/Ceil/Pad nodes per conv and stops
    ONNX Runtime from fusing the pad into the convolution. The detector's input size is fixed, so
    the padding is known: record it once and bake it in. Returns ``model`` itself when it has none.
    """
    from timm.layers.conv2d_same import Conv2dSame
    from timm.layers.padding import pad_same_arg

    if not any(isinstance(m, Conv2dSame) for m in model.modules()):
        return model
    model = copy.deepcopy(model).eval()
    pads: dict[str, list[int]] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, Conv2dSame):

            def record(mod, args, name=name):
                pads[name] = pad_same_arg(args[0].shape[-2:], mod.weight.shape[-2:], mod.stride, mod.dilation)

            hooks.append(m.register_forward_pre_hook(record))
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size))
    for h in hooks:
        h.remove()
    for name, pad in pads.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        conv = getattr(parent, child)
        static = nn.Conv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation, conv.groups, conv.bias is not None
        )
        static.weight, static.bias = conv.weight, conv.bias
        left, right, top, bottom = pad
        if left == right and top == bottom:
            static.padding = (top, left)
            setattr(parent, child, static)
        else:
            setattr(parent, child, nn.Sequential(nn.ZeroPad2d(pad), static))
    return model


class ExportParityError(FakelensError, RuntimeError):
    """The exported model's probabilities differ from PyTorch's by more than the tolerance."""


def export_run(detector, out_dir: str | os.PathLike, check_batch: np.ndarray | None = None, tolerance: float = 1e-3) -> dict:
    """Export into ``out_dir`` (``model.onnx`` + ``detector.json``) and enforce parity with PyTorch.

    Raises :class:`ExportParityError` (and removes the export) when any P(fake)
    on the check batch differs by more than ``tolerance``.
    """

    out_dir = Path(out_dir)
    onnx_path = export_onnx(detector, out_dir / ONNX_FILE)
    if check_batch is None:
        size = detector.preprocess.image_size
        check_batch = np.random.default_rng(0).standard_normal((8, 3, size, size)).astype(np.float32)
    check_batch = np.asarray(check_batch, dtype=np.float32)
    ref = detector.calibration.proba(TorchRunner(detector.model).run(check_batch))
    got = detector.calibration.proba(OnnxRunner(onnx_path).run(check_batch))
    max_diff = float(np.max(np.abs(ref - got)))
    if max_diff > tolerance:
        onnx_path.unlink(missing_ok=True)
        raise ExportParityError(f"ONNX export differs from PyTorch by {max_diff:.2e} in P(fake) (tolerance {tolerance:.0e}); not kept")
    if not RunDir(out_dir).detector_config.exists():
        write_json(RunDir(out_dir).detector_config, detector.config())
    return {"onnx": str(onnx_path), "max_abs_prob_diff": max_diff}
