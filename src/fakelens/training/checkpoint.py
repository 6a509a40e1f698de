"""Atomic per-epoch checkpoints that survive a kill at any moment.

Each epoch goes into a fresh folder ``checkpoints/epoch-NNN/`` (weights as
safetensors, optimiser/scheduler/bookkeeping as a tensors-only torch file);
only when it is complete does the pointer file ``checkpoints/LATEST`` move
to it (``os.replace``), and older folders are then removed. The best
epoch's weights are kept apart, in the run folder's ``best.safetensors``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import RunDirError, UnsafePathError
from ..utils.atomic import write_text
from ..utils.paths import safe_child
from ..utils.rundir import WEIGHTS, RunDir

STATE, POINTER = "state.pt", "LATEST"
BEST_WEIGHTS = "best.safetensors"


def save_checkpoint(run_dir: str | Path, epoch: int, model: torch.nn.Module, state: dict) -> Path:
    root = RunDir(run_dir).checkpoints
    folder = root / f"epoch-{epoch:03d}"
    tmp = root / f".epoch-{epoch:03d}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp / WEIGHTS))
    torch.save(state, tmp / STATE)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    write_text(root / POINTER, folder.name + "\n")
    for old in root.glob("epoch-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The folder ``checkpoints/LATEST`` names, if complete; :class:`RunDirError` when it names one outside ``checkpoints/``."""
    root = RunDir(run_dir).checkpoints
    pointer = root / POINTER
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    try:
        folder = safe_child(root, name)
    except UnsafePathError:
        raise RunDirError(
            f"{pointer} names {name!r}, which is not a checkpoint inside {root}; a run folder is trusted input, so "
            f"check where this one came from (remove {root} to start the run again)"
        ) from None
    return folder if (folder / WEIGHTS).is_file() and (folder / STATE).is_file() else None


def load_checkpoint(folder: Path, model: torch.nn.Module) -> dict:
    """Load the weights into ``model`` and return the saved state; :class:`RunDirError` (one line) if either is unreadable."""
    try:
        model.load_state_dict(load_file(str(folder / WEIGHTS)))
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise RunDirError(f"{folder / WEIGHTS}: not loadable weights ({_first_line(exc)})") from None
    try:
        return torch.load(folder / STATE, map_location="cpu", weights_only=True)
    # Damaged bytes reach the weights-only unpickler's internals, which raise whatever they meet (IndexError on
    # an empty stack, KeyError, struct.error, ...): any failure to read the state is a corrupt state.
    except Exception as exc:  # noqa: BLE001
        raise RunDirError(
            f"{folder / STATE}: corrupt or not a checkpoint state ({exc.__class__.__name__}: {_first_line(exc)}); "
            f"remove {folder.parent} to start the run again"
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
