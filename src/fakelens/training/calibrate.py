"""The calibrate step after training: TTA choice, temperature, threshold and verdict bands, on validation data.

Everything is fitted with the setting that will ship: test-time augmentation
(which views of each face are averaged with it) is chosen on validation (more
views only where they raise validation ROC-AUC), and the
temperature, the binary threshold and the REAL / UNCERTAIN / FAKE bands are
then fitted on the logits of that same setting. Validation is every source's
validation part (``split.csv``), so the bands hold across sources, not on DFDC
alone; per-source figures are kept for the model card.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.multisource import SourceSpec, source_side
from ..data.split import read_split_csv
from ..errors import RunDirError
from ..inference.tta import VIEW_SETS, VIEWS, apply_view
from ..sources import Sample
from ..stats.calibration import choose_threshold, fit_bands, fit_temperature
from ..stats.metrics import compute_metrics, verdict_metrics
from ..utils.numeric import sigmoid
from ..utils.rundir import RunDir

#: Each view costs one more pass of the model; more views ship only if they buy at least this much validation ROC-AUC.
TTA_MIN_GAIN = 0.002

#: The key of "no test-time views" in :func:`view_logits`' result.
FACE = "face"


def view_logits(
    detector, samples, views=VIEWS, batch_size: int = 64, num_workers: int = 1
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Raw logits of each face (key ``face``) and of each of its ``views``, the labels and the indices of the readable samples."""
    from ..data.dataset import FaceCropDataset, make_loader
    from ..data.transforms import eval_transform
    from ..evaluation.evaluate import collect_logits

    loader = make_loader(FaceCropDataset(samples, eval_transform(detector.preprocess)), batch_size, False, num_workers)
    runner, names = detector.runner, (FACE, *views)

    def every_view(x) -> np.ndarray:
        x = np.asarray(x.numpy(), dtype=np.float32)
        return np.stack([runner.run(x)] + [runner.run(apply_view(v, x)) for v in views], axis=1).reshape(-1)

    flat, labels, indices, _ = collect_logits(every_view, loader, desc="calibrate")
    # collect_logits flattens; each sample contributed one value per name
    per_view = flat.reshape(-1, len(names))
    return {name: per_view[:, k] for k, name in enumerate(names)}, labels, indices


def mean_logits(logits: dict[str, np.ndarray], views: tuple[str, ...]) -> np.ndarray:
    """The logits the detector gives with these test-time views: the mean over the face and its views."""
    return np.mean([logits[FACE]] + [logits[v] for v in views], axis=0)


def choose_views(auc: dict[tuple[str, ...], float | None]) -> tuple[str, ...]:
    """The view set to ship, from validation ROC-AUC per set, in the order given (cheapest first).

    The first set is the baseline. A set with more views replaces the chosen one
    only if it gains at least :data:`TTA_MIN_GAIN`; one with as many views, if it
    scores higher at all.
    """
    sets = list(auc)
    chosen = sets[0]
    for views in sets[1:]:
        if auc[views] is None or auc[chosen] is None:
            continue
        margin = TTA_MIN_GAIN if len(views) > len(chosen) else 0.0
        if auc[views] > auc[chosen] and auc[views] >= auc[chosen] + margin:
            chosen = views
    return chosen


