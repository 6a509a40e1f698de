"""Batch prediction over files and folders -> rows -> CSV or JSON."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..data.imageio import is_image_path
from ..utils.atomic import write_csv, write_json

PREDICT_COLUMNS = ["path", "prob_fake", "label", "error"]


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


def write_rows(rows: list[dict], output: str | os.PathLike, columns: list[str] = PREDICT_COLUMNS) -> None:
    """CSV, or JSON when the file name ends in .json; written atomically."""
    output = Path(output)
    if output.suffix.lower() == ".json":
        write_json(output, rows)
    else:
        extra = [k for r in rows for k in r if k not in columns]
        write_csv(output, rows, columns + list(dict.fromkeys(extra)))
