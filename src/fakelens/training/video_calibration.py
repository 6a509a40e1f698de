"""Video-level bands: fitted on the pooled scores of validation videos, not on single faces.

A video is judged by pooling its frames (``topk``: the mean logit of the most
fake quarter, so that a few strongly fake frames count). Pooling shifts the
scores of real videos up compared with one face, so the face bands would
accuse more real videos than real faces; the video bands are fitted the way
the face bands are (:func:`~fakelens.stats.calibration.fit_bands`: precision
of the FAKE and REAL verdicts, and at most ``max_real_called_fake`` of each
source's real videos at FAKE) on the pooled scores of videos that went through
``predict_video`` end to end.

The allowed sources have no videos, so the validation videos are clips built
from the validation faces of every source (:mod:`fakelens.data.clips`); the
model card says so.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

from ..data.clips import CLIP_RECIPE, write_clip
from ..errors import RunDirError
from ..labels import FAKE, REAL
from ..stats.calibration import fit_bands
from ..stats.metrics import compute_metrics, verdict_metrics
from .calibrate import validation_faces, validation_split

#: What the report of a fit is saved as, beside ``calibration.json``.
VIDEO_CALIBRATION_FILE = "video_calibration.json"


def pick_videos(samples, per_source: int, seed: int = 0) -> list:
    """Up to ``per_source`` validation faces of each class from each source (the video-level validation set)."""
    rng = np.random.default_rng(seed)
    picked = []
    for source in dict.fromkeys(s.source for s in samples):
        for label in (REAL, FAKE):
            pool = [s for s in samples if s.source == source and s.label == label]
            picked += [pool[i] for i in sorted(rng.choice(len(pool), min(per_source, len(pool)), replace=False))]
    return picked


def video_scores(detector, samples, n_frames: int = 12, aggregate: str = "topk", seed: int = 0, progress: bool = True):
    """Each sample as a clip through ``predict_video``: (pooled P(fake) by ``aggregate``, label, source) of the clips
    with a face found, and the number without one."""
    from tqdm.auto import tqdm

    from ..faces.pipeline import FacePipeline
    from ..faces.video import predict_video
    from ..imaging.imageio import load_image

    pipeline = FacePipeline.of(detector)
    probs, labels, sources, missed = [], [], [], 0
    with tempfile.TemporaryDirectory(prefix="fakelens-clips-") as tmp:
        for i, sample in enumerate(tqdm(samples, desc="validation videos", disable=not progress)):
            rng = np.random.default_rng([seed, i])
            clip = Path(tmp) / f"{i}.mp4"
            write_clip(clip, load_image(sample.path), rng, n_frames)
            result = predict_video(pipeline, clip, frames=n_frames, aggregate_by=aggregate)
            clip.unlink()
            if result.prob_fake is None:
                missed += 1
                continue
            probs.append(result.video_probs[aggregate])
            labels.append(sample.label)
            sources.append(sample.source)
    return np.asarray(probs), np.asarray(labels, dtype=int), np.asarray(sources), missed


def fit_video_bands(
    detector,
    samples,
    per_source: int = 100,
    n_frames: int = 12,
    aggregate: str = "topk",
    precision: float = 0.9,
    max_real_called_fake: float = 0.03,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Fit and set the detector's video bands on clips of ``samples`` (validation faces); returns what was measured."""
    picked = pick_videos(samples, per_source, seed)
    probs, labels, sources, missed = video_scores(detector, picked, n_frames, aggregate, seed, progress)
    if len(set(labels.tolist())) < 2:
        raise RunDirError("the validation videos need real and fake ones with a face found; no video bands fitted")
    bands = fit_bands(labels, probs, precision, max_real_called_fake, sources=sources)
    calibration = detector.calibration
    face_bands = calibration.bands
    detector.calibration = dataclasses.replace(calibration, video_bands=bands, video_aggregate=aggregate)
    report = {
        "aggregate": aggregate,
        "frames": n_frames,
        "clips": CLIP_RECIPE,
        "videos": int(len(picked)),
        "no_face": int(missed),
        "video_bands": bands.to_dict(),
        "val_videos": {**compute_metrics(labels, probs, calibration.threshold), **verdict_metrics(labels, probs, bands)},
        "val_videos_by_source": {
            name: verdict_metrics(labels[sources == name], probs[sources == name], bands) for name in dict.fromkeys(sources.tolist())
        },
    }
    if face_bands is not None:  # what the face bands would have done to the same videos: why video bands exist
        report["val_videos_with_face_bands"] = verdict_metrics(labels, probs, face_bands)
    return report


def calibrate_videos_run(run_dir: str | os.PathLike, split: str | os.PathLike | None = None, **options) -> dict:
    """``fakelens calibrate-videos RUN``: fit the run's video bands on clips of its validation faces; saves ``detector.json``.

    ``split``: a ``split.csv`` to take the validation faces from instead of the run's own (the bundled detector's
    ``split.csv.gz`` works too: see :func:`validation_faces`).
    """
    from ..inference.detector import CONFIG_FILE, load
    from ..utils.atomic import write_json

    run_dir = Path(run_dir)
    split = validation_split(run_dir, split)
    detector = load(run_dir)
    val = validation_faces(split, detector.info.get("trained_on") or [])
    report = fit_video_bands(detector, val, **options)
    report["split"] = str(split)
    detector.info["video_calibration"] = {k: v for k, v in report.items() if k != "val_videos_by_source"}
    write_json(run_dir / CONFIG_FILE, detector.config())
    write_json(run_dir / VIDEO_CALIBRATION_FILE, report)
    return report
