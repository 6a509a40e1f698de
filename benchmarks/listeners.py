"""What scale-out listens on: TCP listeners during a 2-process ``train`` and a ``predict --ray local``.

Runs each command in a subprocess on small synthetic data and samples, every 0.2 s, the TCP sockets that
the command and every process it starts listen on (psutil; what ``ss -ltnp`` shows). Prints one row per
command and exits 1 if any of them listened beyond loopback (issue 31: none may).

    python benchmarks/listeners.py              # fakelens train --nproc-per-node 2, predict --ray local
    python benchmarks/listeners.py --baseline   # also torchrun --standalone, for comparison (not checked)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
from _common import print_table  # noqa: E402

from netwatch import ListenerSampler, beyond_loopback  # noqa: E402

TRAIN = ["train", "--model", "simple_cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "8", "--num-workers", "0",
         "--aug-strength", "0"]


def _data(root: Path) -> tuple[Path, Path]:
    """A tiny Kaggle-layout dataset and a folder of face crops."""
    from PIL import Image

    from fakelens.data.synthetic import make_image, make_kaggle_dataset

    dataset = make_kaggle_dataset(root / "data", per_class=40, size=64, seed=0)
    crops = root / "crops"
    crops.mkdir()
    rng = np.random.default_rng(0)
    for i in range(32):
        Image.fromarray(make_image(rng, 64, fake=i % 2 == 1)[0]).save(crops / f"{i:03d}.jpg")
    return dataset, crops


def _run(cmd: list[str], log: Path, timeout_s: float) -> tuple[int, float, ListenerSampler]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        with ListenerSampler(proc.pid) as sampler:
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
    return code, time.perf_counter() - start, sampler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="also run torchrun --standalone (expected to listen beyond loopback)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per command")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fakelens-listeners-"))
    dataset, crops = _data(work)
    fakelens = [sys.executable, "-m", "fakelens"]
    cases = [("fakelens train --nproc-per-node 2", [*fakelens, *TRAIN, "--data", str(dataset), "--out", str(work / "run-launch"),
                                                    "--nproc-per-node", "2"], True),
             ("fakelens predict --ray local", [*fakelens, "predict", str(crops), "--crops", "--ray", "local", "--ray-workers", "1",
                                               "--output", str(work / "scores.csv")], True)]
    if args.baseline:
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "fakelens"]
        cases.append(("torchrun --standalone (baseline)", [*torchrun, *TRAIN, "--data", str(dataset), "--out", str(work / "run-torchrun")],
                      False))
    rows, failed = [], False
    for name, cmd, checked in cases:
        code, seconds, sampler = _run(cmd, work / f"{len(rows)}.log", args.timeout)
        outside = beyond_loopback(sampler.seen)
        shown = ", ".join(f"{entry.address}:{entry.port} ({entry.process})" for entry in outside) or "none"
        rows.append({"command": name, "exit": code, "seconds": f"{seconds:.1f}", "samples": sampler.samples,
                     "listeners": len(sampler.seen), "beyond loopback": shown})
        if checked and (outside or code != 0):
            failed = True
            print(f"{name}: exit {code}, log {work / f'{len(rows) - 1}.log'}", file=sys.stderr)
    print_table(rows, list(rows[0]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
