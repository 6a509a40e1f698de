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
from safetensors.torch import load_file, save_file

from ..utils.atomic import write_text
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
    root = RunDir(run_dir).checkpoints
    pointer = root / POINTER
    if not pointer.is_file():
        return None
    folder = root / pointer.read_text().strip()
    return folder if (folder / WEIGHTS).is_file() and (folder / STATE).is_file() else None


def load_checkpoint(folder: Path, model: torch.nn.Module) -> dict:
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    return torch.load(folder / STATE, map_location="cpu", weights_only=True)
