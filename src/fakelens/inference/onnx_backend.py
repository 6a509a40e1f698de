"""The two inference backends: ONNX Runtime (about 4x PyTorch eager on a 2-core CPU) and PyTorch.

Both take the normalised NCHW float32 batch as a NumPy array and return the raw
FAKE logits, and both are safe to call from many threads at once (ONNX
Runtime's ``run`` is; a PyTorch module in eval mode under ``inference_mode``
keeps no state between calls). This module imports neither engine at import
time: the runtime install has no PyTorch.

An exported ONNX file carries, in its metadata, the hash of the weights it was
made from (:func:`weights_digest`): an export that does not match the weights
beside it is ignored rather than silently used (:func:`open_matching_onnx`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Mapping

import numpy as np

from ..utils.rundir import ONNX as ONNX_FILE
from ..utils.rundir import ONNX_INT8 as INT8_FILE
from ..utils.rundir import WEIGHTS as WEIGHTS_FILE

EXPORT_VERSION = 4  # 2: static 'SAME' padding; 3: weights hash in the metadata, CAM output; 4: pooled features output
DIGEST_KEY = "fakelens_weights_sha256"
CAM_OUTPUT = "cam"
FEATURES_OUTPUT = "features"
#: Faces per single-thread call when a batch is split across threads (2-4 measured best on the 2-core CPU).
DEFAULT_CHUNK = 4


class NoFeaturesError(ValueError):
    """The model cannot give its pooled features (an export from before they were an output, or a head that is not pool + linear)."""


def weights_digest(state: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes (NumPy arrays, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        arr = np.ascontiguousarray(state[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def file_weights_digest(weights: str | os.PathLike) -> str:
    """:func:`weights_digest` of a safetensors file, read with NumPy (no PyTorch needed)."""
    from safetensors.numpy import load_file

    return weights_digest(load_file(str(weights)))


def open_matching_onnx(folder: str | os.PathLike | None, on_error: str = "skip", threads: int | None = None) -> "OnnxRunner | None":
    """An ONNX Runtime session for the export beside the weights that was made from them (int8 first, if it passed its check).

    The weights hash is read from the export's metadata through ONNX Runtime, so
    this needs neither the ``onnx`` package nor PyTorch. ``on_error``: ``skip`` a
    file that cannot be opened (with a warning) or ``raise``. ``threads``: ONNX
    Runtime's threads per call (default: every core this process may use).
    """
    if folder is None:
        return None
    folder = Path(folder)
    weights = folder / WEIGHTS_FILE
    want = None
    for name in (INT8_FILE, ONNX_FILE):
        path = folder / name
        if not path.is_file():
            continue
        try:
            runner = OnnxRunner(path, threads)
        except Exception as exc:  # noqa: BLE001 - a corrupt or truncated export
            if on_error == "raise":
                raise ValueError(f"{path}: the ONNX model cannot be loaded ({exc.__class__.__name__})") from None
            import warnings

            warnings.warn(f"{path.name}: the ONNX model cannot be loaded ({exc.__class__.__name__}); using PyTorch", stacklevel=3)
            continue
        if want is None and weights.is_file():
            want = file_weights_digest(weights)
        if runner.weights_digest is not None and (want is None or runner.weights_digest == want):
            return runner
    return None


#: Who makes an ONNX export when none is beside the weights (``backend="onnx"``). This room never imports the
#: exporter (it needs PyTorch): the ``fakelens.onnx_exporters`` entry point (pyproject.toml) names it, and it is
#: loaded where it can be (the training install); :func:`register_onnx_exporter` adds one by hand.
ONNX_EXPORTERS: list = []
EXPORTER_ENTRY_POINTS = "fakelens.onnx_exporters"


def register_onnx_exporter(export) -> None:
    """``export(detector) -> path of an .onnx file`` made from the detector's weights."""
    if export not in ONNX_EXPORTERS:
        ONNX_EXPORTERS.append(export)


