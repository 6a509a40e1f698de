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
from ..data.transforms import PreprocessConfig, images_to_batch
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
    ):
        self.model = model.eval()
        self.model_name = model_name
        self.preprocess = preprocess or get_model_spec(model_name).preprocess
        self.threshold = float(threshold)
        self.temperature = float(temperature)
        self.info = dict(info or {})
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
        cfg = json.loads(cfg_path.read_text())
        from safetensors.torch import load_file

        model = create_model(cfg["model"])
        model.load_state_dict(load_file(str(weights)))
        det = cls(
            model,
            cfg["model"],
            PreprocessConfig.from_dict(cfg["preprocess"]),
            threshold=cfg.get("threshold", 0.5),
            temperature=cfg.get("temperature", 1.0),
            info=cfg.get("info", {}),
        )
        det.source = str(path)
        det.set_backend(backend)
        return det

    @classmethod
    def default(cls, backend: str = "auto") -> "Detector":
        """The detector bundled with fakelens."""
        if not (DEFAULT_DIR / WEIGHTS_FILE).is_file():
            raise RunDirError(
                "no default detector is bundled with this install; train one with "
                "'fakelens train ...' and pass --run RUN_DIR"
            )
        return cls.from_dir(DEFAULT_DIR, backend=backend)

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
        return images_to_batch([open_image(im) for im in images], self.preprocess)

    @torch.inference_mode()
    def logits(self, batch: torch.Tensor) -> np.ndarray:
        """Raw (uncalibrated) FAKE logits for a preprocessed batch."""
        if self._runner is not None:
            return self._runner.run(batch.numpy())
        return self.model(batch).reshape(-1).float().numpy()

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

    def score_files(self, paths: Iterable[str], batch_size: int = 32, progress: bool = False) -> list[dict]:
        """One row per file: ``path, prob_fake, label, error``; unreadable files get an error, the rest go on."""
        from tqdm.auto import tqdm

        paths = [str(p) for p in paths]
        rows: list[dict | None] = [None] * len(paths)
        bar = tqdm(total=len(paths), desc="scoring", unit="img", disable=not progress)
        for start in range(0, len(paths), batch_size):
            images, good = [], []
            for i in range(start, min(start + batch_size, len(paths))):
                try:
                    images.append(open_image(paths[i]))
                    good.append(i)
                except ImageReadError as exc:
                    rows[i] = {"path": paths[i], "prob_fake": None, "label": None, "error": str(exc)}
            if images:
                probs = self.proba_from_logits(self.logits(images_to_batch(images, self.preprocess)))
                for i, q in zip(good, probs):
                    rows[i] = {"path": paths[i], "prob_fake": round(float(q), 6), "label": self.label(q), "error": ""}
            bar.update(min(batch_size, len(paths) - start))
        bar.close()
        return rows

    def __repr__(self) -> str:
        return (
            f"Detector(model={self.model_name!r}, image_size={self.preprocess.image_size}, "
            f"threshold={self.threshold:.3f}, temperature={self.temperature:.3f}, backend={self.backend!r})"
        )


def load(run: str | os.PathLike | None = None, backend: str = "auto") -> Detector:
    """``fakelens.load()``: the bundled default detector, or the one in ``run``."""
    return Detector.default(backend) if run is None else Detector.from_dir(run, backend)
