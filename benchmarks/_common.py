"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import numpy as np

SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "dfdc-faces" / "faces_224"


def sample_images(n: int, folder: Path | None = None) -> list[str]:
    """``n`` JPEG crops: the shared DFDC crops if present, else synthetic ones written to a temp folder."""
    folder = folder or SHARED_FACES
    if folder.is_dir():
        return [str(p) for p in sorted(folder.glob("*.jpg"))[:n]]
    import tempfile

    from PIL import Image

    from fakelens.data.synthetic import make_image

    tmp = Path(tempfile.mkdtemp(prefix="fakelens-bench-"))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = tmp / f"{i:05d}.jpg"
        Image.fromarray(make_image(rng, 224, fake=i % 2 == 1)[0]).save(path, quality=90)
        paths.append(str(path))
    return paths


def timeit(fn, repeat: int, warmup: int = 2) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return np.asarray(times)


def cpu_peak_gflops() -> tuple[float, str]:
    """Theoretical FP32 peak: cores x GHz x FLOPs/cycle (2 FMA units x vector width x 2).

    The clock is the one /proc/cpuinfo reports (often the nominal one); a boost
    clock above it can make a measured fraction exceed 100%.
    """
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    mhz = [float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", info)] or [2500.0]
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split()) if "flags" in info else set()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    flops_per_cycle = 2 * lanes * 2  # two FMA pipes, FMA = 2 FLOPs
    cores = len(os.sched_getaffinity(0))
    ghz = max(mhz) / 1000
    return (
        cores * ghz * flops_per_cycle,
        f"{cores} cores x {ghz:.2f} GHz x {flops_per_cycle} FLOP/cycle ({'avx512' if lanes == 16 else 'avx2' if lanes == 8 else 'sse'})",
    )


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(f"{r.get(c, '')}") for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-|-".join("-" * widths[c] for c in columns))
    for r in rows:
        print(" | ".join(f"{r.get(c, '')}".ljust(widths[c]) for c in columns))


def grouped_bars(
    groups: list[str],
    series: list[tuple[str, list, str | None]],
    path: str,
    ylabel: str,
    title: str,
    rotation: int = 0,
    legend: str = "lower left",
) -> None:
    """One bar per (group, series) with a chance line at 0.5: the leave-one-out and capacity figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(groups))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(9 if rotation else 8, 3.8))
    for i, (label, values, colour) in enumerate(series):
        ax.bar(x - 0.4 + width * (i + 0.5), [v or 0 for v in values], width, label=label, color=colour)
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xticks(x, groups, rotation=rotation)
    ax.set_ylim(0.2, 1.0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc=legend, fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def validation_sample(per_source: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Up to ``per_source`` real and fake validation faces of each source of the bundled detector (its split.csv.gz):
    the images, their labels and their sources."""
    from collections import defaultdict

    import fakelens
    from fakelens.imaging.imageio import load_image
    from fakelens.inference.detector import DEFAULT_DIR
    from fakelens.training.calibrate import validation_faces
    from fakelens.utils.rundir import RunDir

    bundled = fakelens.load()
    faces = validation_faces(RunDir(DEFAULT_DIR).split_file(), bundled.info.get("trained_on") or [])
    by_kind = defaultdict(list)
    for s in faces:
        by_kind[(s.source, s.label)].append(s)
    rng = np.random.default_rng(seed)
    chosen = [s for group in by_kind.values() for s in rng.permutation(group)[:per_source]]
    return [load_image(s.path) for s in chosen], np.asarray([s.label for s in chosen]), [s.source for s in chosen]


def validation_study(doc: str, argv: list[str] | None = None, backend: str = "auto"):
    """The command line of a study over the bundled split's validation faces (``--run RUN ...``, ``--per-source N``):
    its arguments, the sampled images, labels and sources, and ``[(name, detector), ...]``, the bundled one first
    (loaded with ``backend``: "torch" for a study that reads inside the model)."""
    import argparse

    import fakelens

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", default=[], help="a run folder to measure beside the bundled detector (repeatable)")
    ap.add_argument("--per-source", type=int, default=100, help="validation faces of each class per source (default 100)")
    args = ap.parse_args(argv)
    images, labels, sources = validation_sample(args.per_source)
    print(f"{len(images)} validation faces ({int((labels == 0).sum())} real) of the bundled split", file=sys.stderr)
    from fakelens.evaluation.benchmark import detector_names

    runs = [None, *args.run]  # named as benchmark names them: two runs' ".../all-last" keep a name each
    detectors = [(name, fakelens.load(run, backend=backend)) for name, run in zip(detector_names(runs), runs)]
    return args, images, labels, sources, detectors
