"""A folder of labelled videos through the product's video path: each video's verdict, and how the classes separate.

    python benchmarks/labelled_videos.py FOLDER [--run RUN_DIR] [--frames 32] [--out DIR]

FOLDER holds ``real/`` and ``fake/`` (videos at any depth below each). Every video goes through
:func:`fakelens.faces.video.predict_video` as ``fakelens predict`` sends it (32 frames, face finding, tracks, pooling),
and is judged as the product judges it: each pooling's score (``topk``, ``mean``, ``confident``) by the video bands
where they were fitted for that pooling, else by the face bands. Reported per pooling: ROC-AUC of the pooled scores,
the real videos called FAKE and the fakes called FAKE and UNCERTAIN; and a table of every video. With ``--out``,
writes ``labelled_videos.{md,json,png}`` there (the plot: each video's pooled score against the bands).

For example the ten Celeb-DF v2 videos of ``SOURCES.md`` (a smoke test: five real, five fake, one person; too few
to fit or tune anything on), brought out of their repository with
``git --git-dir <mirror of pritama18/Deepfake_Celebdf> archive 3addec2 dataset | tar x -C DIR``, then FOLDER is
``DIR/dataset``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fakelens.faces.pipeline import FacePipeline
from fakelens.faces.video import predict_video
from fakelens.imaging.imageio import VIDEO_EXTENSIONS
from fakelens.inference.detector import DEFAULT_DIR, load

POOLINGS = ("topk", "mean", "confident")


def labelled_videos(folder: Path) -> list[tuple[str, int]]:
    """``(path, label)`` for the videos under ``folder/real`` (0) and ``folder/fake`` (1), sorted by path."""
    found = []
    for name, label in (("real", 0), ("fake", 1)):
        side = folder / name
        if not side.is_dir():
            raise SystemExit(f"{folder}: no {name}/ folder (FOLDER must hold real/ and fake/)")
        found += [(str(p), label) for p in sorted(side.rglob("*")) if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    if not any(label == 0 for _, label in found) or not any(label == 1 for _, label in found):
        raise SystemExit(f"{folder}: needs at least one real and one fake video")
    return found


def summary(labels: np.ndarray, probs: np.ndarray, verdicts: list[str]) -> dict:
    from sklearn.metrics import roc_auc_score

    real, fake = labels == 0, labels == 1
    called = np.asarray(verdicts)
    return {
        "roc_auc": float(roc_auc_score(labels, probs)),
        "real_called_fake": float(np.mean(called[real] == "FAKE")),
        "fakes_called_fake": float(np.mean(called[fake] == "FAKE")),
        "fakes_uncertain": float(np.mean(called[fake] == "UNCERTAIN")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a folder holding real/ and fake/ videos")
    ap.add_argument("--run", default=str(DEFAULT_DIR), help="detector folder (default: the bundled one)")
    ap.add_argument("--frames", type=int, default=32, help="frames sampled from each video (fakelens predict's default)")
    ap.add_argument("--out", type=Path, help="write labelled_videos.{md,json,png} here")
    args = ap.parse_args()
    from tqdm import tqdm

    videos = labelled_videos(args.folder)
    detector = load(args.run)
    pipeline = FacePipeline.of(detector)
    cal = detector.calibration
    rows, t0 = [], time.perf_counter()
    for path, label in tqdm(videos, desc="videos", unit="video"):
        result = predict_video(pipeline, path, frames=args.frames)
        people = sum(t.used for t in result.tracks)
        probs = {p: result.video_probs.get(p) for p in POOLINGS}
        verdicts = {p: (cal.video_verdict(float(v), max(1, people), p) if v is not None else None) for p, v in probs.items()}
        rows.append({"path": path, "label": label, "status": result.status, "people": people, "probs": probs, "verdicts": verdicts})
    seconds = time.perf_counter() - t0

    scored = [r for r in rows if r["status"] == "ok" and r["probs"][POOLINGS[0]] is not None]
    labels = np.asarray([r["label"] for r in scored])
    shipped = cal.video_aggregate if cal.video_bands is not None else None
    results = {}
    for p in POOLINGS:
        if len(set(labels)) == 2:
            results[p] = summary(labels, np.asarray([r["probs"][p] for r in scored]), [r["verdicts"][p] for r in scored])
    n_real, n_fake = int((labels == 0).sum()), int((labels == 1).sum())
    lines = [
        f"{args.folder}: {n_real} real and {n_fake} fake videos scored ({len(rows) - len(scored)} without a face or unreadable), "
        f"{args.frames} frames each, {seconds:.0f} s; detector {detector.model_name}.",
        "",
        "| pooling (bands) | ROC-AUC | real called FAKE | fakes called FAKE | fakes UNCERTAIN |",
        "|---|---|---|---|---|",
    ]
    for p, s in results.items():
        judged = "video bands, as shipped" if p == shipped else "face bands"
        lines.append(
            f"| {p} ({judged}) | {s['roc_auc']:.3f} | {s['real_called_fake']:.0%} | {s['fakes_called_fake']:.0%} | {s['fakes_uncertain']:.0%} |"
        )
    lines += ["", "| video | label | " + " | ".join(POOLINGS) + " |", "|---|---|" + "---|" * len(POOLINGS)]
    for r in rows:
        cells = [f"{r['probs'][p]:.3f} {r['verdicts'][p]}" if r["probs"][p] is not None else r["status"] for p in POOLINGS]
        lines.append(f"| {Path(r['path']).name} | {'fake' if r['label'] else 'real'} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "labelled_videos.md").write_text(table)
        (args.out / "labelled_videos.json").write_text(json.dumps({"seconds": seconds, "summary": results, "videos": rows}, indent=2))
        plot(scored, cal, shipped or "mean", args.out / "labelled_videos.png")


def plot(rows: list[dict], cal, pooling: str, path: Path) -> None:
    """Each video's pooled score by class, with the bands it was judged by."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = cal.video_edges(1, pooling)  # the bands a one-person video is judged by with this pooling
    fig, ax = plt.subplots(figsize=(5, 3.6))
    jitter = np.random.default_rng(0)
    for label, colour in ((0, "#27ae60"), (1, "#c0392b")):
        probs = [r["probs"][pooling] for r in rows if r["label"] == label]
        ax.scatter(label + jitter.uniform(-0.12, 0.12, len(probs)), probs, color=colour, alpha=0.8)
    ax.axhline(edges["fake_from"], color="#c0392b", linestyle="--", label=f"FAKE from {edges['fake_from']:.3f}")
    ax.axhline(edges["real_below"], color="#27ae60", linestyle="--", label=f"REAL below {edges['real_below']:.3f}")
    ax.set_xticks([0, 1], ["real videos", "fake videos"])
    ax.set_ylabel(f"P(FAKE), {pooling} pooling")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
