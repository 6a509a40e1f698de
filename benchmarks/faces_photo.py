"""Face detection recall and speed on photos, and whether re-made crops score like the originals.

Each shared DFDC crop is pasted at a random position and size into a 1280x720
photo (blurred noise or a natural photo from scikit-image, alternating). The
face detector runs on the photo; the face counts as found when the crop
re-made from the detection overlaps the pasted crop with IoU >= 0.5. With
``--run``, the re-made crop is scored and compared with the original crop's
P(fake), alongside two ablations: the same crop without the JPEG round trip,
and a naive crop (the detector's box, squared, no fitted framing).

    python benchmarks/faces_photo.py --n 300 --run runs/lite0 [--face-detector res10]

Timings are per photo for detection only (the photo is already decoded):
wall time, and the detecting thread's CPU time, which does not grow when other
processes share the cores.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_FACES  # noqa: E402

from fakelens.faces import FaceBox, FacePipeline, Framing, create_face_detector, crop_face, crop_region  # noqa: E402

NATURAL = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "colorwheel")


def natural_backgrounds(width: int, height: int) -> list[np.ndarray]:
    import skimage.data

    out = []
    for name in NATURAL:
        im = np.asarray(getattr(skimage.data, name)())
        if im.ndim == 2:
            im = np.stack([im] * 3, axis=-1)
        h, w = im.shape[:2]
        scale = max(width / w, height / h)
        im = cv2.resize(im[..., :3], (int(np.ceil(w * scale)), int(np.ceil(h * scale))), interpolation=cv2.INTER_LINEAR)
        out.append(np.ascontiguousarray(im[:height, :width]))
    return out


def noise_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    small = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(SHARED_FACES.parent))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--run", help="run folder: also compare P(fake) of original and re-made crops")
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--face-detector", default="yuface")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--min-side", type=int, default=96, help="smallest pasted crop side (px)")
    ap.add_argument("--max-side", type=int, default=448, help="largest pasted crop side (px)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    root = Path(args.data)
    if not (root / "metadata.csv").is_file():
        sys.exit(f"{root}: no shared DFDC crops here; nothing to measure")
    rows = list(csv.DictReader(open(root / "metadata.csv")))
    rng = np.random.default_rng(args.seed)
    sample = random.Random(args.seed).sample(rows, min(args.n, len(rows)))
    naturals = natural_backgrounds(args.width, args.height)
    face_detector = create_face_detector(args.face_detector)
    face_detector.detect(np.zeros((args.height, args.width, 3), np.uint8))  # warm-up

    found, wall, cpu, false_pos, cases = [], [], [], 0, []
    for i, row in enumerate(sample):
        crop = cv2.imread(str(root / "faces_224" / f"{Path(row['videoname']).stem}.jpg"))[:, :, ::-1].copy()
        photo = noise_background(rng, args.width, args.height) if i % 2 == 0 else naturals[(i // 2) % len(naturals)].copy()
        side = int(round(np.exp(rng.uniform(np.log(args.min_side), np.log(args.max_side)))))
        x, y = int(rng.integers(0, args.width - side)), int(rng.integers(0, args.height - side))
        photo[y : y + side, x : x + side] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if side < 224 else cv2.INTER_LINEAR)
        truth = (x, y, x + side, y + side)

        t_wall, t_cpu = time.perf_counter(), time.thread_time()
        faces = face_detector.detect(photo)
        cpu.append(time.thread_time() - t_cpu)
        wall.append(time.perf_counter() - t_wall)

        overlaps = [iou(crop_region(face_detector.framing.square(f), args.height, args.width), truth) for f in faces]
        best = int(np.argmax(overlaps)) if faces else -1
        hit = best >= 0 and overlaps[best] >= 0.5
        found.append(hit)
        false_pos += sum(o < 0.1 for o in overlaps)
        if hit:
            cases.append((row, crop, photo, faces[best], side, overlaps[best], truth))

    recall = float(np.mean(found))
    print(f"{face_detector!r} on {len(sample)} DFDC crops pasted into {args.width}x{args.height} photos "
          f"(crop side {args.min_side}-{args.max_side} px, log-uniform; noise and natural backgrounds)")
    print(f"  recall (re-made crop IoU >= 0.5 with the pasted crop): {recall:.4f} ({sum(found)}/{len(found)})")
    print(f"  false detections: {false_pos} in {len(found)} photos")
    print(f"  IoU of the re-made crop with the pasted one: mean {np.mean([c[5] for c in cases]):.3f}")
    print(f"  detection per photo: wall median {1000 * np.median(wall):.1f} ms, mean {1000 * np.mean(wall):.1f} ms; "
          f"thread CPU median {1000 * np.median(cpu):.1f} ms (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

    if not args.run:
        print("  (no --run: P(fake) comparison skipped)")
        return
    import fakelens

    detector = fakelens.load(args.run, backend=args.backend)
    pipeline = FacePipeline(detector, face_detector)
    originals = detector.predict_proba([c[1] for c in cases])
    framing = face_detector.framing
    naive = Framing(side_scale=1.0)

    def naive_box(face: FaceBox) -> FaceBox:
        return FaceBox(face.x0, face.y0, face.x1, face.y1, face.score)

    def pasted_square(case) -> FaceBox:
        # The exact pasted region as a box-only face, framed 1:1: what a perfect framing would cut.
        x, y = [(int(v)) for v in case[6][:2]]
        return FaceBox(x, y, x + case[4], y + case[4], 1.0)

    variants = {
        "oracle: the pasted square, no JPEG": [crop_face(c[2], pasted_square(c), naive, jpeg_quality=None) for c in cases],
        "oracle: the pasted square + JPEG q75": [crop_face(c[2], pasted_square(c), naive) for c in cases],
        "fitted framing + JPEG q75 (default)": [pipeline.crop(c[2], [c[3]])[0] for c in cases],
        "fitted framing, no JPEG round trip": [crop_face(c[2], c[3], framing, jpeg_quality=None) for c in cases],
        "naive: detector box squared": [crop_face(c[2], naive_box(c[3]), naive) for c in cases],
    }
    sides = np.array([c[4] for c in cases])
    print(f"{detector!r}: P(fake) of the original crop vs the crop re-made from the photo ({len(cases)} found faces)")
    for name, crops in variants.items():
        remade = detector.predict_proba(crops)
        diff = np.abs(remade - originals)
        same = np.mean((remade >= detector.threshold) == (originals >= detector.threshold))
        by_size = ", ".join(
            f"{lo}-{hi}px {diff[(sides >= lo) & (sides < hi)].mean():.3f}"
            for lo, hi in ((args.min_side, 160), (160, 288), (288, args.max_side + 1)) if ((sides >= lo) & (sides < hi)).any()
        )
        print(f"  {name:<37} mean |diff| {diff.mean():.4f}  median {np.median(diff):.4f}  p90 {np.percentile(diff, 90):.4f}  "
              f"same label {same:.3f}  by side: {by_size}")


if __name__ == "__main__":
    main()
