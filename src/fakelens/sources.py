"""Datasets on disk -> a list of labelled samples with a group for splitting.

Three layouts are understood:

* the Kaggle "deepfake-faces" layout: ``metadata.csv`` (videoname, label,
  original, ...) beside ``faces_224/<videoname stem>.jpg``;
* ``real/`` and ``fake/`` folders of images;
* a CSV manifest with columns ``path,label[,group]`` (paths relative to the CSV).

Labels are 0 = REAL and 1 = FAKE. The group is what must never be split
across train/val/test: in DFDC a fake's group is the real video it was made
from (``original``), a real's group is its own video.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .imaging.imageio import is_image_path
from .labels import FAKE, LABEL_NAMES, REAL

#: ``Sample.kind`` of a real face served as a pseudo-fake of a family: ``pf:sbi``, ``pf:xray``, ``pf:region`` (data/pseudofake.py).
PSEUDO_FAKE_KIND = "pf:"
_LABEL_WORDS = {"real": REAL, "0": REAL, "fake": FAKE, "1": FAKE}


@dataclass(frozen=True)
class Sample:
    path: str
    label: int
    group: str
    source: str = ""  # the dataset it came from (multi-source training)
    kind: str = ""  # "" for an image as stored; "sbi" or "pf:<family>": a real face served as a pseudo-fake


def parse_label(value: str, where: str) -> int:
    label = _LABEL_WORDS.get(str(value).strip().lower())
    if label is None:
        raise DataError(f"{where}: unknown label {value!r} (expected REAL/FAKE or 0/1)")
    return label


def load_samples(source: str | os.PathLike, require_both: bool = True) -> list[Sample]:
    """Read any supported layout; raise :class:`DataError` with a clear reason otherwise.

    ``require_both=False`` accepts a one-class source (real photos only, say), for
    training beside other sources.
    """
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise DataError(f"{source}: a dataset file must be a CSV manifest (path,label[,group])")
        samples = _read_manifest(source)
    elif (source / "metadata.csv").is_file():
        samples = _read_kaggle(source)
    elif (source / "real").is_dir() or (source / "fake").is_dir():
        samples = _read_folders(source)
    else:
        raise DataError(
            f"{source}: not a dataset: expected metadata.csv + faces_224/ (Kaggle deepfake-faces), real/ + fake/ folders, or a CSV manifest"
        )
    if require_both:
        _check_classes(samples, source)
    elif not samples:
        raise DataError(f"{source}: no images found")
    return samples


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts; any malformed row or header raises :class:`DataError` naming its line."""
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            columns = [c.strip() for c in header]
            _check_header(path, columns, required)
            for fields in reader:
                if not fields:
                    continue  # a blank line
                if len(fields) > len(columns):
                    raise DataError(
                        f"{path} line {reader.line_num}: {len(fields)} fields but the header has {len(columns)} "
                        "(a comma inside a value must be quoted)"
                    )
                fields += [""] * (len(columns) - len(fields))
                rows.append({c: v.strip() for c, v in zip(columns, fields)})
    except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte, a broken quote
        raise DataError(f"{path} line {reader.line_num}: not a readable CSV row ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return rows


def _check_header(path: Path, columns: list[str], required: list[str]) -> None:
    duplicated = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicated:
        raise DataError(f"{path}: column(s) {', '.join(duplicated)} appear more than once in the header; which one holds the data?")
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(columns) or 'none'})")


def _check_files(samples: list[Sample], source: Path) -> None:
    missing = [s.path for s in samples if not os.path.isfile(s.path)]
    if missing:
        examples = ", ".join(missing[:3])
        raise DataError(f"{source}: {len(missing)} image file(s) listed but missing, e.g. {examples}")


def _read_kaggle(root: Path) -> list[Sample]:
    rows = _read_csv(root / "metadata.csv", ["videoname", "label", "original"])
    faces = root / "faces_224"
    if not faces.is_dir():
        raise DataError(f"{root}: metadata.csv found but the faces_224/ folder is missing")
    samples = []
    for i, row in enumerate(rows, start=2):
        label = parse_label(row["label"], f"{root / 'metadata.csv'} line {i}")
        stem = Path(row["videoname"]).stem
        original = Path(row.get("original") or "").stem
        group = original if label == FAKE and original else stem
        samples.append(Sample(str(faces / f"{stem}.jpg"), label, group))
    _check_files(samples, root)
    return samples


def _read_folders(root: Path) -> list[Sample]:
    samples = []
    for name, label in (("real", REAL), ("fake", FAKE)):
        folder = root / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and is_image_path(path):
                # Without metadata every image is its own group.
                samples.append(Sample(str(path), label, f"{name}/{path.relative_to(folder).with_suffix('')}"))
    return samples


def _read_manifest(path: Path) -> list[Sample]:
    rows = _read_csv(path, ["path", "label"])
    samples = []
    for i, row in enumerate(rows, start=2):
        label = parse_label(row["label"], f"{path} line {i}")
        img = Path(row["path"])
        img = img if img.is_absolute() else path.parent / img
        # Without a group every image is its own, named as the manifest names it: a relative path names it the
        # same on every machine, so the hash split puts it on the same side wherever the data was imported.
        samples.append(Sample(str(img), label, row.get("group") or row["path"]))
    _check_files(samples, path)
    return samples


def _check_classes(samples: list[Sample], source: Path) -> None:
    counts = Counter(s.label for s in samples)
    empty = [LABEL_NAMES[c] for c in (REAL, FAKE) if counts[c] == 0]
    if empty:
        raise DataError(f"{source}: no {' and no '.join(empty)} images found; both classes are needed")
