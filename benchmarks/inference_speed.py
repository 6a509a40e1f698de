"""Every zoo model: torch eager vs ONNX Runtime on this CPU.

Prints images/s at batch 1 and 32, p50 batch-1 latency, with decoding excluded
(model only) and included (JPEG crops -> Detector.decode -> model), peak memory
(each model runs in its own process), GFLOPs per image and the fraction of the
CPU's theoretical FP32 peak that the ONNX Runtime batch-32 path reaches.

    python benchmarks/inference_speed.py --size 224 [--models efficientnet_lite0 simple_cnn]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_peak_gflops, print_table, sample_images, timeit  # noqa: E402

from fakelens.export.exporter import export_onnx  # noqa: E402
from fakelens.inference.detector import Detector  # noqa: E402
from fakelens.inference.onnx_backend import OnnxRunner, default_threads  # noqa: E402
from fakelens.models import create_model, list_models  # noqa: E402


def gflops(model: torch.nn.Module, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 1e9


def measure_one(name: str, size: int, repeat: int) -> dict:
    torch.set_num_threads(default_threads())
    model = create_model(name).eval()
    det = Detector(model, name)
    det.preprocess = type(det.preprocess)(size, det.preprocess.mean, det.preprocess.std)
    flops = gflops(model, size)
    paths = sample_images(64)
    decoded = [det.decode(p) for p in paths]

    def batch_of(n: int) -> torch.Tensor:
        return torch.from_numpy(det.preprocess.normalize(np.stack(decoded[:n])))

    x1, x32 = batch_of(1), batch_of(32)
    cl_model = model.to(memory_format=torch.channels_last)
    onnx_path = Path(tempfile.mkdtemp()) / f"{name}.onnx"
    export_onnx(det, onnx_path)
    runner = OnnxRunner(onnx_path)

    def torch_run(x):
        with torch.inference_mode():
            cl_model(x.contiguous(memory_format=torch.channels_last))

    def with_decode(infer, n):
        def run():
            arrs = [det.decode(p) for p in paths[:n]]
            infer(torch.from_numpy(det.preprocess.normalize(np.stack(arrs))))
        return run

    out = {"model": name, "size": size, "gflops": round(flops, 3)}
    for backend, infer in (("torch", torch_run), ("onnx", lambda x: runner.run(x.numpy()))):
        t1 = timeit(lambda infer=infer: infer(x1), repeat=max(10, repeat * 4))
        t32 = timeit(lambda infer=infer: infer(x32), repeat=repeat)
        d32 = timeit(with_decode(infer, 32), repeat=repeat)
        out[f"{backend}_b1_ips"] = round(1 / np.median(t1), 1)
        out[f"{backend}_b1_p50_ms"] = round(1000 * np.median(t1), 2)
        out[f"{backend}_b32_ips"] = round(32 / np.median(t32), 1)
        out[f"{backend}_b32_decode_ips"] = round(32 / np.median(d32), 1)
    out["peak_mem_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.size, args.repeat)))
        return
    peak, peak_text = cpu_peak_gflops()
    rows = []
    for name in args.models or list_models():
        proc = subprocess.run([sys.executable, __file__, "--one", name, "--size", str(args.size), "--repeat", str(args.repeat)],
                              capture_output=True, text=True)
        if proc.returncode:
            print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["onnx/torch b32"] = round(r["onnx_b32_ips"] / r["torch_b32_ips"], 2)
        r["% CPU peak (onnx b32)"] = round(100 * r["gflops"] * r["onnx_b32_ips"] / peak, 1)
        rows.append(r)
        print(json.dumps(r), file=sys.stderr)
    print(f"CPU FP32 peak ~{peak:.0f} GFLOP/s = {peak_text} at the clock /proc/cpuinfo reports (boost can exceed it); "
          f"input {args.size}px; ips = images/s; GFLOPs = 2 x multiply-adds")
    print_table(rows, ["model", "gflops", "torch_b1_ips", "torch_b1_p50_ms", "torch_b32_ips", "torch_b32_decode_ips",
                       "onnx_b1_ips", "onnx_b1_p50_ms", "onnx_b32_ips", "onnx_b32_decode_ips", "onnx/torch b32",
                       "% CPU peak (onnx b32)", "peak_mem_mb"])


if __name__ == "__main__":
    main()
