"""ONNX Runtime inference: about 4x PyTorch eager on a 2-core CPU."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

ONNX_FILE = "model.onnx"
EXPORT_VERSION = 2  # 2: static 'SAME' padding


def find_onnx(folder: str | os.PathLike | None) -> Path | None:
    """The exported model beside the weights: int8 if it passed its accuracy check, else fp32."""
    if folder is None:
        return None
    weights = Path(folder) / "model.safetensors"
    for name in ("model.int8.onnx", ONNX_FILE):
        path = Path(folder) / name
        # A stale export (older than the weights) is ignored rather than silently used.
        if path.is_file() and (not weights.is_file() or path.stat().st_mtime >= weights.stat().st_mtime):
            return path
    return None


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class OnnxRunner:
    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: the graph clean-up warnings mean nothing to a user
        self.path = str(path)
        self.session = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return out.reshape(-1).astype(np.float32)

    @staticmethod
    def export_cached(detector) -> Path:
        """Export ``detector`` once into a user cache folder keyed by its weights."""
        from .export import export_onnx

        digest = hashlib.sha256()
        for k, v in detector.model.state_dict().items():
            digest.update(k.encode())
            digest.update(v.detach().cpu().numpy().tobytes()[:4096])
        cache = Path(os.environ.get("FAKELENS_CACHE", Path.home() / ".cache" / "fakelens")) / "onnx"
        # EXPORT_VERSION changes whenever the exported graph does, so old caches are not reused.
        path = cache / f"{detector.model_name}-{digest.hexdigest()[:16]}-{detector.preprocess.image_size}-v{EXPORT_VERSION}.onnx"
        if not path.is_file():
            export_onnx(detector, path)
        return path
