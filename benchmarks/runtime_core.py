"""The detector core's numbers (issue: one core, light install): start-up, speed with and without --crops, consistency.

    python benchmarks/runtime_core.py [--n 1000] [--venv .venv-runtime]

* ``fakelens --help`` wall time (median of 5 runs);
* a folder of face crops scored end to end (decode included, start-up excluded), with ``--crops``
  (``Detector.score_files``) and without it (``predict_media``: each image recognised as a crop first; as the
  CLI does it, in worker processes whose start-up is inside the timing, and in one process);
* the same 672 px crop through the CLI, the Python API and the service: the spread of P(fake);
* with ``--venv``: the size of that environment on disk and whether PyTorch is in it.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import sample_images  # noqa: E402

import fakelens  # noqa: E402


def help_seconds(fakelens_bin: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([fakelens_bin, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def folder_speed(paths: list[str], crops: bool, workers: int | None = None) -> float:
    from fakelens.faces.batch import predict_media
    from fakelens.faces.pipeline import FacePipeline

    det = fakelens.load()
    if crops:
        det.score_files(paths[:64])  # warm-up: sessions and thread pools
        t = time.perf_counter()
        rows = det.score_files(paths)
        assert all(not r["error"] for r in rows)
    else:
        pipeline = FacePipeline(det)
        predict_media(pipeline, paths[:32])
        t = time.perf_counter()
        results = predict_media(pipeline, paths, workers=workers)  # None: as the CLI (worker processes start inside the timing)
        kinds = {r.kind for r in results}
        assert kinds <= {"crop", "photo"}, kinds
    return len(paths) / (time.perf_counter() - t)


def consistency(fakelens_bin: str, crop: str) -> dict[str, float]:
    from fastapi.testclient import TestClient
    from PIL import Image

    from fakelens.service.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "face672.jpg"
        Image.open(crop).convert("RGB").resize((672, 672), Image.BICUBIC).save(big, quality=92)
        out = Path(tmp) / "cli.csv"
        subprocess.run([fakelens_bin, "predict", str(big), "--crops", "--output", str(out)], check=True, capture_output=True)
        cli = float(out.read_text().splitlines()[1].split(",")[1])
        det = fakelens.load()
        api = float(det.predict_proba([str(big)])[0])
        with TestClient(create_app(det)) as client:
            answer = client.post("/v1/detect", files={"file": ("face.jpg", big.read_bytes())}).json()
        service = float(answer["faces"][0]["prob_fake"])
    return {"cli": cli, "api": api, "service": service}


def venv_size(venv: Path) -> tuple[float, bool, bool]:
    total = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())
    has_torch = any((venv / "lib").glob("python3*/site-packages/torch"))
    has_opencv = any((venv / "lib").glob("python3*/site-packages/cv2"))
    return total / 2**20, has_torch, has_opencv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--venv", help="a runtime environment (pip install . in a fresh venv) to measure")
    args = ap.parse_args()
    fakelens_bin = shutil.which("fakelens") or str(Path(sys.executable).parent / "fakelens")
    print(f"fakelens --help: {help_seconds(fakelens_bin):.3f} s (median of 5)")
    paths = sample_images(args.n)
    print(f"folder of {len(paths)} crops with --crops: {folder_speed(paths, True):.1f} images/s")
    print(f"folder of {len(paths)} crops without --crops (recognised), as the CLI: {folder_speed(paths, False):.1f} images/s")
    print(f"  the same in one process (--workers 1): {folder_speed(paths, False, workers=1):.1f} images/s")
    probs = consistency(fakelens_bin, paths[0])
    print(f"672 px crop, P(fake): {probs}; spread {max(probs.values()) - min(probs.values()):.2e}")
    if args.venv:
        size, has_torch, has_opencv = venv_size(Path(args.venv))
        print(f"runtime environment {args.venv}: {size:.0f} MB, PyTorch {'present' if has_torch else 'absent'}, "
              f"OpenCV {'present' if has_opencv else 'absent'}")


if __name__ == "__main__":
    main()
