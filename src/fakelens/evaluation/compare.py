"""Leaderboards across runs (Markdown, CSV and a bar chart), sorted by ROC-AUC."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import RunDirError
from ..utils.atomic import write_csv, write_text
from .plots import plot_leaderboard

COLUMNS = ["name", "model", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece", "threshold", "n", "train_minutes", "train_images_seen"]


def read_run_metrics(run_dir: Path) -> dict:
    for candidate in (run_dir / "eval" / "metrics.json", run_dir / "metrics.json"):
        if candidate.is_file():
            metrics = json.loads(candidate.read_text())
            break
    else:
        raise RunDirError(f"{run_dir}: no metrics.json; run 'fakelens evaluate {run_dir}' first")
    detector = json.loads((run_dir / "detector.json").read_text()) if (run_dir / "detector.json").is_file() else {}
    test = metrics.get("test", metrics)
    info = detector.get("info", {})
    return {"name": run_dir.name, "model": detector.get("model", metrics.get("model")), **{k: test.get(k) for k in COLUMNS[2:11]},
            "train_minutes": info.get("train_minutes"), "train_images_seen": info.get("train_images_seen")}


def compare_runs(run_dirs: list[str | os.PathLike], out: str | os.PathLike) -> list[dict]:
    rows = [read_run_metrics(Path(r)) for r in run_dirs]
    rows.sort(key=lambda r: (r["roc_auc"] is not None, r["roc_auc"] or 0), reverse=True)
    out = Path(out)
    write_csv(out / "leaderboard.csv", rows, COLUMNS)
    fmt = lambda v: "" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| rank | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    lines += [f"| {i} | " + " | ".join(fmt(r[c]) for c in COLUMNS) + " |" for i, r in enumerate(rows, 1)]
    write_text(out / "leaderboard.md", "# Leaderboard (test split, sorted by ROC-AUC)\n\n" + "\n".join(lines) + "\n")
    plot_leaderboard(rows, out / "leaderboard.png")
    return rows
