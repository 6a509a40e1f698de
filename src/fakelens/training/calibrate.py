"""The calibrate step after training: TTA choice, temperature, threshold and verdict bands, on validation data.

Everything is fitted with the setting that will ship: test-time augmentation
is chosen on validation (on only where it raises validation ROC-AUC), and the
temperature, the binary threshold and the REAL / UNCERTAIN / FAKE bands are
then fitted on the logits of that same setting. Validation is every source's
validation part (``split.csv``), so the bands hold across sources, not on DFDC
alone; per-source figures are kept for the model card.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.split import read_split_csv
from ..errors import RunDirError
from ..evaluation.calibration import choose_threshold, fit_temperature
from ..evaluation.metrics import compute_metrics, verdict_metrics
from ..inference.calibration import fit_bands, sigmoid

#: TTA doubles the compute; it ships only if it buys at least this much validation ROC-AUC.
TTA_MIN_GAIN = 0.002


def mirrored_logits(detector, samples, batch_size: int = 64, num_workers: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw logits of each face and of its mirror image, the labels and the indices of the readable samples."""
    from ..data.dataset import FaceCropDataset, make_loader
    from ..data.transforms import eval_transform
    from ..evaluation.evaluate import collect_logits

    loader = make_loader(FaceCropDataset(samples, eval_transform(detector.preprocess)), batch_size, False, num_workers)
    runner = detector.runner

    def both(x) -> np.ndarray:
        x = np.asarray(x.numpy(), dtype=np.float32)
        return np.stack([runner.run(x), runner.run(np.ascontiguousarray(x[..., ::-1]))], axis=1).reshape(-1)

    flat, labels, indices, _ = collect_logits(both, loader, desc="calibrate")
    # collect_logits flattens; each sample contributed two values (plain, mirrored)
    pairs = flat.reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1], labels, indices


def calibrate(detector, samples, tta: bool | None = None, precision: float = 0.9, max_real_called_fake: float = 0.03,
              num_workers: int = 1, per_source: bool = True) -> dict:
    """Fit and set the detector's calibration on ``samples`` (validation); returns what was fitted and measured.

    ``per_source``: the FAKE band keeps at most ``max_real_called_fake`` of each source's real faces
    (not only of all of them pooled) at FAKE.
    """
    from ..inference.calibration import Calibration

    plain, mirror, labels, indices = mirrored_logits(detector, samples, num_workers=num_workers)
    auc = {False: compute_metrics(labels, sigmoid(plain))["roc_auc"], True: compute_metrics(labels, sigmoid((plain + mirror) / 2))["roc_auc"]}
    if tta is None:
        tta = bool(auc[True] is not None and auc[False] is not None and auc[True] >= auc[False] + TTA_MIN_GAIN)
    logits = (plain + mirror) / 2 if tta else plain
    temperature = fit_temperature(logits, labels)
    probs = sigmoid(logits / temperature)
    threshold = choose_threshold(labels, probs)
    sources = np.asarray([samples[i].source for i in indices])
    bands = fit_bands(labels, probs, precision, max_real_called_fake, sources=sources if per_source else None)
    detector.calibration = Calibration(temperature, threshold, tta, bands)
    by_source = {}
    for name in dict.fromkeys(sources):
        mask = sources == name
        by_source[name or "data"] = _with_bands(compute_metrics(labels[mask], probs[mask], threshold), labels[mask], probs[mask], bands)
    return {
        "tta": tta,
        "val_roc_auc_without_tta": auc[False],
        "val_roc_auc_with_tta": auc[True],
        "temperature": temperature,
        "threshold": threshold,
        "bands": bands.to_dict(),
        "val": _with_bands(compute_metrics(labels, probs, threshold), labels, probs, bands),
        "val_ece_before_calibration": compute_metrics(labels, sigmoid(logits), threshold)["ece"],
        "val_by_source": by_source,
    }


def _with_bands(metrics: dict, labels, probs, bands) -> dict:
    return {**metrics, **verdict_metrics(labels, probs, bands)}


def calibrate_run(run_dir: str | os.PathLike, tta: bool | None = None, precision: float = 0.9, max_real_called_fake: float = 0.03,
                  num_workers: int = 1, per_source: bool = True) -> dict:
    """``fakelens calibrate RUN``: refit the run's calibration on its validation split and save ``detector.json``."""
    from ..inference.detector import CONFIG_FILE, load
    from ..utils.atomic import write_json

    run_dir = Path(run_dir)
    if not (run_dir / "split.csv").is_file():
        raise RunDirError(f"{run_dir}: no split.csv, so no validation data to calibrate on")
    detector = load(run_dir)
    samples, splits = read_split_csv(run_dir / "split.csv")
    val = [s for s, sp in zip(samples, splits) if sp == "val"]
    fitted = calibrate(detector, val, tta, precision, max_real_called_fake, num_workers, per_source)
    detector.info["calibration"] = {k: v for k, v in fitted.items() if k not in ("val",)}
    detector.info["val"] = fitted["val"]
    write_json(run_dir / CONFIG_FILE, detector.config())
    write_json(run_dir / "calibration.json", fitted)
    return fitted
