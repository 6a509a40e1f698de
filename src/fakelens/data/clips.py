"""Short videos built from face crops: video-level validation data where the allowed sources have no videos.

The DFDC crops of the Kaggle set are one frame per video, and the photo
sources are photos. A clip here is one validation face as a talking head seen
by a camera: the crop placed on a smooth background at 60-70% of the frame
height, drifting a few pixels and zooming a little from frame to frame, the
head rolling to and fro (up to 10 degrees, a slow sway), with small brightness
changes, and encoded as H.264 (CRF 23-30, as platforms re-encode). Every frame
therefore differs through codec, resampling and framing, as the frames of a
real video do, while the face keeps its label: the clip goes through
``predict_video`` (face search, tracking, cropping, alignment, the model, the
pooling) like any video, and the video-level bands are fitted on its pooled
score (:mod:`fakelens.training.video_calibration`).

A part-fake clip (:func:`part_fake_faces`) shows a real face with its fake
in one stretch of frames, for measuring the pooling (``benchmarks/part_fake_videos.py``);
the bands are fitted on whole clips. What the clips do not have is the face's own
motion beyond the roll (talking, turning away); the bands
they give hold the share of real videos accused at validation's level for
clips of this kind, which the model card says.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from PIL import Image

#: What a clip is, in words (recorded with the video bands fitted on such clips, and read by the model card).
CLIP_RECIPE = "the face drifting, zooming and rolling to and fro by up to 10 degrees on a background, CRF 23-30"

#: Frame size of the clips (width, height): a 360p-like talking-head frame.
FRAME_SIZE = (384, 288)


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A smooth two-colour gradient: no face-like texture for the face detector."""
    w, h = size
    a, b = rng.integers(30, 200, 3), rng.integers(30, 200, 3)
    t = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    return np.broadcast_to(a + (b - a) * t, (h, w, 3)).astype(np.uint8).copy()


def head_roll(rng: np.random.Generator, n_frames: int, max_roll: float = 10.0) -> np.ndarray:
    """Degrees of roll for each frame: a slow sway (one to two swings a clip) of a random amplitude up to ``max_roll``."""
    amplitude = rng.uniform(0.0, max_roll)
    period = rng.uniform(0.5, 1.0) * max(n_frames, 2)
    phase = rng.uniform(0.0, 2 * np.pi)
    return amplitude * np.sin(2 * np.pi * np.arange(n_frames) / period + phase)


def part_fake_faces(real: np.ndarray, fake: np.ndarray, n_frames: int, n_fake: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A face per frame: the real crop, and the fake crop made from it in one stretch of ``n_fake`` frames.

    A deepfake video often fails only for a stretch (a turn, an occlusion, a fast move); such a clip asks whether
    the pooling lets a few strongly fake frames count. ``real`` and ``fake`` should be of the same scene (a DFDC
    fake and its ``original``), so that the clip is the same person throughout.
    """
    n_fake = int(np.clip(n_fake, 0, n_frames))
    start = int(rng.integers(0, n_frames - n_fake + 1))
    return [fake if start <= k < start + n_fake else real for k in range(n_frames)]


def clip_frames(
    face: np.ndarray | Sequence[np.ndarray],
    rng: np.random.Generator,
    n_frames: int = 12,
    size: tuple[int, int] = FRAME_SIZE,
    rolls: np.ndarray | None = None,
) -> list[np.ndarray]:
    """``n_frames`` RGB frames of a face crop placed, drifting, zooming and rolling on a background.

    ``face``: one crop for every frame, or a crop per frame (:func:`part_fake_faces`), all placed alike.
    ``rolls``: the head's roll in each frame, degrees (default: drawn by :func:`head_roll`).
    """
    faces = [face] * n_frames if isinstance(face, np.ndarray) else list(face)
    if len(faces) != n_frames:
        raise ValueError(f"{len(faces)} faces for {n_frames} frames")
    w, h = size
    background = _background(rng, size)
    side0 = rng.uniform(0.6, 0.7) * h
    x0, y0 = rng.uniform(0.2, 0.8) * (w - side0), rng.uniform(0.3, 0.7) * (h - side0)
    drift = rng.uniform(-1.5, 1.5, 2)  # pixels a frame
    zoom = rng.uniform(-0.004, 0.004)  # relative side change a frame
    rolls = head_roll(rng, n_frames) if rolls is None else np.asarray(rolls, dtype=np.float64)
    frames = []
    # RGBA: the corners a turn uncovers are transparent, so the background shows there, not black
    sources = {id(f): Image.fromarray(np.ascontiguousarray(f)).convert("RGBA") for f in faces}
    for k in range(n_frames):
        source = sources[id(faces[k])]
        side = int(round(np.clip(side0 * (1 + zoom * k), 40, min(w, h) - 2)))
        x = int(round(np.clip(x0 + drift[0] * k, 0, w - side)))
        y = int(round(np.clip(y0 + drift[1] * k, 0, h - side)))
        head = source.resize((side, side), Image.BILINEAR).rotate(float(rolls[k]), resample=Image.BILINEAR)
        frame = Image.fromarray(background)
        frame.paste(head, (x, y), head)
        gain = 1 + rng.normal(0, 0.02)
        frames.append(np.clip(np.asarray(frame, dtype=np.float32) * gain, 0, 255).astype(np.uint8))
    return frames


def write_clip(
    path: str | os.PathLike, face: np.ndarray | Sequence[np.ndarray], rng: np.random.Generator, n_frames: int = 12, fps: float = 10.0
) -> None:
    """A face crop (or a crop per frame) -> an H.264 clip at ``path`` (CRF drawn from 23-30)."""
    from ..faces.videoio import write_video

    write_video(path, clip_frames(face, rng, n_frames), fps=fps, crf=int(rng.integers(23, 31)))
