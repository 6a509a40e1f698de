"""What reading provenance costs: read_provenance per image, and crop throughput (``predict --crops``) with and without it.

Typical JPEGs are the shared DFDC crops (synthetic ones when absent); the
files that carry provenance are made as the tests make them (a C2PA-signed
JPEG, an AUTOMATIC1111 PNG, an XMP JPEG). Throughput runs alternate with and
without provenance, ``--rounds`` times each, and report the median.

    python benchmarks/provenance_speed.py --n 1000 --rounds 3
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "provenance"))
from _common import print_table, sample_images  # noqa: E402

import fakelens  # noqa: E402
from fakelens.provenance import read_provenance  # noqa: E402


def per_image_ms(sources, repeat: int = 3) -> tuple[float, float]:
    """(median, p95) milliseconds of read_provenance over ``sources`` (the p95 shows a shared CPU's stalls)."""
    times = []
    for _ in range(repeat):
        for s in sources:
            t = time.perf_counter()
            read_provenance(s)
            times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times)), 1000 * float(np.percentile(times, 95))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="crops scored per throughput run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--folder", type=Path, help="JPEG crops to use (default: the shared DFDC crops, else synthetic ones)")
    args = ap.parse_args()
    import provkit as kit

    paths = sample_images(args.n, args.folder)
    tmp = Path(paths[0]).parent if "fakelens-bench-" in paths[0] else None
    made = Path(__import__("tempfile").mkdtemp(prefix="fakelens-prov-"))
    carriers = {"C2PA-signed JPEG": kit.signed_jpeg(), "AUTOMATIC1111 PNG": kit.a1111_png(), "XMP JPEG": kit.xmp_jpeg(),
                "EXIF Software JPEG": kit.exif_jpeg("Midjourney v6")}
    rows = []
    median, p95 = per_image_ms(paths[:500])
    rows.append({"input": f"typical JPEG crops ({min(500, len(paths))}, {'synthetic' if tmp else 'DFDC'})", "median ms": f"{median:.3f}",
                 "p95 ms": f"{p95:.3f}"})
    for name, data in carriers.items():
        path = made / f"{name.replace(' ', '_')}"
        path.write_bytes(data)
        read_provenance(path)  # first use starts the c2pa library
        median, p95 = per_image_ms([path] * 50)
        rows.append({"input": name, "median ms": f"{median:.3f}", "p95 ms": f"{p95:.3f}"})
    print_table(rows, ["input", "median ms", "p95 ms"])

    det = fakelens.load(backend="onnx")
    det.score_files(paths[: 2 * args.batch_size], batch_size=args.batch_size)  # warm-up
    # Wall time on a shared CPU swings by several percent between runs; CPU time (all threads of this process) is
    # what provenance itself adds, so both are reported.
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for provenance in (False, True):
            t, c = time.perf_counter(), time.process_time()
            det.score_files(paths, batch_size=args.batch_size, provenance=provenance)
            rates[provenance].append(len(paths) / (time.perf_counter() - t))
            cpu[provenance].append(1000 * (time.process_time() - c) / len(paths))
    off, on = float(np.median(rates[False])), float(np.median(rates[True]))
    cpu_off, cpu_on = float(np.median(cpu[False])), float(np.median(cpu[True]))
    print()
    print_table([{"crop scoring": name, "crops/s (median)": f"{np.median(rates[flag]):.1f}",
                  "runs": ", ".join(f"{r:.1f}" for r in rates[flag]), "CPU ms/crop (median)": f"{np.median(cpu[flag]):.2f}"}
                 for name, flag in (("without provenance", False), ("with provenance", True))],
                ["crop scoring", "crops/s (median)", "runs", "CPU ms/crop (median)"])
    print(f"\nwith provenance: throughput {100 * (on - off) / off:+.1f}%, CPU per crop {100 * (cpu_on - cpu_off) / cpu_off:+.1f}% "
          f"({len(paths)} crops, batch {args.batch_size}, {det!r})")

if __name__ == "__main__":
    main()
