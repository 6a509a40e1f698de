"""Leaderboards across runs (Markdown, CSV and a bar chart), sorted by ROC-AUC."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import RunDirError
from ..utils.atomic import write_csv, write_text
from ..utils.markdown import markdown_text
from ..utils.rundir import RunDir
from .plots import plot_leaderboard

COLUMNS = [
    "name",
    "model",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "ece",
    "threshold",
    "n",
    "init",
    "image_size",
    "epochs_run",
    "train_images",
    "train_minutes",
    "train_images_seen",
]


def read_run_metrics(run_dir: Path) -> dict:
    for candidate in (RunDir(run_dir).eval_metrics, RunDir(run_dir).metrics):
        if candidate.is_file():
            metrics = json.loads(candidate.read_text())
            break
    else:
        raise RunDirError(f"{run_dir}: no metrics.json; run 'fakelens evaluate {run_dir}' first")
    detector = json.loads(RunDir(run_dir).detector_config.read_text()) if RunDir(run_dir).detector_config.is_file() else {}
    test = metrics.get("test", metrics)
    info = detector.get("info", {})
    return {
        "name": run_dir.name,
        "model": detector.get("model", metrics.get("model")),
        **{k: test.get(k) for k in COLUMNS[2:11]},
        "init": _init_of(run_dir),
        "image_size": detector.get("preprocess", {}).get("image_size"),
        **{k: info.get(k) for k in ("epochs_run", "train_images", "train_minutes", "train_images_seen")},
    }


def _init_of(run_dir: Path) -> str | None:
    """Where a run's weights started: imagenet, random, scratch, or the run it continued from."""
    from ..models import get_model_spec

    cfg_path = RunDir(run_dir).train_config
    if not cfg_path.is_file():
        return None
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("init_weights"):
        return f"continued from {Path(cfg['init_weights']).name}"
    try:
        pretrainable = get_model_spec(cfg["model"]).pretrainable
    except (KeyError, ValueError):
        return None
    if not pretrainable:
        return "scratch"
    return "imagenet" if cfg.get("pretrained", True) else "random"


def compare_runs(run_dirs: list[str | os.PathLike], out: str | os.PathLike) -> list[dict]:
    rows = [read_run_metrics(Path(r)) for r in run_dirs]
    rows.sort(key=lambda r: (r["roc_auc"] is not None, r["roc_auc"] or 0), reverse=True)
    out = Path(out)
    write_csv(out / "leaderboard.csv", rows, COLUMNS)
    fmt = lambda v: "" if v is None else f"{v:.4f}" if isinstance(v, float) else markdown_text(v)  # noqa: E731
    lines = ["| rank | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    lines += [f"| {i} | " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for i, r in enumerate(rows, 1)]
    write_text(out / "leaderboard.md", "# Leaderboard (test split, sorted by ROC-AUC)\n\n" + "\n".join(lines) + "\n")
    plot_leaderboard(rows, out / "leaderboard.png")
    return rows
