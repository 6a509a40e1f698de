"""The user's examples -> face crops at the model's size, found and framed as ``predict`` finds and frames them.

Photos, face crops and videos are accepted (folders are expanded like
``predict``'s inputs: :func:`fakelens.faces.batch.expand_media`). A photo gives
its most confident face (the whole image if it is a face crop); a video gives
the most confident face of a few evenly sampled frames, all in one group so a
video is never split between fitting and validation. Each example keeps what
the checks and the model card need: its folder (source), file format, size,
pixel hash (the same image in both classes) and a near-duplicate group.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import FakelensError

#: An adapt needs at least this many examples of each class (the model card's figures and the head need them).
MIN_PER_CLASS = 20
#: Frames sampled from each video example.
VIDEO_FRAMES = 8
#: Classes whose median image sides differ by more than this factor get a warning.
SIZE_RATIO_WARNING = 1.5


class AdaptInputError(FakelensError):
    """The examples cannot teach a detector (too few, the same images in both classes, none readable)."""


@dataclass
class Examples:
    """Face crops (uint8, model size) with one entry per crop in every list."""

    faces: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the folder given on the command line
    groups: list[str] = field(default_factory=list)  # a file (a video's frames share it), merged by near-duplicates
    sizes: list[tuple[int, int]] = field(default_factory=list)  # the file's width x height
    formats: list[str] = field(default_factory=list)  # file extension
    pixel_hashes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, face: np.ndarray, label: int, path: str, source: str, size: tuple[int, int], pixels: np.ndarray) -> None:
        self.faces.append(face)
        self.labels.append(int(label))
        self.paths.append(path)
        self.sources.append(source)
        self.groups.append(path)
        self.sizes.append(size)
        self.formats.append(Path(path).suffix.lower().lstrip(".") or "?")
        self.pixel_hashes.append(hashlib.sha1(np.ascontiguousarray(pixels).tobytes()).hexdigest())

    def counts(self) -> dict[str, dict[str, int]]:
        """Files per source folder and class, for the model card."""
        out: dict[str, Counter] = {}
        for _path, source, label in dict.fromkeys(zip(self.paths, self.sources, self.labels)):
            out.setdefault(source, Counter())["fake" if label else "real"] += 1
        return {k: dict(v) for k, v in out.items()}


def collect_examples(
    pipeline,
    fake: Sequence[str | os.PathLike],
    real: Sequence[str | os.PathLike],
    progress: bool = True,
    frames: int = VIDEO_FRAMES,
    crops: bool | None = None,
) -> Examples:
    """Find and crop the faces of every input (a bad or faceless file is skipped and reported, the rest go on).

    ``crops``: as ``predict --crops``: None recognises face crops, True takes every image whole.
    """
    from tqdm.auto import tqdm

    from ..faces.batch import expand_media

    items = []
    for label, folders in ((1, fake), (0, real)):
        for folder in folders:
            found = expand_media([folder])
            if not found:
                raise AdaptInputError(f"{folder}: no images or videos there")
            items += [(p, label, _source_name(folder)) for p in found]
    examples = Examples()
    for path, label, source in tqdm(items, desc="finding faces", unit="file", disable=not progress):
        _add_file(pipeline, examples, path, label, source, frames, crops)
    examples.groups = near_duplicate_groups(examples)
    return examples


def _source_name(folder: str | os.PathLike) -> str:
    path = Path(folder).resolve()
    return path.name if path.is_dir() else path.parent.name


def _add_file(pipeline, examples: Examples, path: str, label: int, source: str, frames: int, crops: bool | None = None) -> None:
    from ..faces.photo import PhotoResult, locate_faces
    from ..imaging.imageio import is_video_path

    detector = pipeline.detector
    if is_video_path(path):
        _add_video(pipeline, examples, path, label, source, frames)
        return
    located = locate_faces(pipeline, path, crops)
    if isinstance(located, PhotoResult):
        examples.skipped.append((path, located.error or "unreadable"))
        return
    if not located.crops:
        examples.skipped.append((path, "no face found"))
        return
    h, w = located.rgb.shape[:2]
    # the most confident face: a photo is one example
    examples.add(detector.decode(located.crops[0]), label, path, source, (w, h), located.rgb)


def _add_video(pipeline, examples: Examples, path: str, label: int, source: str, frames: int) -> None:
    from ..errors import VideoReadError
    from ..faces.videoio import VideoReader

    detector = pipeline.detector
    found = 0
    try:
        with VideoReader(path) as reader:
            for frame in reader.sample(frames):
                faces = pipeline.detect(frame.rgb)
                if faces:
                    h, w = frame.rgb.shape[:2]
                    examples.add(detector.decode(pipeline.crop(frame.rgb, faces[:1])[0]), label, path, source, (w, h), frame.rgb)
                    found += 1
    except VideoReadError as exc:
        examples.skipped.append((path, str(exc)))
        return
    if not found:
        examples.skipped.append((path, "no face found"))


def _dhash(face: np.ndarray) -> int:
    """A 64-bit difference hash of a face (9x8 grey thumbnail; neighbours compared)."""
    from PIL import Image

    grey = np.asarray(Image.fromarray(face).convert("L").resize((9, 8), Image.BILINEAR), dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).reshape(-1)
    return int("".join("1" if b else "0" for b in bits), 2)


def near_duplicate_groups(examples: Examples) -> list[str]:
    """Each crop's group: its file, merged with files whose faces are near-duplicates (so no copy sits on both sides of a split)."""
    from ..utils.unionfind import UnionFind
    from ..utils.unionfind import near_duplicate_groups as groups_of

    dup = groups_of([_dhash(f) for f in examples.faces], max_distance=4)
    sets = UnionFind()
    first: dict[int, str] = {}
    for path, d in zip(examples.paths, dup):
        sets.union(first.setdefault(d, path), path)
    return [sets.find(p) for p in examples.paths]


