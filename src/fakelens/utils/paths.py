"""Output paths that stay inside their folder, whatever names the inputs bring.

A name that comes from an input (a photo called ``..jpg``, a manifest row
``real/../../x/face.jpg``, a run folder's name, an entry of ``shards.json``)
must not choose where a file is written or read. :func:`safe_child` is the one
place that joins such a name to its folder: the result is resolved (``..``
and symbolic links followed) and refused unless it lies inside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UnsafePathError

_SEPARATORS = {"/", "\\", os.sep, os.altsep or "/"}


def safe_name(name: str, fallback: str = "input") -> str:
    """``name`` as one plain file name: separators and control characters become ``_``;
    a name of only dots (``.``, ``..``) or nothing becomes ``fallback``."""
    cleaned = "".join("_" if ch in _SEPARATORS or ord(ch) < 32 or ord(ch) == 127 else ch for ch in name).strip()
    return cleaned if cleaned.strip(".") else fallback


def safe_child(folder: str | os.PathLike, name: str | os.PathLike) -> Path:
    """``folder / name`` resolved, or :class:`~fakelens.errors.UnsafePathError` when that is not inside ``folder``.

    ``name`` may hold sub-folders (``real/a/face.jpg``); ``..``, an absolute
    path or a symbolic link that leads out of ``folder`` is refused, and so
    is a name that resolves to ``folder`` itself.
    """
    root = Path(folder).resolve()
    target = (root / name).resolve()
    if root not in target.parents:
        raise UnsafePathError(f"{os.fspath(name)!r} leads outside {os.fspath(folder)}; refused")
    return target