def onnx_exporters() -> list:
    """The exporters registered, and those the installed packages declare whose code can load here."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=EXPORTER_ENTRY_POINTS):
        try:
            register_onnx_exporter(ep.load())
        except ImportError:  # the light runtime: no PyTorch, so no exporter
            continue
    return ONNX_EXPORTERS


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class OnnxRunner:
    """An ONNX Runtime session: ``run(batch)`` -> logits; ``run_with_cam(batch)`` -> (logits, maps) and
    ``run_with_features(batch)`` -> (logits, pooled features) where exported.

    A batch of at least ``2 * chunk`` faces is cut into chunks of ``chunk`` that
    run ``threads`` at a time, one ONNX Runtime thread each; a smaller batch is one
    call on every thread. On the 2-core CPU the split scores 10-15% more faces a
    second than one two-thread call (model pass 105 against 92, end to end 98
    against 89 for the fused default before its shrink was banded:
    ``benchmarks/onnx_threading.py``, ``docs/experiments.md``): a
    small chunk keeps each layer's activations in cache, and one call leaves a
    core idle in much of the graph. ``chunk=0`` turns the split off.
    """

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, chunk: int = DEFAULT_CHUNK):
        if chunk < 0:
            raise ValueError(f"chunk must be >= 0 (0: no split), got {chunk}")
        self.path = str(path)
        self.threads = threads or default_threads()
        self.chunk = chunk
        self.session = _open_session(self.path, self.threads)
        self.input_name = self.session.get_inputs()[0].name
        # The hash of the weights this export was made from (None for an export without one).
        self.weights_digest = self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)
        outputs = [o.name for o in self.session.get_outputs()]
        self.logit_name = outputs[0]
        self.has_cam = CAM_OUTPUT in outputs
        self.has_features = FEATURES_OUTPUT in outputs
        self._split_lock = threading.Lock()
        self._single_thread_session = None  # opened on the first batch large enough to split
        self._pool = None

    def _splits(self, n: int) -> bool:
        return self.chunk > 0 and self.threads > 1 and n >= 2 * self.chunk

    def _split_runner(self):
        with self._split_lock:
            if self._single_thread_session is None:
                from concurrent.futures import ThreadPoolExecutor

                self._single_thread_session = _open_session(self.path, 1)
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="onnx")
            return self._single_thread_session, self._pool

    def _run(self, names: list[str], batch: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if not self._splits(len(x)):
            return self.session.run(names, {self.input_name: x})
        session, pool = self._split_runner()
        parts = list(pool.map(lambda i: session.run(names, {self.input_name: x[i : i + self.chunk]}), range(0, len(x), self.chunk)))
        return [np.concatenate([part[k] for part in parts]) for k in range(len(names))]

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._run([self.logit_name], batch)[0].reshape(-1).astype(np.float32)

    def run_with_cam(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and the class-activation maps (``N x h x w``, before any scaling) in one pass."""
        if not self.has_cam:
            raise ValueError(f"{self.path}: this export has no {CAM_OUTPUT!r} output (re-export it with fakelens >= 0.2)")
        logits, cam = self._run([self.logit_name, CAM_OUTPUT], batch)
        return logits.reshape(-1).astype(np.float32), cam

    def run_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and the pooled features the classifier reads (``N x C``) in one pass."""
        if not self.has_features:
            raise NoFeaturesError(
                f"{self.path}: this export has no {FEATURES_OUTPUT!r} output; re-export it with "
                f"'fakelens export RUN --format onnx' (fakelens >= 0.2, export version {EXPORT_VERSION})"
            )
        logits, features = self._run([self.logit_name, FEATURES_OUTPUT], batch)
        return logits.reshape(-1).astype(np.float32), features.astype(np.float32)


def _open_session(path: str, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # errors only: the graph clean-up warnings mean nothing to a user
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


class TorchRunner:
    """A PyTorch model behind the same ``run(batch)`` as :class:`OnnxRunner`."""

    name = "torch"
    has_cam = False

    def __init__(self, model):
        self.model = model.eval()

    def run(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            # channels_last: PyTorch's CPU convolutions run about 1/3 faster in that layout.
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).contiguous(memory_format=torch.channels_last)
            return self.model(x).reshape(-1).float().numpy()

    def run_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and the pooled features, for timm models with a global-average-pool + linear head."""
        import torch

        from ..models.factory import has_cam_head, logit_cam_features

        if not has_cam_head(self.model):
            raise NoFeaturesError(
                f"{type(self.model).__name__}: its head is not pooling + one linear layer, so it has no pooled features to adapt"
            )
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).contiguous(memory_format=torch.channels_last)
            logits, _, features = logit_cam_features(self.model, x)
            return logits.float().numpy(), features.float().numpy()
