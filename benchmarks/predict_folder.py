"""End to end: a folder of face crops -> Detector.score_files (decoding included).

    python benchmarks/predict_folder.py [--run RUN_DIR] --n 1000 --backend onnx [--align on|off]

``--align`` overrides the detector's own face alignment (``preprocess.align`` in detector.json), to measure its cost;
``--onnx-chunk`` the faces per single-thread ONNX Runtime call (0: one call on every thread; see
``benchmarks/onnx_threading.py``).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import sample_images  # noqa: E402

import fakelens  # noqa: E402


def end_to_end(det, paths: list[str], batch_size: int = 32) -> dict:
    """Images per second over ``paths`` in batches, and batch-1 latency over 50 of them (decoding included)."""
    det.score_files(paths[: 2 * batch_size], batch_size=batch_size)  # warm-up
    t = time.perf_counter()
    rows = det.score_files(paths, batch_size=batch_size)
    elapsed = time.perf_counter() - t
    assert all(not r["error"] for r in rows)
    lat = []
    for p in [paths[i % len(paths)] for i in range(50)]:
        t1 = time.perf_counter()
        det.score_files([p], batch_size=1)
        lat.append(time.perf_counter() - t1)
    return {"images_per_s": len(paths) / elapsed, "p50_ms": 1000 * np.median(lat), "p95_ms": 1000 * np.percentile(lat, 95)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="run folder (default: the bundled detector)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--align", choices=["on", "off"], help="force face alignment on or off (default: as the detector says)")
    ap.add_argument("--onnx-chunk", type=int, help="faces per single-thread ONNX call (0: the whole batch on every thread)")
    args = ap.parse_args()
    paths = sample_images(args.n)
    det = fakelens.load(args.run, backend=args.backend)
    if args.align:
        det.preprocess = dataclasses.replace(det.preprocess, align=args.align == "on")
    if args.onnx_chunk is not None:
        if det.backend != "onnx":
            raise SystemExit("--onnx-chunk needs the onnx backend")
        det.runner.chunk = args.onnx_chunk
    speed = end_to_end(det, paths, args.batch_size)
    print(f"{det!r} align={det.preprocess.align}")
    print(f"folder of {len(paths)} crops, batch {args.batch_size}: {speed['images_per_s']:.1f} images/s end to end (decode included)")
    print(f"batch-1 latency (decode included): p50 {speed['p50_ms']:.1f} ms, p95 {speed['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
