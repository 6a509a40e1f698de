"""How are the DFDC training crops framed? Fits the constants in ``fakelens.faces.cropping``.

Each shared crop is padded by half its side with a border (black by default)
so the detector sees the whole face, the detector is run, and the crop square
is expressed relative to the detected face. Prints the box position inside the
crop, the fitted :class:`Framing` and how well re-framing recovers the
original crop (IoU), for the border used and for an edge-replicated border
(a sensitivity check: the DFDC crops cut the forehead off, so what lies above
it changes the detector's box).

    python benchmarks/faces_framing.py --n 1000 --face-detector yuface
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_FACES  # noqa: E402

from fakelens.faces.cropping import Framing, _eye_mouth_distance, _landmark_centre  # noqa: E402
from fakelens.faces.detectors import FaceBox, create_face_detector  # noqa: E402


def detect_in_padded(detector, crop: np.ndarray, border: str) -> FaceBox | None:
    pad = crop.shape[0] // 2
    mode = cv2.BORDER_CONSTANT if border == "black" else cv2.BORDER_REPLICATE
    padded = cv2.copyMakeBorder(crop, pad, pad, pad, pad, mode, value=(0, 0, 0))
    faces = detector.detect(padded)
    return faces[0].scaled(1.0, -pad, -pad) if faces else None


def fit(faces: list[FaceBox], side: float) -> Framing:
    box = np.array([np.sqrt(f.area) for f in faces])
    if faces[0].landmarks is not None:
        ratio = float(np.median([_eye_mouth_distance(f) for f in faces] / box))
        framing = Framing(1.0, 0.0, 0.0, ratio)
    else:
        framing = Framing(1.0)
    size = np.array([framing.face_size(f) for f in faces])
    centre = np.array([framing.face_centre(f) for f in faces])
    return Framing(
        side_scale=round(float(np.median(side / size)), 3),
        centre_dx=round(float(np.median((side / 2 - centre[:, 0]) / size)), 3),
        centre_dy=round(float(np.median((side / 2 - centre[:, 1]) / size)), 3),
        eye_mouth_ratio=None if framing.eye_mouth_ratio is None else round(framing.eye_mouth_ratio, 3),
    ), np.std(np.log(side / size))


def iou_with_crop(square, side: float) -> float:
    x0, y0, x1, y1 = square
    ix = max(0.0, min(x1, side) - max(x0, 0.0))
    iy = max(0.0, min(y1, side) - max(y0, 0.0))
    inter = ix * iy
    return inter / ((x1 - x0) * (y1 - y0) + side * side - inter)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(SHARED_FACES.parent))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--face-detector", default="yuface")
    args = ap.parse_args()
    root = Path(args.data)
    rows = list(csv.DictReader(open(root / "metadata.csv")))
    widths = np.array([int(r["original_width"]) for r in rows])
    heights = np.array([int(r["original_height"]) for r in rows])
    print(f"{len(rows)} crops; square within 1 px: {(np.abs(widths - heights) <= 1).sum()}, "
          f"larger differences: {(np.abs(widths - heights) > 1).sum()} (max {np.abs(widths - heights).max()} px)")
    sample = random.Random(args.seed).sample(rows, min(args.n, len(rows)))
    crops = [cv2.imread(str(root / "faces_224" / f"{Path(r['videoname']).stem}.jpg"))[:, :, ::-1].copy() for r in sample]
    detector = create_face_detector(args.face_detector)
    side = float(crops[0].shape[0])

    t = time.perf_counter()
    found = [detect_in_padded(detector, c, "black") for c in crops]
    ms = 1000 * (time.perf_counter() - t) / len(crops)
    faces = [f for f in found if f is not None]
    print(f"{detector!r}: found {len(faces)}/{len(crops)} faces ({ms:.1f} ms per 448x448 padded crop)")
    b = np.array([[f.x0, f.y0, f.x1, f.y1] for f in faces]) / side
    for name, col in zip(("x0", "y0", "x1", "y1"), b.T):
        print(f"  box {name} / crop side: median {np.median(col):.3f}  p10 {np.percentile(col, 10):.3f}  p90 {np.percentile(col, 90):.3f}")
    wh = np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
    print(f"  crop side / sqrt(box w*h): median {np.median(1 / wh):.3f}; box h/w median {np.median((b[:, 3] - b[:, 1]) / (b[:, 2] - b[:, 0])):.3f}")
    if faces[0].landmarks is not None:
        lc = np.array([_landmark_centre(f) for f in faces]) / side
        print(f"  landmark centre in crop: x {np.median(lc[:, 0]):.3f} y {np.median(lc[:, 1]):.3f}")

    framing, spread = fit(faces, side)
    print(f"  fitted: {framing}  (log-std of side/size {spread:.3f})")
    box_only = fit([FaceBox(f.x0, f.y0, f.x1, f.y1, f.score) for f in faces], side)[0]
    for border in ("black", "replicate"):
        found_b = found if border == "black" else [detect_in_padded(detector, c, border) for c in crops]
        found_b = [f for f in found_b if f is not None]
        for name, fr in (("fitted", framing), ("box only", box_only)):
            ious = [iou_with_crop(fr.square(f), side) for f in found_b]
            print(f"  border={border:<9} {name:<8}: IoU with the original crop mean {np.mean(ious):.3f}, p10 {np.percentile(ious, 10):.3f}")


if __name__ == "__main__":
    main()
