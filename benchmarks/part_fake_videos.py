"""Videos that are fake for only a stretch of frames: does the pooling let those frames count?

    FAKELENS_DFDC=/work/shared/data/dfdc-faces python benchmarks/part_fake_videos.py --pairs 150 --out /work/results/part_fake

A DFDC fake and its ``original`` (the real video it was made from; both on the test side of the detector's split,
which keeps them together) are the same person in the same scene. Each pair becomes 12-frame clips
(:func:`fakelens.data.clips.part_fake_faces`, the calibration clips' framing, drift, roll and codec) showing the real
face with the fake in one stretch of K frames, K in ``--fake-frames`` (0: the real video; 12: a wholly fake one).
Every K of a pair shares one placement, so only the face differs. Each clip goes through ``predict_video`` end to end,
and is judged as the product judges it: ``topk`` pooling by the detector's video bands (what ships), ``mean``
pooling by the face bands. Reported per K: the share of clips called FAKE and UNCERTAIN, and the ROC-AUC of the
pooled scores against the real clips (K = 0). Writes ``part_fake_videos.{md,json,png}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from make_memory_bank import trained_on  # noqa: E402

from fakelens.data.clips import part_fake_faces, write_clip  # noqa: E402
from fakelens.data.multisource import source_side  # noqa: E402
from fakelens.faces.pipeline import FacePipeline  # noqa: E402
from fakelens.faces.video import predict_video  # noqa: E402
from fakelens.imaging.imageio import load_image  # noqa: E402
from fakelens.inference.detector import DEFAULT_DIR, load  # noqa: E402

POOLINGS = ("topk", "mean")
N_FRAMES = 12


def test_pairs(run: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """Up to ``n`` (real, fake) paths of DFDC's test side: a fake and the original it was made from."""
    specs = {s.name: s for s in trained_on(run)}
    if "dfdc" not in specs or not specs["dfdc"].resolved_path.exists():
        raise SystemExit("DFDC's crops are not on this machine (set FAKELENS_DFDC)")
    split = run / "split.csv.gz" if (run / "split.csv.gz").is_file() else run / "split.csv"
    samples = source_side(specs["dfdc"], split, "test")
    reals = {s.group: s.path for s in samples if s.label == 0}
    pairs = [(reals[s.group], s.path) for s in samples if s.label == 1 and s.group in reals]
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in sorted(rng.choice(len(pairs), min(n, len(pairs)), replace=False))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(DEFAULT_DIR), help="a detector folder with video bands (default: the bundled one)")
    ap.add_argument("--pairs", type=int, default=150)
    ap.add_argument("--fake-frames", type=int, nargs="+", default=[0, 1, 2, 3, 4, 6, 12])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/work/results/part_fake")
    args = ap.parse_args()
    if 0 not in args.fake_frames:
        raise SystemExit("--fake-frames needs 0: the real clips every other K is measured against")

    from sklearn.metrics import roc_auc_score
    from tqdm import tqdm

    run = Path(args.run)
    detector = load(run)
    pipeline = FacePipeline.of(detector)
    pairs = test_pairs(run, args.pairs, args.seed)
    scores = {(k, p): [] for k in args.fake_frames for p in POOLINGS}
    missed = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fakelens-part-fake-") as tmp:
        for i, (real_path, fake_path) in enumerate(tqdm(pairs, desc="pairs")):
            real, fake = load_image(real_path), load_image(fake_path)
            for k in args.fake_frames:
                faces = part_fake_faces(real, fake, N_FRAMES, k, np.random.default_rng([args.seed, i, 1]))
                clip = Path(tmp) / f"{i}-{k}.mp4"
                write_clip(clip, faces, np.random.default_rng([args.seed, i]), N_FRAMES)  # one placement for every K
                result = predict_video(pipeline, clip, frames=N_FRAMES)
                clip.unlink()
                if result.prob_fake is None:
                    missed += 1
                    continue
                for p in POOLINGS:
                    scores[(k, p)].append(result.video_probs[p])
    seconds = time.perf_counter() - t0

    cal = detector.calibration
    rows = []
    for k in args.fake_frames:
        for p in POOLINGS:
            probs = np.asarray(scores[(k, p)])
            # as predict_video judges a clip of one person: the video bands for their own pooling, else the face bands
            verdicts = [cal.video_verdict(float(v), 1, p) for v in probs]
            real = np.asarray(scores[(0, p)])
            auc = float(roc_auc_score(np.r_[np.zeros(len(real)), np.ones(len(probs))], np.r_[real, probs])) if k and len(probs) else None
            rows.append(
                {
                    "fake_frames": k,
                    "pooling": p,
                    "clips": len(probs),
                    "fake": verdicts.count("FAKE") / max(1, len(probs)),
                    "uncertain": verdicts.count("UNCERTAIN") / max(1, len(probs)),
                    "auc_vs_real": auc,
                    "mean_prob": float(probs.mean()) if len(probs) else None,
                }
            )
    bands = f"video bands ({cal.video_aggregate}) REAL < {cal.video_bands.real_below:.3f}, FAKE >= {cal.video_bands.fake_from:.3f}" if cal.video_bands else "no video bands"
    lines = [
        f"{len(pairs)} DFDC test pairs (fake + its original), {N_FRAMES}-frame clips, {missed} clips without a face; "
        f"{seconds / 60:.1f} min; {bands}; face bands REAL < {cal.bands.real_below:.3f}, FAKE >= {cal.bands.fake_from:.3f}.",
        "",
        "| fake frames of 12 | pooling (bands) | clips | called FAKE | UNCERTAIN | ROC-AUC vs the real clips |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        judged = "video bands" if cal.video_bands is not None and cal.video_aggregate == r["pooling"] else "face bands"
        auc = "n/a" if r["auc_vs_real"] is None else f"{r['auc_vs_real']:.3f}"
        lines.append(f"| {r['fake_frames']} | {r['pooling']} ({judged}) | {r['clips']} | {r['fake']:.1%} | {r['uncertain']:.1%} | {auc} |")
    table = "\n".join(lines) + "\n"
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "part_fake_videos.md").write_text(table)
    (out / "part_fake_videos.json").write_text(json.dumps({"pairs": len(pairs), "missed": missed, "seconds": seconds, "rows": rows}, indent=2))
    plot(rows, out / "part_fake_videos.png")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for p, colour in zip(POOLINGS, ("#c0392b", "#7f8c8d")):
        mine = [r for r in rows if r["pooling"] == p]
        ax.plot([r["fake_frames"] for r in mine], [100 * r["fake"] for r in mine], "o-", color=colour, label=f"{p} pooling")
    ax.set_xlabel(f"frames showing the fake (of {N_FRAMES})")
    ax.set_ylabel("clips called FAKE (%)")
    ax.set_title("DFDC test pairs as part-fake videos")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
