"""The detector: weights + preprocessing + threshold + calibration, in one object.

predict, evaluate, explain, export and the service all go through a
:class:`Detector`; none of them re-implements preprocessing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
from scipy.special import expit

from .. import __version__
from ..data.imageio import ImageInput, open_image
from ..data.sources import LABEL_NAMES
from ..data.transforms import PreprocessConfig, normalize_uint8, normalize_uint8_numpy, resize_square
from ..errors import ImageReadError, RunDirError
from ..models import create_model, get_model_spec
from ..utils.atomic import atomic_path, write_json

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "detector.json"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "weights"


class Detector:
    """Scores face crops: ``predict_proba(images)`` returns calibrated P(FAKE)."""

    def __init__(
        self,
        model: nn.Module,
        model_name: str,
        preprocess: PreprocessConfig | None = None,
        threshold: float = 0.5,
        temperature: float = 1.0,
        info: dict | None = None,
        tta: bool = False,
    ):
        self.model = model.eval()
        self.model_name = model_name
        self.preprocess = preprocess or get_model_spec(model_name).preprocess
        self.threshold = float(threshold)
        self.temperature = float(temperature)
        self.info = dict(info or {})
        # Test-time augmentation: average the logits of each face and its mirror image.
        # It costs twice the compute, so it is on only where a detector is saved with it
        # (the bundled default is) or asked for.
        self.tta = bool(tta)
        self.source: str | None = None
        self.backend = "torch"
        self._runner = None  # an ONNX Runtime session when backend == "onnx"

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_dir(cls, path: str | os.PathLike, backend: str = "auto") -> "Detector":
        """Load from a run folder (or any folder with ``model.safetensors`` + ``detector.json``)."""
        path = Path(path)
        cfg_path, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
        if not path.is_dir():
            raise RunDirError(f"{path}: no such run folder")
        if not cfg_path.is_file() or not weights.is_file():
            raise RunDirError(f"{path}: not a trained run (needs {CONFIG_FILE} and {WEIGHTS_FILE}; has training finished?)")
        # Untrusted run folder: the JSON, the weights and an ONNX file beside them are checked
        # (detector_config.py); a bad one raises RunDirError with one line, not a traceback.
        from .detector_config import DetectorConfig, load_weights, use_backend

        cfg = DetectorConfig.load(cfg_path)
        model = create_model(cfg.model)
        load_weights(model, weights, cfg.model)
        det = cls(model, cfg.model, cfg.preprocess.to_preprocess_config(), threshold=cfg.threshold,
                  temperature=cfg.temperature, info=cfg.info, tta=cfg.tta)
        det.source = str(path)
        use_backend(det, backend)
        return det

    @classmethod
    def default(cls, backend: str = "auto") -> "Detector":
        """The detector bundled with fakelens."""
        if not (DEFAULT_DIR / WEIGHTS_FILE).is_file():
            raise RunDirError(
                "no default detector is bundled with this install; train one with "
                "'fakelens train ...' and pass --run RUN_DIR"
            )
        if backend != "auto":
            return cls.from_dir(DEFAULT_DIR, backend=backend)
        det = cls.from_dir(DEFAULT_DIR, backend="torch")
        try:  # ONNX Runtime is ~4x faster on CPU: export once into the user cache, reuse after
            det.set_backend("onnx")
        except Exception as exc:  # noqa: BLE001 - e.g. a read-only home: PyTorch still works
            import warnings

            warnings.warn(f"ONNX Runtime unavailable for the default detector, using PyTorch: {exc}", stacklevel=2)
            det.set_backend("torch")
        return det

    def save(self, path: str | os.PathLike) -> None:
        """Write ``model.safetensors`` and ``detector.json`` atomically."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        with atomic_path(path / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"model": self.model_name})
        write_json(path / CONFIG_FILE, self.config())

    def config(self) -> dict:
        return {
            "model": self.model_name,
            "preprocess": self.preprocess.to_dict(),
            "threshold": self.threshold,
            "temperature": self.temperature,
            "tta": self.tta,
            "fakelens_version": __version__,
            "info": self.info,
        }

    # ----------------------------------------------------------------- backends
    def set_backend(self, backend: str = "auto") -> "Detector":
        """``torch``, ``onnx`` or ``auto`` (ONNX Runtime when an exported model is beside the weights)."""
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown backend {backend!r}; choose auto, torch or onnx")
        self._runner, self.backend = None, "torch"
        if backend in ("auto", "onnx"):
            from .onnx_backend import OnnxRunner, find_onnx

            onnx_path = find_onnx(self.source) if self.source else None
            if onnx_path is None and backend == "onnx":
                onnx_path = OnnxRunner.export_cached(self)
            if onnx_path is not None:
                self._runner, self.backend = OnnxRunner(onnx_path), "onnx"
        return self

    # ----------------------------------------------------------------- scoring
    def to_batch(self, images: Sequence[ImageInput]) -> torch.Tensor:
        """Decode and preprocess images into the model's input tensor."""
        return self.arrays_to_batch([self.decode(im) for im in images])

    def arrays_to_batch(self, arrays: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
        """uint8 ``HxWx3`` arrays at the model's input size -> the normalised NCHW batch."""
        faces = np.asarray(arrays, dtype=np.uint8) if isinstance(arrays, np.ndarray) else np.stack(arrays).astype(np.uint8, copy=False)
        if self._runner is not None:
            # ONNX Runtime wants contiguous NCHW float32; made in NumPy so that no PyTorch op
            # (and so no spinning OpenMP thread) sits in its hot path.
            return torch.from_numpy(normalize_uint8_numpy(faces, self.preprocess))
        # PyTorch takes the NHWC memory as a channels-last NCHW view, and its CPU convolutions
        # run faster in that layout (about 1/3 less time for efficientnet_lite0).
        return normalize_uint8(torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2), self.preprocess)

    def logits(self, batch: torch.Tensor) -> np.ndarray:
        """Raw (uncalibrated) FAKE logits for a preprocessed batch (averaged with the mirror image under TTA)."""
        if self.tta:
            return (self._forward(batch) + self._forward(batch, mirror=True)) / 2
        return self._forward(batch)

    def _forward(self, batch: torch.Tensor, mirror: bool = False) -> np.ndarray:
        if self._runner is not None:  # NumPy only: no PyTorch op in ONNX Runtime's hot path
            x = batch.numpy()
            return self._runner.run(x[..., ::-1] if mirror else x)
        with torch.inference_mode():
            return self.model(torch.flip(batch, dims=[3]) if mirror else batch).reshape(-1).float().numpy()

    def proba_from_logits(self, logits: np.ndarray) -> np.ndarray:
        return expit(np.asarray(logits, dtype=np.float64) / self.temperature)

    def predict_proba(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """Calibrated P(FAKE) for each image; raises :class:`ImageReadError` on an unreadable one."""
        out = [self.proba_from_logits(self.logits(self.to_batch(images[i : i + batch_size]))) for i in range(0, len(images), batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def predict(self, images: Sequence[ImageInput], batch_size: int = 32) -> np.ndarray:
        """0 = REAL, 1 = FAKE at the stored threshold."""
        return (self.predict_proba(images, batch_size) >= self.threshold).astype(int)

    def label(self, prob_fake: float) -> str:
        return LABEL_NAMES[int(prob_fake >= self.threshold)]

    def decode(self, source: ImageInput) -> np.ndarray:
        """One image -> uint8 HxWx3 at the model's input size (thread-safe; PIL releases the GIL)."""
        size = self.preprocess.image_size
        return np.asarray(resize_square(open_image(source, draft_size=size), size))

    def score_files(self, paths: Iterable[str], batch_size: int = 32, progress: bool = False, decode_threads: int = 2) -> list[dict]:
        """One row per file: ``path, prob_fake, label, error``; unreadable files get an error, the rest go on.

        Decoding runs in a thread pool one batch ahead of inference, so the
        JPEG decoder and the model overlap.
        """
        from concurrent.futures import ThreadPoolExecutor

        from tqdm.auto import tqdm

        paths = [str(p) for p in paths]
        rows: list[dict | None] = [None] * len(paths)

        def decode_safe(i: int):
            try:
                return i, self.decode(paths[i]), None
            except ImageReadError as exc:
                return i, None, str(exc)

        def score_decoded(decoded) -> None:
            good = [(i, arr) for i, arr, err in decoded if err is None]
            for i, _, err in decoded:
                if err is not None:
                    rows[i] = {"path": paths[i], "prob_fake": None, "label": None, "error": err}
            if good:
                probs = self.proba_from_logits(self.logits(self.arrays_to_batch([a for _, a in good])))
                for (i, _), q in zip(good, probs):
                    rows[i] = {"path": paths[i], "prob_fake": round(float(q), 6), "label": self.label(q), "error": ""}

        if len(paths) <= batch_size:  # a single batch: no pool to start, the lowest latency
            score_decoded([decode_safe(i) for i in range(len(paths))])
            return rows
        starts = list(range(0, len(paths), batch_size))
        bar = tqdm(total=len(paths), desc="scoring", unit="img", disable=not progress)
        with ThreadPoolExecutor(max_workers=max(1, decode_threads)) as pool:
            submit = lambda s: [pool.submit(decode_safe, i) for i in range(s, min(s + batch_size, len(paths)))]  # noqa: E731
            pending = submit(starts[0])
            for k in range(len(starts)):
                decoded = [f.result() for f in pending]
                pending = submit(starts[k + 1]) if k + 1 < len(starts) else []
                score_decoded(decoded)
                bar.update(len(decoded))
        bar.close()
        return rows

    def __repr__(self) -> str:
        return (
            f"Detector(model={self.model_name!r}, image_size={self.preprocess.image_size}, "
            f"threshold={self.threshold:.3f}, temperature={self.temperature:.3f}, backend={self.backend!r}"
            + (", tta=True)" if self.tta else ")")
        )


def load(run: str | os.PathLike | None = None, backend: str = "auto", tta: bool | None = None) -> Detector:
    """``fakelens.load()``: the bundled default detector, or the one in ``run``.

    ``tta``: mirror-image test-time augmentation on or off (None: as the detector was saved).
    """
    det = Detector.default(backend) if run is None else Detector.from_dir(run, backend)
    if tta is not None:
        det.tta = bool(tta)
    return det
