"""``fakelens robustness RUN --data DIR``: what each real-world degradation costs the detector.

Every image is scored as it is and after each perturbation of
:data:`fakelens.imaging.perturb.ROBUSTNESS_PERTURBATIONS` (JPEG 90/70/50/30,
resize 0.5/0.25, blur, Gaussian noise sigma 3/5/10, the social-media chain),
applied to the face crop at its stored resolution, before the one preprocessing
path. Results: ``robustness.csv``, ``robustness.md`` and ``robustness.png``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError, ImageReadError
from ..imaging.imageio import load_image
from ..imaging.perturb import ROBUSTNESS_PERTURBATIONS
from ..stats.metrics import compute_metrics
from ..utils.atomic import write_csv, write_text
from ..utils.rundir import RunDir

COLUMNS = ["perturbation", "n", "accuracy", "roc_auc", "auc_drop", "accuracy_drop", "mean_abs_prob_change"]


def robustness(detector, samples, max_images: int | None = 1000, seed: int = 0, batch_size: int = 64) -> list[dict]:
    """One row per perturbation on (at most ``max_images`` of) ``samples``."""
    if max_images and len(samples) > max_images:
        keep = np.random.default_rng(seed).choice(len(samples), max_images, replace=False)
        samples = [samples[i] for i in sorted(keep)]
    images, labels = [], []
    for s in samples:
        try:
            images.append(load_image(s.path))
            labels.append(s.label)
        except ImageReadError:
            continue
    labels = np.asarray(labels)
    probs = {}
    for name, perturb in tqdm(ROBUSTNESS_PERTURBATIONS.items(), desc="perturbations", unit="kind"):
        faces = [detector.decode(perturb(im)) for im in images]
        probs[name] = detector.score_arrays(faces, batch_size)
    base = compute_metrics(labels, probs["none"], detector.threshold)
    rows = []
    for name, p in probs.items():
        m = compute_metrics(labels, p, detector.threshold)
        rows.append(
            {
                "perturbation": name,
                "n": m["n"],
                "accuracy": m["accuracy"],
                "roc_auc": m["roc_auc"],
                "auc_drop": None if m["roc_auc"] is None else base["roc_auc"] - m["roc_auc"],
                "accuracy_drop": base["accuracy"] - m["accuracy"],
                "mean_abs_prob_change": float(np.mean(np.abs(p - probs["none"]))),
            }
        )
    return rows


def robustness_run(
    run: str | os.PathLike | None, data: str, out: str | os.PathLike | None = None, max_images: int | None = 1000, split: str | None = None
) -> list[dict]:
    """:func:`robustness` of the run's detector on ``data`` (only its images in ``split`` of the run's split, if given:
    its split.csv, or the bundled detector's split.csv.gz)."""
    from ..data.multisource import SourceSpec, load_source, on_side
    from ..inference.detector import detector_dir, load
    from .plots import plot_robustness

    detector = load(run)
    spec = SourceSpec.parse(data)
    samples = load_source(spec.model_copy(update={"group": "file"}), progress=False)
    if split:
        split_csv = RunDir(detector_dir(run)).split_file()
        if split_csv is None:
            raise ConfigError(f"--split {split} needs a run folder with a split.csv")
        samples = on_side(samples, spec, split_csv, split)
        if not samples:
            raise DataError(f"{data}: none of its images is in the {split} part of {split_csv}")
    rows = robustness(detector, samples, max_images)
    out = Path(out) if out else Path(run or ".") / f"robustness-{spec.name}"
    write_csv(out / "robustness.csv", rows, COLUMNS)
    fmt = lambda v: "" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)] + [
        "| " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for r in rows
    ]
    write_text(
        out / "robustness.md", f"# Robustness of {detector.model_name} on {spec.name} ({rows[0]['n']} images)\n\n" + "\n".join(lines) + "\n"
    )
    plot_robustness(rows, out / "robustness.png")
    return rows
