"""Export a detector to ONNX, with its preprocessing constants beside it."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..utils.atomic import atomic_path, write_json


def export_onnx(detector, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``path`` atomically; the graph takes a normalised NCHW float batch and returns FAKE logits."""
    path = Path(path)
    size = detector.preprocess.image_size
    model = detector.model.eval()
    dummy = torch.zeros(2, 3, size, size)
    with atomic_path(path) as tmp, torch.inference_mode(False), torch.no_grad():
        try:
            # The TorchScript exporter is quick and gives ONNX Runtime a lean graph for timm models.
            torch.onnx.export(model, (dummy,), str(tmp), input_names=["input"], output_names=["logit"],
                              dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}}, opset_version=opset, dynamo=False)
        except Exception:  # noqa: BLE001 - e.g. adaptive pooling to a size that does not divide the input
            torch.onnx.export(model, (dummy,), str(tmp), input_names=["input"], output_names=["logit"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, verbose=False)
    return path


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
