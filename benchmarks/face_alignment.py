"""Face alignment (fakelens.imaging.align): the canonical face place and scale of the training crops, how well a tilt
is undone, and what it costs.

    python benchmarks/face_alignment.py --crops ../shared/data/dfdc-faces/faces_224 --n 300

Prints the medians of the landmark centre and of the eye-mouth distance over the crops (the constants
``CANONICAL_CENTRE`` and ``CANONICAL_EYE_MOUTH``), then turns each crop by +-10/20/30 degrees and reports the roll
read back (median absolute error after subtracting the upright crop's own roll) and the milliseconds per crop.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fakelens.imaging.align import align_face, measure, rotation_about, warp
from fakelens.imaging.imageio import load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", required=True, help="a folder of square face crops")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted(Path(args.crops).glob("*.jpg"))
    rng = np.random.default_rng(args.seed)
    files = [files[i] for i in rng.choice(len(files), min(args.n, len(files)), replace=False)]
    centres, eye_mouth, errors, found = [], [], {d: [] for d in (-30, -20, -10, 10, 20, 30)}, 0
    seconds = 0.0
    for f in files:
        rgb = load_image(f)
        side = rgb.shape[0]
        t = time.perf_counter()
        points = measure(rgb)
        seconds += time.perf_counter() - t
        if points is None:
            continue
        found += 1
        eye_mid = points[:2].mean(axis=0)
        centres.append(((eye_mid + points[2]) / 2) / side)
        eye_mouth.append(np.linalg.norm(points[2] - eye_mid) / side)
        roll0 = np.degrees(np.arctan2(*(points[1] - points[0])[::-1]))
        for d in errors:
            turned = warp(rgb, rotation_about((side / 2, side / 2), d), side)
            p = measure(turned)
            if p is not None:
                roll = np.degrees(np.arctan2(*(p[1] - p[0])[::-1]))
                errors[d].append(abs((roll - roll0) + d))  # turning by +d counter-clockwise reads as roll -d
    print(f"crops {len(files)}, face found in {found}; measure {1000 * seconds / len(files):.1f} ms a crop")
    c = np.median(np.asarray(centres), axis=0)
    print(f"CANONICAL_CENTRE = ({c[0]:.3f}, {c[1]:.3f})   CANONICAL_EYE_MOUTH = {np.median(eye_mouth):.3f}")
    for d, e in errors.items():
        print(f"turned {d:+d} deg: roll error median {np.median(e):.1f}, 90th pct {np.percentile(e, 90):.1f} deg ({len(e)} found)")
    t = time.perf_counter()
    for f in files[:100]:
        align_face(load_image(f))
    print(f"align_face: {1000 * (time.perf_counter() - t) / min(100, len(files)):.1f} ms a crop (decode included)")


if __name__ == "__main__":
    main()
