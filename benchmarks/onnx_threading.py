"""The model pass alone: one ONNX Runtime call on every thread against the batch cut into chunks, one thread each.

    python benchmarks/onnx_threading.py [--run RUN_DIR] [--batch-size 32] [--chunks 0 1 2 4 8 16] [--rounds 3]

Chunk 0 is one call on the whole batch with every thread; chunk k runs pieces of k faces, as many at a time as there
are threads (:class:`fakelens.inference.onnx_backend.OnnxRunner`). The chunk sizes are interleaved round by round, so
a noisy neighbour on the machine hits them alike; the median of the rounds is printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fakelens
from fakelens.inference.onnx_backend import OnnxRunner, default_threads


def images_per_s(runner: OnnxRunner, batch: np.ndarray, repeats: int) -> float:
    runner.run(batch)  # warm-up: the session's first call, and the split's second session
    t = time.perf_counter()
    for _ in range(repeats):
        runner.run(batch)
    return repeats * len(batch) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="run folder (default: the bundled detector)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--chunks", type=int, nargs="+", default=[0, 1, 2, 4, 8, 16])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=4, help="batches timed per round")
    args = ap.parse_args()
    det = fakelens.load(args.run, backend="onnx")
    size = det.preprocess.image_size
    batch = np.random.default_rng(0).uniform(-1, 1, (args.batch_size, 3, size, size)).astype(np.float32)
    runners = {c: OnnxRunner(det.runner.path, chunk=c) for c in args.chunks}
    speeds: dict[int, list[float]] = {c: [] for c in args.chunks}
    for _ in range(args.rounds):
        for c, runner in runners.items():
            speeds[c].append(images_per_s(runner, batch, args.repeats))
    print(f"{det!r}: model pass only, batch {args.batch_size}, {default_threads()} threads, median of {args.rounds} rounds")
    for c in args.chunks:
        how = "one call, every thread" if c == 0 else f"chunks of {c}, one thread each"
        print(f"  {how:32s} {np.median(speeds[c]):6.1f} images/s  (rounds: {', '.join(f'{v:.1f}' for v in speeds[c])})")


if __name__ == "__main__":
    main()
