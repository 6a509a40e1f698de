"""Evaluate a detector on the test split of its run, or on any other dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.dataset import FaceCropDataset, make_loader
from ..data.split import read_split_csv
from ..data.transforms import eval_transform
from ..errors import RunDirError
from ..sources import Sample, load_samples
from ..stats.metrics import compute_metrics, verdict_metrics
from ..utils.atomic import write_csv, write_json
from ..utils.rundir import METRICS, PREDICTIONS, RunDir
from .plots import plot_confusion, plot_reliability, plot_roc


def collect_logits(logit_fn: Callable[[torch.Tensor], np.ndarray], loader, max_batches: int | None = None, desc: str = "eval"):
    """Run ``logit_fn`` over a loader; returns (logits, labels, sample indices, indices of unreadable samples)."""
    logits, labels, indices, skipped = [], [], [], []
    total = len(loader) if max_batches is None else min(len(loader), max_batches)
    with torch.inference_mode():
        for b, (x, y, idx, n_bad) in enumerate(tqdm(loader, total=total, desc=desc, unit="batch", leave=False)):
            if max_batches is not None and b >= max_batches:
                break
            skipped += list(n_bad)
            if x is None:
                continue
            logits.append(np.asarray(logit_fn(x), dtype=np.float64).reshape(-1))
            labels.append(y.numpy())
            indices.append(idx.numpy())
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    return cat(logits, np.float64), cat(labels, int), cat(indices, int), skipped


def score_samples(detector, samples: list[Sample], batch_size: int = 64, num_workers: int = 1, desc: str = "eval"):
    """Calibrated P(FAKE) for dataset samples, decoding in worker processes."""
    loader = make_loader(FaceCropDataset(samples, eval_transform(detector.preprocess)), batch_size, False, num_workers)
    logits, labels, indices, unreadable = collect_logits(detector.logits, loader, desc=desc)
    return detector.proba_from_logits(logits), labels, indices, len(unreadable)


def evaluate_run(
    run_dir: str | os.PathLike,
    data: str | None = None,
    out: str | None = None,
    split: str = "test",
    batch_size: int = 64,
    num_workers: int = 1,
    backend: str = "auto",
    tta: bool | None = None,
) -> dict:
    """Metrics, predictions and plots for a trained run on its test split (or on ``data``)."""
    from ..inference.detector import CONFIG_FILE, load
    from ..inference.detector_config import DetectorConfig

    run_dir = Path(run_dir)
    detector = load(run_dir, backend=backend, tta=tta)
    if data:
        samples = load_samples(data)
        name = Path(data).name
    else:
        split_csv = RunDir(run_dir).split
        if not split_csv.is_file():
            raise RunDirError(f"{run_dir}: no split.csv; pass --data to evaluate on another dataset")
        all_samples, splits = read_split_csv(split_csv)
        samples = [s for s, sp in zip(all_samples, splits) if sp == split]
        name = split
    # The detector's own setting (as shipped) goes to eval/; only an override of its TTA choice gets a suffix.
    saved_tta = DetectorConfig.load(run_dir / CONFIG_FILE).tta
    suffix = "" if detector.tta == saved_tta else ("-tta" if detector.tta else "-notta")
    out_dir = Path(out) if out else run_dir / (("eval" if data is None else f"eval-{name}") + suffix)
    probs, labels, indices, skipped = score_samples(detector, samples, batch_size, num_workers, desc=f"evaluate {name}")
    metrics = compute_metrics(labels, probs, detector.threshold)
    if detector.calibration.bands is not None:
        metrics.update(verdict_metrics(labels, probs, detector.calibration.bands))
    metrics.update(
        {
            "dataset": str(data or RunDir(run_dir).split),
            "split": None if data else split,
            "skipped_unreadable": skipped,
            "model": detector.model_name,
            "backend": detector.backend,
            "tta": detector.tta,
        }
    )
    write_json(out_dir / METRICS, metrics)
    write_csv(
        out_dir / PREDICTIONS,
        (
            {"path": samples[i].path, "label": samples[i].label, "group": samples[i].group, "prob_fake": round(float(p), 6)}
            for i, p in zip(indices, probs)
        ),
        ["path", "label", "group", "prob_fake"],
    )
    plot_roc({detector.model_name: (labels, probs)}, out_dir / "roc.png", title=f"ROC: {detector.model_name} on {name}")
    plot_confusion(metrics["confusion_matrix"], out_dir / "confusion.png", title=f"{detector.model_name} @ {detector.threshold:.2f}")
    plot_reliability(labels, probs, out_dir / "reliability.png", title=f"Reliability (ECE {metrics['ece']:.3f})")
    return metrics
