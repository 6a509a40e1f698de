"""A dataset of photos -> the face crops ``fakelens predict`` would score, as a training set.

Train as you infer: a face in a photo reaches the model through face detection,
the DFDC-like framing and a JPEG round trip (``predict_photo``); an image that
already is a face crop is recognised and scored whole. ``crop_dataset`` sends
every image of a dataset through that same path (:func:`~fakelens.faces.photo.find_faces`
and :meth:`FacePipeline.crop`) and writes what the model would see, so that
training and prediction see faces framed alike.

Output: ``out/real/``, ``out/fake/`` and ``out/manifest.csv`` (``path,label,group``
with the source's groups kept), plus ``out/crop_report.csv`` listing images
with no face or unreadable, and rows refused because their crop would land
outside ``out``. An interrupted run resumes: crops already written are kept.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, UnsafePathError
from ..faces.annotate import save_image
from ..faces.cropping import CROP_SIZE
from ..imaging.imageio import load_image
from ..labels import LABEL_NAMES
from ..sources import Sample, load_samples
from ..utils.atomic import write_csv
from ..utils.paths import safe_child

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
        from PIL import Image

        from ..imaging.preprocess import resize_square

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
    """Write the predict-path crops of every image in ``source`` (any layout, one class allowed) to ``out``.

    A row whose crop would land outside ``out`` (a manifest path that climbs out
    with ``..``) is refused: it is listed in ``crop_report.csv`` and the rest go on.
    """
    from tqdm.auto import tqdm

    source, out = Path(source), Path(out)
    samples = load_samples(source, require_both=False)
    root = source if source.is_dir() else source.parent
    failed: dict[str, str] = {}
    targets: list[Path | None] = []
    for s in samples:
        try:
            targets.append(_target(out, root, s))
        except UnsafePathError as exc:
            failed[s.path] = f"its crop would be written outside {out}: {exc}"
            targets.append(None)
    refused = len(failed)
    todo = [(s.path, str(t)) for s, t in zip(samples, targets) if t is not None and not t.is_file()]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for src, reason in tqdm(
            pool.map(_task, todo, chunksize=16), total=len(todo), desc="cropping faces", unit="img", disable=not progress
        ):
            if reason:
                failed[src] = reason
    root_out = out.resolve()
    rows = [
        {"path": str(t.relative_to(root_out)), "label": LABEL_NAMES[s.label], "group": s.group}
        for s, t in zip(samples, targets)
        if t is not None and t.is_file()
    ]
    write_csv(out / "manifest.csv", rows, ["path", "label", "group"])
    write_csv(out / "crop_report.csv", [{"path": p, "error": e} for p, e in failed.items()], ["path", "error"])
    return {
        "images": len(samples),
        "written": len(todo) - (len(failed) - refused),
        "kept_from_before": len(samples) - len(todo) - refused,
        "failed": len(failed),
        "refused": refused,
    }


def _target(out: Path, root: Path, sample: Sample) -> Path:
    """``out/<label>/<the image's path under root>.jpg`` (its name alone when it is not under root), resolved;
    :class:`~fakelens.errors.UnsafePathError` when that is not inside ``out/<label>``."""
    try:
        rel = Path(sample.path).relative_to(root)  # textual: a manifest's "real/../../x.jpg" keeps its ".."
    except ValueError:
        rel = Path(Path(sample.path).name)
    label_dir = LABEL_NAMES[sample.label].lower()
    if rel.parts and rel.parts[0].lower() == label_dir:
        rel = Path(*rel.parts[1:])
    return safe_child(out / label_dir, rel.with_suffix(".jpg"))
