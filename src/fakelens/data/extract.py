"""Raw DFDC videos -> a training set in the Kaggle "deepfake-faces" layout.

``extract_faces(videos_dir, metadata_json, out)`` writes ``out/metadata.csv``
(``videoname,original_width,original_height,label,original``) and
``out/faces_224/<video stem>.jpg``: one face per video, the largest face found
in a few evenly spaced frames, framed like the Kaggle crops and saved as they
were (224x224 JPEG, quality 75). ``original_width``/``original_height`` are
the size of the cropped region in the video frame, as in the Kaggle file.

Bad videos (unreadable, no face, missing, unknown label) are skipped and
listed in ``out/extract_report.csv``; the rest go on. ``metadata.csv`` is
rewritten atomically every few videos, so an interrupted run resumes where
it stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, VideoReadError
from ..faces.annotate import save_image
from ..faces.cropping import CROP_JPEG_QUALITY, CROP_SIZE, crop_face, crop_region
from ..faces.detectors import FaceDetector, create_face_detector
from ..faces.videoio import VideoReader
from ..imaging.imageio import is_video_path
from ..labels import FAKE, LABEL_NAMES
from ..sources import parse_label
from ..utils.atomic import write_csv

METADATA_COLUMNS = ["videoname", "original_width", "original_height", "label", "original"]
REPORT_COLUMNS = ["videoname", "status", "error"]
FACES_DIR = "faces_224"


@dataclass
class ExtractReport:
    written: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # already in out/ from an earlier run
    failed: dict[str, str] = field(default_factory=dict)  # videoname -> reason
    ignored: list[str] = field(default_factory=list)  # videos in the folder but not in metadata.json

    def to_dict(self) -> dict:
        return {
            "written": len(self.written),
            "resumed": len(self.resumed),
            "failed": len(self.failed),
            "ignored": len(self.ignored),
            "failures": self.failed,
        }


def read_dfdc_metadata(path: str | os.PathLike) -> dict[str, dict]:
    """``{"abc.mp4": {"label": "FAKE", "original": "xyz.mp4", ...}}`` as written in the DFDC train folders."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such metadata file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
        raise DataError(f'{path}: expected an object of video name -> {{"label": ..., "original": ...}}')
    return meta


def extract_face(reader: VideoReader, face_detector: FaceDetector, frames: int, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The crop of the largest face over ``frames`` sampled frames, and its region's (width, height)."""
    best = None  # (area, crop, (w, h))
    for frame in reader.sample(frames):
        faces = face_detector.detect(frame.rgb)
        if not faces:
            continue
        face = max(faces, key=lambda f: f.area)
        if best is None or face.area > best[0]:
            x0, y0, x1, y1 = crop_region(face_detector.framing.square(face), *frame.rgb.shape[:2])
            # No JPEG round trip here: the crop is saved as JPEG once, as the Kaggle crops were.
            best = (face.area, crop_face(frame.rgb, face, face_detector.framing, size, jpeg_quality=None), (x1 - x0, y1 - y0))
    if best is None:
        raise VideoReadError(f"no face found in {frames} sampled frames")
    return best[1], best[2]


def extract_faces(
    videos_dir: str | os.PathLike,
    metadata: str | os.PathLike,
    out: str | os.PathLike,
    frames: int = 8,
    face_detector: str | FaceDetector | None = None,
    size: int = CROP_SIZE,
    jpeg_quality: int = CROP_JPEG_QUALITY,
    overwrite: bool = False,
    progress: bool = False,
    save_every: int = 25,
) -> ExtractReport:
    """Write the Kaggle layout for the videos of ``videos_dir`` labelled in ``metadata``."""
    from tqdm.auto import tqdm

    videos_dir, out = Path(videos_dir), Path(out)
    if not videos_dir.is_dir():
        raise DataError(f"{videos_dir}: no such folder of videos")
    meta = read_dfdc_metadata(metadata)
    detector = create_face_detector(face_detector)
    faces_dir = out / FACES_DIR
    faces_dir.mkdir(parents=True, exist_ok=True)

    report = ExtractReport()
    rows: dict[str, dict] = {} if overwrite else _resumable_rows(out)
    report.resumed = sorted(rows)
    on_disk = {p.name for p in videos_dir.iterdir() if p.is_file() and is_video_path(p)}
    report.ignored = sorted(on_disk - set(meta))
    todo = [name for name in sorted(meta) if name not in rows]
    for n, name in enumerate(tqdm(todo, desc="extracting", unit="video", disable=not progress), start=1):
        try:
            row = _extract_one(videos_dir / name, name, meta[name], detector, faces_dir, frames, size, jpeg_quality)
        except (VideoReadError, DataError) as exc:
            report.failed[name] = str(exc)
        else:
            rows[name] = row
            report.written.append(name)
        if n % save_every == 0:
            _write_metadata(out, rows)
    _write_metadata(out, rows)
    write_csv(
        out / "extract_report.csv",
        [{"videoname": v, "status": "written", "error": ""} for v in report.written]
        + [{"videoname": v, "status": "resumed", "error": ""} for v in report.resumed]
        + [{"videoname": v, "status": "failed", "error": e} for v, e in report.failed.items()]
        + [{"videoname": v, "status": "ignored", "error": "not in metadata.json"} for v in report.ignored],
        REPORT_COLUMNS,
    )
    return report


def _extract_one(path: Path, name: str, info: dict, detector: FaceDetector, faces_dir: Path, frames: int, size: int, quality: int) -> dict:
    label = parse_label(info.get("label", ""), f"metadata.json entry {name}")
    if not path.is_file():
        raise DataError(f"{name}: listed in metadata.json but not in the videos folder")
    try:
        with VideoReader(path) as reader:
            crop, (w, h) = extract_face(reader, detector, frames, size)
    except VideoReadError as exc:
        message = str(exc)
        raise VideoReadError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    save_image(faces_dir / f"{Path(name).stem}.jpg", crop, quality=quality)
    original = (info.get("original") or "") if label == FAKE else ""
    return {"videoname": name, "original_width": w, "original_height": h, "label": LABEL_NAMES[label], "original": original}


def _resumable_rows(out: Path) -> dict[str, dict]:
    """Rows of an earlier run whose face image is on disk."""
    import csv

    meta = out / "metadata.csv"
    if not meta.is_file():
        return {}
    with open(meta, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["videoname"]: r for r in rows if (out / FACES_DIR / f"{Path(r['videoname']).stem}.jpg").is_file()}


def _write_metadata(out: Path, rows: dict[str, dict]) -> None:
    write_csv(out / "metadata.csv", [rows[k] for k in sorted(rows)], METADATA_COLUMNS)
