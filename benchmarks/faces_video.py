"""Seconds to score a video end to end: decode 32 frames, find and crop the faces, link them, score, aggregate.

Two synthetic H.264 clips with a real face (``skimage.data.astronaut()``)
moving over a photo background:

* ``32 frames, 1280x720``: every frame is sampled;
* ``10 s, 1920x1080, 300 frames``: the shape of a DFDC clip, 32 frames sampled.

    python benchmarks/faces_video.py [--run runs/lite0]

Without ``--run`` an untrained efficientnet_lite0 at 160 px is timed: the same
computation as the trained model. Also prints the time of each stage.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fakelens.faces import FacePipeline, VideoReader, predict_video
from fakelens.faces.guided import GuidedFaceFinder


def make_clip(path: Path, width: int, height: int, n_frames: int, fps: int = 30) -> None:
    import av
    import skimage.data

    head = np.ascontiguousarray(skimage.data.astronaut()[20:230, 130:320])
    scale = height / 720 * 1.4
    head = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    bg = cv2.resize(skimage.data.coffee(), (width, height), interpolation=cv2.INTER_LINEAR)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(n_frames):
            frame = bg.copy()
            x = int((width - head.shape[1]) * (0.1 + 0.8 * i / max(1, n_frames - 1)))
            y = int(height * 0.15)
            frame[y : y + head.shape[0], x : x + head.shape[1]] = head
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def load_detector(run: str | None, backend: str):
    import fakelens

    if run:
        return fakelens.load(run, backend=backend)
    from fakelens import Detector, create_model
    from fakelens.imaging.preprocess import PreprocessConfig
    from fakelens.models import get_model_spec

    spec = get_model_spec("efficientnet_lite0").preprocess
    return Detector(create_model("efficientnet_lite0"), "efficientnet_lite0", PreprocessConfig(160, spec.mean, spec.std))


def stages(pipeline: FacePipeline, path: Path, frames: int, full_every: int) -> dict[str, float]:
    t = time.perf_counter()
    with VideoReader(path) as reader:
        decoded = list(reader.sample(frames))
    t_decode = time.perf_counter() - t
    t = time.perf_counter()
    finder = GuidedFaceFinder(pipeline.face_detector, full_every=full_every)
    faces = [finder(f.rgb) for f in decoded]
    t_detect = time.perf_counter() - t
    t = time.perf_counter()
    crops = [c for f, fs in zip(decoded, faces) for c in pipeline.crop(f.rgb, fs)]
    t_crop = time.perf_counter() - t
    t = time.perf_counter()
    pipeline.score(crops)
    t_score = time.perf_counter() - t
    return {"decode": t_decode, "detect": t_detect, "crop": t_crop, "score": t_score, "faces": len(crops)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="run folder (default: an untrained efficientnet_lite0 at 160 px, for timing)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    detector = load_detector(args.run, args.backend)
    pipeline = FacePipeline(detector)
    tmp = Path(tempfile.mkdtemp(prefix="fakelens-video-bench-"))
    clips = {
        "32 frames, 1280x720": (tmp / "clip720.mp4", 1280, 720, 32),
        "10 s, 1920x1080, 300 frames": (tmp / "clip1080.mp4", 1920, 1080, 300),
    }
    print(f"{detector!r}; {pipeline.face_detector!r}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for name, (path, w, h, n) in clips.items():
        make_clip(path, w, h, n)
        predict_video(pipeline, path, frames=args.frames)  # warm-up
        for full_every in (8, 1):
            times, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                result = predict_video(pipeline, path, frames=args.frames, full_detect_every=full_every)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            parts = stages(pipeline, path, args.frames, full_every)
            mode = "whole frame searched every 8th frame (default)" if full_every == 8 else "whole frame searched every frame"
            print(f"{name}, {mode}: {args.frames} frames sampled, {len(result.faces)} faces in {len(result.tracks)} track(s), "
                  f"verdict {result.label} {result.prob_fake:.3f}")
            print(f"  end to end: median {np.median(times):.2f} s (min {min(times):.2f} s; process CPU {np.median(cpu):.2f} s)")
            print("  stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items() if k != "faces"))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
