"""One HTML page (and Markdown) that compares runs: leaderboard, overlaid ROC
curves, confusion matrices, training curves, calibration and a gallery of
right and wrong verdicts."""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..utils.atomic import write_text
from ..utils.markdown import markdown_link_target, markdown_text
from ..utils.paths import safe_child, safe_name
from ..utils.rundir import RunDir
from .compare import COLUMNS, compare_runs
from .plots import plot_confusion, plot_reliability, plot_roc


def _predictions(run: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    path = RunDir(run).eval_predictions
    rows = list(csv.DictReader(open(path))) if path.is_file() else []
    return (np.array([int(r["label"]) for r in rows]), np.array([float(r["prob_fake"]) for r in rows]), [r["path"] for r in rows])


def _img_tag(path: Path, width: int = 420) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" width="{width}">'


def _thumb(path: str, size: int = 96) -> str:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
    except OSError:
        return "<span>(image unavailable)</span>"
    return f'<img src="data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode()}" width="{size}">'


def _gallery(labels, probs, paths, threshold: float, per_kind: int = 6) -> str:
    if not len(labels):
        return "<p>No predictions saved.</p>"
    pred = (probs >= threshold).astype(int)
    cells = []
    for title, mask in (("Correct", pred == labels), ("Wrong", pred != labels)):
        idx = np.flatnonzero(mask)
        # the most confident of each kind: what the model is surest about, right or wrong
        idx = idx[np.argsort(-np.abs(probs[idx] - threshold))][:per_kind]
        items = "".join(
            f"<figure>{_thumb(paths[i])}<figcaption>{'FAKE' if labels[i] else 'REAL'} &rarr; P(fake) {probs[i]:.2f}</figcaption></figure>"
            for i in idx
        )
        cells.append(f"<h4>{title} verdicts</h4><div class='gallery'>{items or 'none'}</div>")
    return "".join(cells)


def _plot_path(out: Path, run_name: str, kind: str) -> Path:
    """``out/plots/<run>_<kind>.png``: a run's name (a folder name, chosen by whoever made the run) stays a plain file name."""
    return safe_child(out / "plots", safe_name(f"{run_name}_{kind}.png"))


def write_report(run_dirs: list[str | os.PathLike], out: str | os.PathLike, gallery: bool = True) -> Path:
    out = Path(out)
    runs = [Path(r) for r in run_dirs]
    rows = compare_runs(runs, out)
    by_name = {r.name: r for r in runs}
    curves, sections, md = {}, [], []
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for row in rows:
        run = by_name[row["name"]]
        plot = functools.partial(_plot_path, out, row["name"])
        labels, probs, paths = _predictions(run)
        detector = json.loads(RunDir(run).detector_config.read_text()) if RunDir(run).detector_config.is_file() else {}
        info = detector.get("info", {})
        if len(labels):
            curves[row["name"]] = (labels, probs)
            plot_reliability(
                labels,
                probs,
                plot("reliability"),
                title=f"{row['name']}: ECE {row['ece']:.3f} (before calibration on val: "
                f"{info.get('calibration', info).get('val_ece_before_calibration', float('nan')):.3f})",
            )
        conf = json.loads(RunDir(run).eval_metrics.read_text())["confusion_matrix"] if RunDir(run).eval_metrics.is_file() else None
        if conf:
            plot_confusion(conf, plot("confusion"), title=row["name"])
        if (run / "plots" / "history.png").is_file():  # copied, so that report.md's links work from the report folder
            shutil.copyfile(run / "plots" / "history.png", plot("history"))
        robustness = []
        for rob in sorted(run.glob("robustness-*/robustness.png")):  # written by `fakelens robustness RUN --data ...`
            robustness.append(plot(rob.parent.name))
            shutil.copyfile(rob, robustness[-1])
        figs = [p for p in (plot("confusion"), plot("reliability"), plot("history"), *robustness) if p.is_file()]
        budget = f"{info.get('train_minutes', '?')} min on this machine, {info.get('train_images_seen', '?')} images seen, best epoch {info.get('best_epoch', '?')} of {info.get('epochs_run', '?')}"
        sections.append(
            f"<section><h3>{html.escape(row['name'])} ({html.escape(str(row['model']))})</h3>"
            f"<p>Compute: {html.escape(budget)}. Threshold {detector.get('threshold', 0.5):.3f}, temperature {detector.get('temperature', 1.0):.3f}.</p>"
            + "".join(_img_tag(p, 360) for p in figs)
            + (_gallery(labels, probs, paths, detector.get("threshold", 0.5)) if gallery else "")
            + "</section>"
        )
        md.append(
            f"### {markdown_text(row['name'])} ({markdown_text(row['model'])})\n\nCompute: {markdown_text(budget)}.\n\n"
            + "\n".join(f"![]({markdown_link_target(p.relative_to(out.resolve()).as_posix())})" for p in figs)
        )
    if curves:
        plot_roc(curves, out / "plots" / "roc_all.png", title="ROC, test split")
    fmt = lambda v: "" if v is None else f"{v:.4f}" if isinstance(v, float) else html.escape(str(v))  # noqa: E731
    table = (
        "<table><tr>"
        + "".join(f"<th>{c}</th>" for c in COLUMNS)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{fmt(r[c])}</td>" for c in COLUMNS) + "</tr>" for r in rows)
        + "</table>"
    )
    roc = _img_tag(out / "plots" / "roc_all.png", 480) if curves else ""
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>fakelens report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} th{{background:#f3f3f3}} section{{margin:2em 0;border-top:1px solid #ddd}}
.gallery{{display:flex;flex-wrap:wrap;gap:8px}} figure{{margin:0;font-size:12px;text-align:center}}</style></head><body>
<h1>fakelens report</h1><p>Test split of each run (groups never cross splits). 0 = REAL, 1 = FAKE.</p>
<h2>Leaderboard</h2>{table}{_img_tag(out / "leaderboard.png", 640)}<h2>ROC curves</h2>{roc}<h2>Runs</h2>{"".join(sections)}</body></html>"""
    write_text(out / "report.html", page)
    write_text(
        out / "report.md",
        "# fakelens report\n\n"
        + (out / "leaderboard.md").read_text().split("\n", 2)[2]
        + "\n![leaderboard](leaderboard.png)\n\n![ROC](plots/roc_all.png)\n\n"
        + "\n\n".join(md)
        + "\n",
    )
    return out / "report.html"
