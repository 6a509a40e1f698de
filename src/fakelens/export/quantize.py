"""Optional int8 quantization (ONNX Runtime static QDQ), kept only if it costs
at most ``max_drop`` accuracy points on the validation split and runs faster than
the float export on this machine.

Why the speed check: int8 is not always faster, and the loader prefers
``model.int8.onnx``. The shipped fusion's QDQ graph ran at 14 images/s against
float32's 39 on a 2-core AMD EPYC with AVX-512 VNNI (2026-12-07, beside a
training job), and cost 5 points of validation accuracy."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..data.split import read_split_csv
from ..imaging.preprocess import batched
from ..inference.onnx_backend import INT8_FILE, ONNX_FILE, OnnxRunner
from ..stats.metrics import compute_metrics
from ..utils.atomic import atomic_path, write_json
from ..utils.rundir import RunDir


class _BatchReader:
    """Feeds calibration batches to onnxruntime's quantizer."""

    def __init__(self, batches: list[np.ndarray], input_name: str):
        self._it = iter([{input_name: b} for b in batches])

    def get_next(self):
        return next(self._it, None)


def _val_batches(detector, samples, batch_size: int = 32) -> tuple[list[np.ndarray], np.ndarray]:
    """Preprocessed validation batches (the one preprocessing path) and their labels."""
    batches = [detector.to_batch([s.path for s in chunk]) for chunk in batched(samples, batch_size)]
    return batches, np.asarray([s.label for s in samples])


def _timed_logits(runner, batches: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Logits of every batch and the images per second of the pass (after one warm-up batch)."""
    runner.run(batches[0])
    start = time.perf_counter()
    logits = np.concatenate([runner.run(b) for b in batches])
    return logits, len(logits) / max(time.perf_counter() - start, 1e-9)


def quantize_run(
    detector,
    run_dir: str | os.PathLike,
    calibration_images: int = 256,
    eval_images: int | None = None,
    max_drop: float = 0.005,
    min_speedup: float = 1.0,
) -> dict:
    """Quantize ``run_dir/model.onnx`` with validation images; keep ``model.int8.onnx`` only if it costs at most
    ``max_drop`` of validation accuracy and runs at least ``min_speedup`` times as many images per second."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    run_dir = Path(run_dir)
    fp32 = run_dir / ONNX_FILE
    if not fp32.is_file():
        from .exporter import export_onnx

        export_onnx(detector, fp32)
    samples, splits = read_split_csv(RunDir(run_dir).split)
    val = [s for s, sp in zip(samples, splits) if sp == "val"]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(val))
    calib = [val[i] for i in order[:calibration_images]]
    evaluated = [val[i] for i in order[: eval_images or len(val)]]
    runner = OnnxRunner(fp32)
    calib_batches, _ = _val_batches(detector, calib)
    out = run_dir / INT8_FILE
    with atomic_path(out) as tmp:
        quantize_static(
            str(fp32),
            str(tmp),
            _BatchReader(calib_batches, runner.input_name),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
        )
    int8 = OnnxRunner(out)
    batches, labels = _val_batches(detector, evaluated)
    logits32, speed32 = _timed_logits(runner, batches)
    logits8, speed8 = _timed_logits(int8, batches)
    p32, p8 = detector.proba_from_logits(logits32), detector.proba_from_logits(logits8)
    acc32 = compute_metrics(labels, p32, detector.threshold)["accuracy"]
    acc8 = compute_metrics(labels, p8, detector.threshold)["accuracy"]
    speedup = speed8 / speed32
    accurate, fast = acc32 - acc8 <= max_drop, speedup >= min_speedup
    kept = accurate and fast
    if not kept:
        out.unlink()
    report = {
        "val_images": len(labels),
        "fp32_accuracy": acc32,
        "int8_accuracy": acc8,
        "drop_points": round(100 * (acc32 - acc8), 3),
        "max_abs_prob_diff": float(np.max(np.abs(p32 - p8))),
        "fp32_images_per_s": round(speed32, 1),
        "int8_images_per_s": round(speed8, 1),
        "speedup": speedup,  # unrounded: the value the decision read
        "kept": kept,
        "rejected_for": [] if kept else [why for why, ok in (("accuracy", accurate), ("speed", fast)) if not ok],
        "int8_model": str(out) if kept else None,
    }
    write_json(run_dir / "quantization.json", report)
    return report
