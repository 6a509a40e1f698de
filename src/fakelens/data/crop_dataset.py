"""A dataset of photos -> the face crops ``fakelens predict`` would score, as a training set.

Train as you infer: a face in a photo reaches the model through face detection,
the DFDC-like framing and a JPEG round trip (``predict_photo``); an image that
already is a face crop is recognised and scored whole. ``crop_dataset`` sends
every image of a dataset through that same path (:func:`~fakelens.faces.photo.find_faces`
and :meth:`FacePipeline.crop`) and writes what the model would see, so that
training and prediction see faces framed alike.

Output: ``out/real/``, ``out/fake/`` and ``out/manifest.csv`` (``path,label,group``
with the source's groups kept), plus ``out/crop_report.csv`` listing images
with no face or unreadable. An interrupted run resumes: crops already written
are kept.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..imaging.imageio import load_image
from ..labels import LABEL_NAMES
from .sources import Sample, load_samples
from ..errors import ImageReadError
from ..utils.atomic import write_csv
from ..faces.annotate import save_image
from ..faces.cropping import CROP_SIZE

#: Saved nearly lossless: the crop already carries the predict path's JPEG round trip.
SAVE_QUALITY = 95

_pipeline = None


def _worker_pipeline():
    """One face pipeline per worker process (no deepfake model: only detection and framing)."""
    global _pipeline
    if _pipeline is None:
        from ..faces.pipeline import FacePipeline

        _pipeline = FacePipeline(detector=None)
    return _pipeline


def crop_one(path: str) -> tuple[np.ndarray | None, str]:
    """The crop the predict path would score for the largest face of ``path``, or (None, reason)."""
    from ..faces.photo import find_faces

    pipeline = _worker_pipeline()
    try:
        rgb = load_image(path)
    except ImageReadError as exc:
        return None, str(exc)
    faces, is_crop = find_faces(pipeline, rgb)
    if is_crop:
        from ..imaging.preprocess import resize_square
        from PIL import Image

        return np.asarray(resize_square(Image.fromarray(rgb), CROP_SIZE)), ""
    if not faces:
        return None, "no face found"
    return pipeline.crop(rgb, [max(faces, key=lambda f: f.area)])[0], ""


def _task(args: tuple[str, str]) -> tuple[str, str]:
    src, dst = args
    crop, reason = crop_one(src)
    if crop is not None:
        save_image(dst, crop, quality=SAVE_QUALITY)
    return src, reason


def crop_dataset(source: str | os.PathLike, out: str | os.PathLike, workers: int = 1, progress: bool = True) -> dict:
    """Write the predict-path crops of every image in ``source`` (any layout, one class allowed) to ``out``."""
    from tqdm.auto import tqdm

    source, out = Path(source), Path(out)
    samples = load_samples(source, require_both=False)
    root = source if source.is_dir() else source.parent
    targets = [_target(out, root, s) for s in samples]
    todo = [(s.path, str(t)) for s, t in zip(samples, targets) if not t.is_file()]
    failed: dict[str, str] = {}
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for src, reason in tqdm(pool.map(_task, todo, chunksize=16), total=len(todo), desc="cropping faces", unit="img", disable=not progress):
            if reason:
                failed[src] = reason
    rows = [{"path": str(t.relative_to(out)), "label": LABEL_NAMES[s.label], "group": s.group}
            for s, t in zip(samples, targets) if t.is_file()]
    write_csv(out / "manifest.csv", rows, ["path", "label", "group"])
    write_csv(out / "crop_report.csv", [{"path": p, "error": e} for p, e in failed.items()], ["path", "error"])
    return {"images": len(samples), "written": len(todo) - len(failed), "kept_from_before": len(samples) - len(todo),
            "failed": len(failed)}


def _target(out: Path, root: Path, sample: Sample) -> Path:
    try:
        rel = Path(sample.path).relative_to(root)
    except ValueError:
        rel = Path(Path(sample.path).name)
    label_dir = LABEL_NAMES[sample.label].lower()
    return (out / (rel if rel.parts[0].lower() == label_dir else Path(label_dir) / rel)).with_suffix(".jpg")