def check_examples(examples: Examples, min_per_class: int = MIN_PER_CLASS) -> list[str]:
    """Refuse examples that cannot teach anything (raises :class:`AdaptInputError`); returns warnings."""
    files = {label: {p for p, y in zip(examples.paths, examples.labels) if y == label} for label in (0, 1)}
    for label, name, flag in ((1, "fake", "--fake"), (0, "real", "--real")):
        if len(files[label]) < min_per_class:
            raise AdaptInputError(f"{len(files[label])} {name} example(s) with a face in {flag}; at least {min_per_class} are needed")
    by_hash = {label: {h: p for h, p, y in zip(examples.pixel_hashes, examples.paths, examples.labels) if y == label} for label in (0, 1)}
    both = sorted(set(by_hash[0]) & set(by_hash[1]))
    if both:
        h = both[0]
        raise AdaptInputError(
            f"{len(both)} image(s) are in both --fake and --real (e.g. {by_hash[1][h]} and {by_hash[0][h]}); an image cannot teach both"
        )
    return size_and_format_warnings(examples)


def size_and_format_warnings(examples: Examples) -> list[str]:
    """Warnings where the classes differ in image size or file format: a detector can learn those instead of the fake."""
    warnings = []
    side = {label: np.median([np.sqrt(w * h) for (w, h), y in zip(examples.sizes, examples.labels) if y == label]) for label in (0, 1)}
    ratio = max(side.values()) / max(1.0, min(side.values()))
    if ratio > SIZE_RATIO_WARNING:
        warnings.append(
            f"the fake examples' median size is {side[1]:.0f} px and the real ones' {side[0]:.0f} px (x{ratio:.1f}): "
            "the detector may learn the size instead of the fake; give examples of similar size"
        )
    fmt = {label: Counter(f for f, y in zip(examples.formats, examples.labels) if y == label) for label in (0, 1)}
    main = {label: fmt[label].most_common(1)[0][0] for label in (0, 1)}
    if set(fmt[0]).isdisjoint(fmt[1]) or main[0] != main[1]:
        warnings.append(
            f"the fake examples are mostly .{main[1]} ({', '.join(sorted(fmt[1]))}) and the real ones .{main[0]} "
            f"({', '.join(sorted(fmt[0]))}): the detector may learn the file format instead of the fake"
        )
    return warnings
