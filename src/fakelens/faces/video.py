"""Video -> sampled frames -> faces per person -> verdicts per person and per video.

``frames`` evenly spaced frames (32 by default, as the DFDC winner used) are
decoded; faces are found and cropped in each (the whole frame is searched
every 8th frame, in between only around the faces already found:
:mod:`.guided`, which halves the detection time); the faces of one person are
linked across frames (:mod:`.tracking`); all crops are scored in one batch.
Each person's probability is aggregated over their frames (``mean`` and the
DFDC winner's ``confident`` strategy, :mod:`.aggregate`), and the video takes
the most-fake person: a video with one swapped face among two is fake.

Detections that appear in only a few frames are usually false positives (a
poster, a pattern in the background); a person counts towards the video
verdict only when seen in at least ``min_track_fraction`` of the frames of the
most-seen person. They are still reported, with ``used: false``.

A C2PA manifest in the MP4 is evidence too (:mod:`fakelens.provenance`); the
video's verdict follows the same policy as a photo's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputTooLargeError, VideoReadError
from ..imaging.imageio import resize_rgb
from ..provenance import EvidenceItem, Provenance, combine, model_item, read_provenance, short_evidence
from .aggregate import AGGREGATES, aggregate
from .annotate import BoxLabel, draw_faces, plot_frame_probs
from .detectors import FaceBox
from .guided import GuidedFaceFinder
from .photo import ERROR, FACE_COLUMNS, NO_FACE, OK, _edge_columns, _round
from .pipeline import FacePipeline
from .tracking import link_faces
from .videoio import DecodeBudget, VideoInfo, VideoReader, playback_fps, write_video

VIDEO_COLUMNS = FACE_COLUMNS + [
    "frame",
    "time",
    "track",
    "track_prob",
    "video_prob",
    "video_verdict",
    "n_tracks",
    "marker",
    "real_below",
    "fake_from",
    "video_fake_from",
    "evidence",
]

#: Frames kept for the annotated video are shrunk to this long side (memory: 32 x 1280x720x3 = 88 MB).
ANNOTATE_MAX_SIDE = 1280


@dataclass
class VideoFace:
    frame: int  # frame index in the video
    time: float | None  # seconds
    index: int  # face number within the frame
    track: int  # person id, shared across frames
    box: FaceBox
    prob_fake: float
    label: str

    def to_dict(self) -> dict:
        return {
            "face": self.index,
            "track": self.track,
            **self.box.to_dict(),
            "prob_fake": _round(self.prob_fake, 6),
            "verdict": self.label,
        }


@dataclass
class TrackResult:
    track: int
    frames: list[int]  # frame indices where this person was found
    probs: list[float]  # P(fake) in those frames
    probs_by_strategy: dict[str, float]
    prob_fake: float  # by the chosen strategy
    label: str
    used: bool  # counted in the video verdict

    def to_dict(self) -> dict:
        return {
            "track": self.track,
            "n_faces": len(self.frames),
            "first_frame": self.frames[0],
            "last_frame": self.frames[-1],
            "prob_fake": _round(self.prob_fake, 6),
            "verdict": self.label,
            "used": self.used,
            "probs": {k: _round(v, 6) for k, v in self.probs_by_strategy.items()},
        }


@dataclass
class VideoResult:
    path: str
    status: str  # ok | no_face | error
    error: str = ""
    info: VideoInfo | None = None
    aggregate: str = "confident"
    sampled: list[tuple[int, float | None]] = field(default_factory=list)  # (frame index, time) of each sampled frame
    faces: list[VideoFace] = field(default_factory=list)
    tracks: list[TrackResult] = field(default_factory=list)
    video_probs: dict[str, float] = field(default_factory=dict)  # per strategy: max over the used tracks
    prob_fake: float | None = None
    label: str | None = None
    warnings: list[str] = field(default_factory=list)
    kind: str = "video"
    too_large: bool = False  # the error is a size limit (pixels, decode budget): the service answers 413
    # Where the verdicts' bands sit on the P(fake) scale ({"real_below", "fake_from"}): for each face and person,
    # and for the video (judged by its most-fake person, whose FAKE cut rises with the number of people).
    bands: dict | None = None
    video_bands: dict | None = None
    evidence: list[EvidenceItem] = field(default_factory=list)  # what the file says about itself (not the model)
    reasons: list[str] = field(default_factory=list)  # why the verdict is not the model's (an AI claim)

    @property
    def all_evidence(self) -> list[EvidenceItem]:
        """The file's own evidence, then the model's score for each person counted in the verdict."""
        return self.evidence + [model_item(f"person {t.track}", t.prob_fake, t.label) for t in self.tracks if t.used]

    def to_dict(self) -> dict:
        by_frame: dict[int, list[dict]] = {}
        for f in self.faces:
            by_frame.setdefault(f.frame, []).append(f.to_dict())
        return {
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "info": self.info.to_dict() if self.info else None,
            "aggregate": self.aggregate,
            "video_prob": _round(self.prob_fake, 6),
            "video_verdict": self.label,
            "video_probs": {k: _round(v, 6) for k, v in self.video_probs.items()},
            "bands": self.bands,
            "video_bands": self.video_bands,
            "n_frames_sampled": len(self.sampled),
            "n_tracks": len(self.tracks),
            "tracks": [t.to_dict() for t in self.tracks],
            "frames": [{"frame": i, "time": _round(t, 4), "faces": by_frame.get(i, [])} for i, t in self.sampled],
            "warnings": self.warnings,
            "evidence": [e.to_dict() for e in self.all_evidence],
            "reasons": list(self.reasons),
        }

    def rows(self) -> list[dict]:
        """One row per face per sampled frame (one row without face fields for ``no_face`` and ``error``).

        ``marker``: the person's number on the annotated video and the web page (``track`` + 1); the band
        edges as in :meth:`PhotoResult.rows <fakelens.faces.photo.PhotoResult.rows>`.
        """
        base = {
            "path": self.path,
            "error": self.error,
            "status": self.status,
            "kind": self.kind,
            "video_prob": _round(self.prob_fake, 6),
            "video_verdict": self.label,
            "n_tracks": len(self.tracks),
            **_edge_columns(self.bands, self.video_bands, "video"),
            "evidence": short_evidence(self.evidence),
        }
        if not self.faces:
            return [{**base, "prob_fake": None, "verdict": None}]
        track_prob = {t.track: _round(t.prob_fake, 6) for t in self.tracks}
        return [
            {
                **base,
                "prob_fake": _round(f.prob_fake, 6),
                "verdict": f.label,
                "face": f.index,
                "x0": f.box.as_ints()[0],
                "y0": f.box.as_ints()[1],
                "x1": f.box.as_ints()[2],
                "y1": f.box.as_ints()[3],
                "det_score": _round(f.box.score),
                "frame": f.frame,
                "time": _round(f.time, 4),
                "track": f.track,
                "track_prob": track_prob[f.track],
                "marker": f.track + 1,
            }
            for f in self.faces
        ]


def predict_video(
    detector,
    path: str | os.PathLike,
    frames: int = 32,
    aggregate_by: str | None = None,
    face_detector=None,
    min_track_fraction: float = 0.2,
    annotate_video: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    full_detect_every: int = 8,
    max_faces: int | None = None,
    budget: DecodeBudget | None = None,
    max_pixels: int | None = None,
) -> VideoResult:
    """Verdicts for one video file.

    ``detector``: a :class:`~fakelens.Detector` or a :class:`FacePipeline`.
    ``aggregate_by``: ``confident``, ``mean`` or ``topk``, which of the per-person
    aggregates gives ``prob_fake``/``label`` (all are always reported); None: the
    one the detector's video bands were fitted for (``confident`` without them).
    The video's verdict uses the video bands when the pooling is theirs.
    ``annotate_video``: write the sampled frames with boxes as H.264 there.
    ``plot``: write the per-frame P(fake) plot there.
    ``full_detect_every``: search the whole frame every this many sampled
    frames and only around the known faces in between (:mod:`.guided`);
    1 searches every whole frame.
    ``max_faces``, ``budget``, ``max_pixels``: limits for untrusted files (the
    service): the most confident faces kept per frame, a
    :class:`~fakelens.faces.videoio.DecodeBudget`, the largest frame decoded.
    """
    pipeline = FacePipeline.of(detector, face_detector)
    aggregate_by = aggregate_by or pipeline.video_aggregate
    if aggregate_by not in AGGREGATES:
        raise ValueError(f"unknown aggregation {aggregate_by!r}; choose one of {', '.join(AGGREGATES)}")
    path = str(path)
    finder = GuidedFaceFinder(pipeline.face_detector, full_every=full_detect_every)
    sampled, frame_faces, crops, kept = [], [], [], []
    try:
        with VideoReader(path, budget=budget, max_pixels=max_pixels) as reader:
            for frame in reader.sample(frames):
                faces = finder(frame.rgb)[:max_faces]
                sampled.append((frame.index, frame.time))
                frame_faces.append(faces)
                crops.extend(pipeline.crop(frame.rgb, faces))
                if annotate_video is not None:
                    kept.append(_shrink(frame.rgb, ANNOTATE_MAX_SIDE))
            info = reader.info  # after decoding: the upright size of a rotated video
            warnings = list(reader.warnings)
    except VideoReadError as exc:
        return VideoResult(path, ERROR, error=str(exc), aggregate=aggregate_by, too_large=isinstance(exc, InputTooLargeError))

    result = VideoResult(path, OK, info=info, aggregate=aggregate_by, sampled=sampled, warnings=warnings)
    track_ids = link_faces(frame_faces)
    probs = iter(pipeline.score(crops))
    for (index, time), faces, ids in zip(sampled, frame_faces, track_ids):
        for k, (face, track) in enumerate(zip(faces, ids)):
            p = float(next(probs))
            result.faces.append(VideoFace(index, time, k, track, face, p, pipeline.label(p)))
    if not result.faces:
        result.status = NO_FACE
    else:
        _aggregate(result, pipeline, min_track_fraction)
    _apply_evidence(result, read_provenance(path))
    if annotate_video is not None and kept:
        _write_annotated(result, kept, annotate_video)
    if plot is not None and result.faces:
        _plot(result, plot)
    return result


def _apply_evidence(result: VideoResult, provenance: Provenance) -> None:
    items, warnings = provenance
    result.label, result.reasons, more = combine(result.label, items)
    result.evidence = list(items)
    result.warnings = list(dict.fromkeys([*result.warnings, *warnings, *more]))


def _aggregate(result: VideoResult, pipeline: FacePipeline, min_track_fraction: float) -> None:
    per_track: dict[int, list[VideoFace]] = {}
    for f in result.faces:
        per_track.setdefault(f.track, []).append(f)
    longest = max(len(v) for v in per_track.values())
    for track in sorted(per_track):
        faces = per_track[track]
        probs = [f.prob_fake for f in faces]
        by_strategy = {name: aggregate(probs, name) for name in AGGREGATES}
        p = by_strategy[result.aggregate]
        used = len(faces) >= min_track_fraction * longest
        result.tracks.append(TrackResult(track, [f.frame for f in faces], probs, by_strategy, p, pipeline.label(p), used))
    used = [t for t in result.tracks if t.used]
    result.video_probs = {name: max(t.probs_by_strategy[name] for t in used) for name in AGGREGATES}
    result.prob_fake = result.video_probs[result.aggregate]
    # The video is judged by its most-fake person: with several people, at the cut fitted for that many
    # faces (as a photo with several faces), so a video of real people is as rarely accused as one real face.
    result.label = pipeline.video_verdict(result.prob_fake, len(used), result.aggregate)
    result.bands, result.video_bands = pipeline.edges(1), pipeline.video_edges(len(used), result.aggregate)


def _shrink(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return rgb.copy(), 1.0
    return resize_rgb(rgb, (int(round(w * scale)), int(round(h * scale)))), scale


def _write_annotated(result: VideoResult, kept: list[tuple[np.ndarray, float]], path: str | os.PathLike) -> None:
    by_frame: dict[int, list[VideoFace]] = {}
    for f in result.faces:
        by_frame.setdefault(f.frame, []).append(f)
    drawn = []
    for (index, _), (rgb, scale) in zip(result.sampled, kept):
        boxes = [
            BoxLabel(tuple(v * scale for v in (f.box.x0, f.box.y0, f.box.x1, f.box.y1)), f.prob_fake, f.label, f.track + 1)
            for f in by_frame.get(index, [])
        ]
        drawn.append(draw_faces(rgb, boxes))
    duration = result.info.duration if result.info else None
    write_video(path, drawn, fps=playback_fps(len(drawn), duration))


def _plot(result: VideoResult, path: str | os.PathLike) -> None:
    from ..inference.calibration import verdict_with_score

    use_time = all(f.time is not None for f in result.faces)
    series: dict[str, tuple[list[float], list[float]]] = {}
    for f in result.faces:
        xs, ps = series.setdefault(f"person {f.track + 1}", ([], []))
        xs.append(f.time if use_time else f.frame)
        ps.append(f.prob_fake)
    # each person is judged at the one-face edges; the video, by its most-fake person, at its own (higher with more people)
    verdict = verdict_with_score(result.label, result.prob_fake, result.video_bands)
    title = f"{os.path.basename(result.path)}: {verdict} ({result.aggregate})"
    plot_frame_probs(
        series, result.bands, title, path, x_label="time (s)" if use_time else "frame", video_fake_from=result.video_bands["fake_from"]
    )
