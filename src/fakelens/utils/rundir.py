"""The files of a run folder (a trained detector and what training and evaluation left beside it), named once.

A run folder is trusted input: its ``detector.json`` is validated and its weights load without pickle, but the
hash that ties ``model.onnx`` to ``model.safetensors`` is written by whoever made the folder (docs/threat-model.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DETECTOR_CONFIG = "detector.json"
WEIGHTS = "model.safetensors"
ONNX = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
MODEL_CARD = "MODEL_CARD.md"
SPLIT = "split.csv"
SOURCES = "sources.json"
TRAIN_CONFIG = "config.json"
METRICS = "metrics.json"
HISTORY = "history.csv"
CALIBRATION = "calibration.json"
CHECKPOINTS = "checkpoints"
EVAL = "eval"
PREDICTIONS = "predictions.csv"


@dataclass(frozen=True)
class RunDir:
    """``RunDir("runs/lite0").weights`` -> ``runs/lite0/model.safetensors``; nothing is read or created."""

    path: Path

    def __init__(self, path: str | os.PathLike):
        object.__setattr__(self, "path", Path(path))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return str(self.path)

    detector_config = property(lambda self: self.path / DETECTOR_CONFIG)
    weights = property(lambda self: self.path / WEIGHTS)
    onnx = property(lambda self: self.path / ONNX)
    onnx_int8 = property(lambda self: self.path / ONNX_INT8)
    model_card = property(lambda self: self.path / MODEL_CARD)
    split = property(lambda self: self.path / SPLIT)
    sources = property(lambda self: self.path / SOURCES)
    train_config = property(lambda self: self.path / TRAIN_CONFIG)
    metrics = property(lambda self: self.path / METRICS)
    history = property(lambda self: self.path / HISTORY)
    calibration = property(lambda self: self.path / CALIBRATION)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    eval_dir = property(lambda self: self.path / EVAL)
    eval_metrics = property(lambda self: self.path / EVAL / METRICS)
    eval_predictions = property(lambda self: self.path / EVAL / PREDICTIONS)

    def split_file(self) -> Path | None:
        """The run's split: ``split.csv``, or the bundled detector's compressed ``split.csv.gz``; None if neither."""
        return next((p for p in (self.split, self.path / (SPLIT + ".gz")) if p.is_file()), None)

    def is_trained(self) -> bool:
        return self.detector_config.is_file() and self.weights.is_file()