def calibrate(
    detector,
    samples,
    tta: bool | None = None,
    precision: float = 0.9,
    max_real_called_fake: float = 0.03,
    num_workers: int = 1,
    per_source: bool = True,
    max_views: int | None = None,
) -> dict:
    """Fit and set the detector's calibration on ``samples`` (validation); returns what was fitted and measured.

    ``tta``: None chooses on validation whether test-time views ship and which
    (:func:`choose_views` over :data:`~fakelens.inference.tta.VIEW_SETS`); True
    keeps them on (the best set), False off. ``per_source``: the FAKE band keeps
    at most ``max_real_called_fake`` of each source's real faces (not only of all
    of them pooled) at FAKE. ``max_views``: only view sets of at most this many views are considered (each view
    is one more pass of the model: a speed budget); 0 ships no views.
    """
    from ..inference.calibration import Calibration

    sets = tuple(v for v in VIEW_SETS if max_views is None or len(v) <= max_views)
    if not sets:
        sets, tta = VIEW_SETS[:1], False
    logits_by_view, labels, indices = view_logits(detector, samples, num_workers=num_workers)
    auc = {views: compute_metrics(labels, sigmoid(mean_logits(logits_by_view, views)))["roc_auc"] for views in ((), *VIEW_SETS)}
    views = choose_views({v: auc[v] for v in sets})
    if tta is None:
        tta = choose_views({(): auc[()], views: auc[views]}) == views
    logits = mean_logits(logits_by_view, views if tta else ())
    temperature = fit_temperature(logits, labels)
    probs = sigmoid(logits / temperature)
    threshold = choose_threshold(labels, probs)
    sources = np.asarray([samples[i].source for i in indices])
    bands = fit_bands(labels, probs, precision, max_real_called_fake, sources=sources if per_source else None)
    detector.calibration = Calibration(temperature, threshold, tta, bands, views)
    by_source = {}
    for name in dict.fromkeys(sources):
        mask = sources == name
        by_source[name or "data"] = _with_bands(compute_metrics(labels[mask], probs[mask], threshold), labels[mask], probs[mask], bands)
    return {
        "tta": tta,
        "tta_views": list(views),
        "val_roc_auc_without_tta": auc[()],
        "val_roc_auc_with_tta": auc[views],
        "val_roc_auc_by_views": {"+".join(v) or "none": a for v, a in auc.items()},
        "temperature": temperature,
        "threshold": threshold,
        "bands": bands.to_dict(),
        "val": _with_bands(compute_metrics(labels, probs, threshold), labels, probs, bands),
        "val_ece_before_calibration": compute_metrics(labels, sigmoid(logits), threshold)["ece"],
        "val_by_source": by_source,
    }


def _with_bands(metrics: dict, labels, probs, bands) -> dict:
    return {**metrics, **verdict_metrics(labels, probs, bands)}


def validation_faces(split: Path, trained_on: Sequence[dict] = ()) -> list[Sample]:
    """The validation faces of a split: a run's ``split.csv`` lists them; a bundled detector's ``split.csv.gz`` holds
    only sides by key, so its faces are looked up in the training sources ``detector.json`` lists, where present."""
    if not split.name.endswith(".gz"):
        samples, splits = read_split_csv(split)
        return [s for s, sp in zip(samples, splits) if sp == "val"]
    return [s for spec in trained_on for s in source_side(SourceSpec(**spec), split, "val")]


def validation_split(run_dir: str | os.PathLike, split: str | os.PathLike | None = None) -> Path:
    """The split whose validation faces calibrate a run: ``split`` where given, else the run's own ``split.csv`` or
    the bundled detector's ``split.csv.gz`` (:func:`validation_faces` reads either)."""
    if split is not None:
        if not Path(split).is_file():
            raise RunDirError(f"{split}: no such split.csv, so no validation data to calibrate on")
        return Path(split)
    found = RunDir(run_dir).split_file()
    if found is None:
        raise RunDirError(f"{run_dir}: no split.csv (nor a bundled split.csv.gz), so no validation data to calibrate on")
    return found


def calibrate_run(
    run_dir: str | os.PathLike,
    tta: bool | None = None,
    precision: float = 0.9,
    max_real_called_fake: float = 0.03,
    num_workers: int = 1,
    per_source: bool = True,
    max_views: int | None = None,
    split: str | os.PathLike | None = None,
) -> dict:
    """``fakelens calibrate RUN``: refit the run's calibration on its validation faces and save ``detector.json``.

    ``split``: take the validation faces from this ``split.csv`` instead of the run's own (:func:`validation_split`);
    so a copy of one epoch's weights, or the bundled detector, is calibrated on the sides it was trained with.
    """
    from ..inference.detector import CONFIG_FILE, load
    from ..utils.atomic import write_json

    run_dir = Path(run_dir)
    split = validation_split(run_dir, split)
    detector = load(run_dir)
    val = validation_faces(split, detector.info.get("trained_on") or [])
    fitted = calibrate(detector, val, tta, precision, max_real_called_fake, num_workers, per_source, max_views)
    fitted["split"] = str(split)
    detector.info["calibration"] = {k: v for k, v in fitted.items() if k not in ("val",)}
    detector.info["val"] = fitted["val"]
    write_json(run_dir / CONFIG_FILE, detector.config())
    write_json(RunDir(run_dir).calibration, fitted)
    return fitted
