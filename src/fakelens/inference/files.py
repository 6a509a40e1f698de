"""Batch inputs and outputs: files, folders and manifests in (one expander); rows out as CSV, JSON or Parquet (one writer)."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Iterable, TextIO

from ..errors import FakelensError
from ..imaging.imageio import is_image_path, is_video_path
from ..labels import LEGACY_VERDICT_COLUMNS
from ..utils.atomic import require_pyarrow, write_csv, write_json, write_parquet

PREDICT_COLUMNS = ["path", "prob_fake", "verdict", "error", "evidence"]


def expand_inputs(inputs: Iterable[str | os.PathLike], videos: bool = False) -> list[str]:
    """Files as given (an unreadable one is reported per row); folders expanded to their images (and videos, with
    ``videos``), sorted."""
    wanted = (lambda p: is_image_path(p) or is_video_path(p)) if videos else is_image_path
    paths: list[str] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths.extend(str(p) for p in sorted(item.rglob("*")) if p.is_file() and wanted(p))
        else:
            paths.append(str(item))
    return paths


def read_manifest(manifest: str | os.PathLike) -> list[str]:
    """The paths a manifest lists: a text file (one per line) or a Parquet file (a ``path`` column).

    Relative paths are relative to the manifest's folder, as in a dataset's CSV manifest.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FakelensError(f"{manifest}: no such manifest file")
    if manifest.suffix.lower() == ".parquet":
        _, pq = require_pyarrow()
        schema = pq.read_schema(manifest)
        if "path" not in schema.names:
            raise FakelensError(f"{manifest}: a Parquet manifest needs a 'path' column (found: {', '.join(schema.names)})")
        paths = pq.read_table(manifest, columns=["path"]).column("path").to_pylist()
    else:
        paths = manifest.read_text(encoding="utf-8").splitlines()
    return [p for p in (resolve_manifest_path(p, manifest.parent) for p in paths) if p is not None]


def resolve_manifest_path(path: str | None, base: str | os.PathLike) -> str | None:
    """A manifest entry as a path: relative to ``base`` (the manifest's folder) unless absolute; None if blank."""
    path = "" if path is None else str(path).strip()
    return (path if os.path.isabs(path) else os.path.join(base, path)) if path else None


def write_rows(
    rows: list[dict],
    output: str | os.PathLike | None,
    columns: list[str] = PREDICT_COLUMNS,
    stream: TextIO | None = None,
    json_payload=None,
    extra_columns: bool = True,
) -> None:
    """The one writer of batch results: by the file name, ``.json`` (``json_payload``, default the rows),
    ``.parquet`` or CSV, written atomically; with no ``output``, CSV to ``stream`` (standard output).
    Keys not named in ``columns`` follow them, in the order the rows bring them (``extra_columns=False``: dropped)."""
    if extra_columns:
        columns = columns + list(dict.fromkeys(k for r in rows for k in r if k not in columns))
    if output is None:
        writer = csv.DictWriter(stream or sys.stdout, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if r.get(k) is None else r[k]) for k in columns} for r in rows)
        return
    suffix = Path(output).suffix.lower()
    if suffix == ".json":
        write_json(output, rows if json_payload is None else json_payload)
    else:
        (write_parquet if suffix == ".parquet" else write_csv)(output, rows, columns)


def read_rows(path: str | os.PathLike) -> list[dict]:
    """Rows that :func:`write_rows` wrote (CSV, JSON or Parquet), with files of older versions read the same way:
    their ``label``/``image_label``/``video_label`` columns (the verdict under the binary label's name) come back as
    ``verdict``/``image_verdict``/``video_verdict``. CSV values come back as the strings they were written as."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
    elif suffix == ".parquet":
        _, pq = require_pyarrow()
        rows = pq.read_table(path).to_pylist()
    else:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    return [
        {LEGACY_VERDICT_COLUMNS.get(k, k) if LEGACY_VERDICT_COLUMNS.get(k, k) not in row else k: v for k, v in row.items()} for row in rows
    ]
