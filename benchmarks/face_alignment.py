"""Face alignment (fakelens.imaging.align): the canonical face place and scale of the training crops, how well a tilt
is undone, and what it costs.

    python benchmarks/face_alignment.py --crops ../shared/data/dfdc-faces/faces_224 --n 300

Prints the medians of the landmark centre and of the eye-mouth distance over the crops (the constants
``CANONICAL_CENTRE`` and ``CANONICAL_EYE_MOUTH``), then turns each crop by +-10/20/30 degrees and reports the roll
read back (median and 90th-percentile absolute error after subtracting the upright crop's own roll; a face lost on
turning counts as 180 degrees off) and the milliseconds per crop, upright and turned (a head turned more than 8 degrees is measured twice).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fakelens.imaging.align import align_face, eye_roll, measure, rotation_about, warp
from fakelens.imaging.imageio import load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", required=True, help="a folder of square face crops (searched recursively)")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted(p for p in Path(args.crops).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rng = np.random.default_rng(args.seed)
    files = [files[i] for i in rng.choice(len(files), min(args.n, len(files)), replace=False)]
    centres, eye_mouth, errors, found = [], [], {d: [] for d in (-30, -20, -10, 10, 20, 30)}, 0
    seconds = {"upright": 0.0, "turned": 0.0}
    crops = [rgb for rgb in (load_image(f) for f in files) if rgb.shape[0] == rgb.shape[1]]
    measure(crops[0])  # loads the predictor (about a second) and yuface outside the timings
    for rgb in crops:
        side = rgb.shape[0]
        t = time.perf_counter()
        points = measure(rgb)
        seconds["upright"] += time.perf_counter() - t
        if points is None:
            continue
        found += 1
        eye_mid = points[:2].mean(axis=0)
        centres.append(((eye_mid + points[2]) / 2) / side)
        eye_mouth.append(np.linalg.norm(points[2] - eye_mid) / side)
        roll0 = eye_roll(points)
        for d in errors:
            turned = warp(rgb, rotation_about((side / 2, side / 2), d), side)
            t = time.perf_counter()
            p = measure(turned)
            seconds["turned"] += time.perf_counter() - t
            # turning by +d counter-clockwise reads as roll -d; a face lost on turning counts as 180 degrees off
            errors[d].append(180.0 if p is None else abs((eye_roll(p) - roll0) + d))
    print(
        f"crops {len(crops)}, face found in {found}; measure {1000 * seconds['upright'] / len(crops):.1f} ms an upright "
        f"crop, {1000 * seconds['turned'] / max(1, 6 * found):.1f} ms a turned one"
    )
    c = np.median(np.asarray(centres), axis=0)
    print(f"CANONICAL_CENTRE = ({c[0]:.3f}, {c[1]:.3f})   CANONICAL_EYE_MOUTH = {np.median(eye_mouth):.3f}")
    for d, e in errors.items():
        lost = sum(x == 180.0 for x in e)
        print(f"turned {d:+d} deg: roll error median {np.median(e):.1f}, 90th pct {np.percentile(e, 90):.1f} deg ({lost} lost)")
    every = np.concatenate([errors[d] for d in errors])
    print(f"every turn: roll error 90th pct {np.percentile(every, 90):.1f} deg, over 5 degrees {np.mean(every > 5):.1%}")
    t = time.perf_counter()
    for rgb in crops[:100]:
        align_face(rgb)
    print(f"align_face: {1000 * (time.perf_counter() - t) / min(100, len(crops)):.1f} ms a crop")


if __name__ == "__main__":
    main()
