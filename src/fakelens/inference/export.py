"""Export a detector to ONNX, with its preprocessing constants beside it."""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..utils.atomic import atomic_path, write_json


def export_onnx(detector, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``path`` atomically; the graph takes a normalised NCHW float batch and returns FAKE logits."""
    path = Path(path)
    size = detector.preprocess.image_size
    model = static_same_padding(detector.model.eval(), size)
    dummy = torch.zeros(2, 3, size, size)
    with atomic_path(path) as tmp, torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # the exporter's notes on constant folding are about its own graph passes, not the user's model
        warnings.simplefilter("ignore", UserWarning)
        try:
            # The TorchScript exporter is quick and gives ONNX Runtime a lean graph for timm models.
            torch.onnx.export(model, (dummy,), str(tmp), input_names=["input"], output_names=["logit"],
                              dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}}, opset_version=opset, dynamo=False)
        except Exception:  # noqa: BLE001 - e.g. adaptive pooling to a size that does not divide the input
            torch.onnx.export(model, (dummy,), str(tmp), input_names=["input"], output_names=["logit"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, verbose=False)
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
        static = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0,
                           conv.dilation, conv.groups, conv.bias is not None)
        static.weight, static.bias = conv.weight, conv.bias
        left, right, top, bottom = pad
        if left == right and top == bottom:
            static.padding = (top, left)
            setattr(parent, child, static)
        else:
            setattr(parent, child, nn.Sequential(nn.ZeroPad2d(pad), static))
    return model


def export_run(detector, out_dir: str | os.PathLike, check_batch: torch.Tensor | None = None) -> dict:
    """Export into ``out_dir`` (``model.onnx`` + ``detector.json``) and check parity with PyTorch."""
    from .onnx_backend import ONNX_FILE, OnnxRunner

    out_dir = Path(out_dir)
    onnx_path = export_onnx(detector, out_dir / ONNX_FILE)
    if check_batch is None:
        gen = torch.Generator().manual_seed(0)
        check_batch = torch.randn(8, 3, detector.preprocess.image_size, detector.preprocess.image_size, generator=gen)
    with torch.inference_mode():
        ref = detector.proba_from_logits(detector.model(check_batch).reshape(-1).numpy())
    got = detector.proba_from_logits(OnnxRunner(onnx_path).run(check_batch.numpy()))
    max_diff = float(np.max(np.abs(ref - got)))
    if not (out_dir / "detector.json").exists():
        write_json(out_dir / "detector.json", detector.config())
    return {"onnx": str(onnx_path), "max_abs_prob_diff": max_diff}
