"""Images/s scoring face crops: the plain path against Ray Data with 1 and 2 single-threaded workers.

    python benchmarks/ray_scaling.py --crops 2000 [--run RUN_DIR] [--workers 1 2]

The plain path is ``Detector.score_files`` in one process (ONNX Runtime on every
core, decoding in a thread pool one batch ahead). The Ray path is
``fakelens predict --ray``: a local Ray instance, one actor per worker holding a
one-thread ONNX detector, decoding in the actor. The Ray figures include starting
the actors and loading a model in each (not starting Ray itself). Both paths score
the same files and must agree to 1e-4.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import sample_images  # noqa: E402

import fakelens  # noqa: E402
from fakelens.scaleout import ray_batch  # noqa: E402


def plain(paths, run, batch_size) -> tuple[float, dict]:
    det = fakelens.load(run, backend="onnx")
    det.score_files(paths[: 2 * batch_size], batch_size=batch_size)  # warm-up
    t = time.perf_counter()
    rows = det.score_files(paths, batch_size=batch_size)
    return len(paths) / (time.perf_counter() - t), {r["path"]: r["prob_fake"] for r in rows}


def on_ray(paths, run, batch_size, workers) -> tuple[float, dict]:
    t = time.perf_counter()
    ds = ray_batch.crop_scores(paths, run=run, batch_size=batch_size, workers=workers)
    probs = {}
    for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        probs.update(zip(batch.column("path").to_pylist(), batch.column("prob_fake").to_pylist()))
    return len(paths) / (time.perf_counter() - t), probs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="run folder (default: the bundled detector)")
    ap.add_argument("--crops", type=int, default=2000, help="face crops to score (the shared DFDC crops when present)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of every path, interleaved; the best round is kept "
                    "(on a machine shared with other jobs the best is the least disturbed)")
    args = ap.parse_args()
    paths = sample_images(args.crops)
    print(f"{fakelens.load(args.run, backend='onnx')!r}; {len(paths)} crops")
    best: dict[str, tuple[float, float]] = {}
    with ray_batch.ray_cluster("local", num_cpus=max(args.workers)):
        for _ in range(args.repeat):
            base, reference = plain(paths, args.run, args.batch_size)
            runs = {"plain (1 process, all cores)": (base, 0.0)}
            for w in args.workers:
                rate, probs = on_ray(paths, args.run, args.batch_size, w)
                runs[f"Ray Data, {w} worker(s) x 1 thread"] = (rate, max(abs(probs[p] - reference[p]) for p in reference))
            for name, figures in runs.items():
                if name not in best or figures[0] > best[name][0]:
                    best[name] = figures
    base = best["plain (1 process, all cores)"][0]
    print("\n| path | images/s | vs plain | max abs diff P(fake) |\n|---|---|---|---|")
    for name, (rate, diff) in best.items():
        print(f"| {name} | {rate:.1f} | {rate / base:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
