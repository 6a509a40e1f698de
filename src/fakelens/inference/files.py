"""Batch prediction over files, folders and manifests -> rows -> CSV, JSON or Parquet."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import FakelensError
from ..imaging.imageio import is_image_path
from ..utils.atomic import require_pyarrow, write_csv, write_json, write_parquet

PREDICT_COLUMNS = ["path", "prob_fake", "label", "error", "evidence"]


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given (an unreadable one is reported per row); folders expanded to their images, sorted."""
    paths: list[str] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths.extend(str(p) for p in sorted(item.rglob("*")) if p.is_file() and is_image_path(p))
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


def write_rows(rows: list[dict], output: str | os.PathLike, columns: list[str] = PREDICT_COLUMNS) -> None:
    """CSV, or JSON / Parquet when the file name ends in .json / .parquet; written atomically."""
    output = Path(output)
    if output.suffix.lower() == ".json":
        write_json(output, rows)
        return
    extra = [k for r in rows for k in r if k not in columns]
    columns = columns + list(dict.fromkeys(extra))
    (write_parquet if output.suffix.lower() == ".parquet" else write_csv)(output, rows, columns)
