"""Pictures of the verdicts: boxes coloured by verdict, each with a small number badge (the legend is the
``marker`` column of the result rows), and the per-frame score plot of a video.

Badges, not captions: captions such as ``UNCERTAIN 0.93`` of neighbouring small faces overlapped and became
unreadable, and a bare number beside a verdict read as an accusation. The verdict and its score, on the scale
of the bands, are in the rows beside the picture.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..utils.atomic import atomic_path, save_figure

FAKE_RGB = (220, 40, 40)
REAL_RGB = (40, 180, 70)
UNCERTAIN_RGB = (235, 170, 20)
UNSCORED_RGB = (150, 150, 150)


@dataclass(frozen=True)
class BoxLabel:
    """One box to draw: where, P(fake) (None: not scored), its verdict and the number on its badge (a face or a person)."""

    box: tuple[float, float, float, float]
    prob_fake: float | None
    label: str | None
    number: int | None = None


def place_badges(
    boxes: Sequence[tuple[float, float, float, float]], size: tuple[float, float], width: int, height: int
) -> list[tuple[int, int]]:
    """Top-left corners for one ``size`` (w, h) badge per box, none overlapping another, in the picture.

    Each badge tries the box's top-left corner just inside the box, then just above it, then the other corners;
    where all of those collide (boxes on top of each other) it moves down the box's left edge until free.
    """
    bw, bh = size
    placed: list[tuple[int, int]] = []

    def free(x: int, y: int) -> bool:
        return all(x + bw <= px or px + bw <= x or y + bh <= py or py + bh <= y for px, py in placed)

    def inside(x: float, y: float) -> tuple[int, int]:
        return int(min(max(0, x), max(0, width - bw))), int(min(max(0, y), max(0, height - bh)))

    for x0, y0, x1, y1 in boxes:
        tries = [(x0, y0), (x0, y0 - bh), (x1 - bw, y0), (x0, y1 - bh), (x1 - bw, y1 - bh), (x0, y1)]
        spot = next((p for p in (inside(*t) for t in tries) if free(*p)), None)
        step = 0
        while spot is None:
            step += 1
            candidate = inside(x0 + bw * (step // max(1, int(height // bh))), y0 + bh * step)
            spot = candidate if free(*candidate) or step > 4 * len(boxes) + 8 else None
        placed.append(spot)
    return placed


def draw_faces(rgb: np.ndarray, boxes: Sequence[BoxLabel]) -> np.ndarray:
    """A copy of ``rgb`` with each box outlined (red FAKE, amber UNCERTAIN, green REAL) and its number on a badge."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    w, h = image.size
    # Line and text scale with the picture so they read the same on 320 px and 4K.
    thick = max(1, int(round(max(h, w) / 400)))
    font = ImageFont.load_default(size=max(11, int(round(max(h, w) / 60))))
    texts = [str(item.number) if item.number is not None else "" for item in boxes]
    left, top, right, bottom = draw.textbbox((0, 0), max(texts, key=len, default="") or "0", font=font)
    badge = (right - left + 6, bottom - top + 6)  # one size for all, so the badges can be placed apart
    colours = [
        UNSCORED_RGB if item.prob_fake is None else {"FAKE": FAKE_RGB, "UNCERTAIN": UNCERTAIN_RGB}.get(item.label, REAL_RGB)
        for item in boxes
    ]
    for item, colour in zip(boxes, colours):
        draw.rectangle(tuple(int(round(v)) for v in item.box), outline=colour, width=thick)
    for (x, y), text, colour in zip(place_badges([b.box for b in boxes], badge, w, h), texts, colours):
        if not text:
            continue
        draw.rectangle((x, y, x + badge[0] - 1, y + badge[1] - 1), fill=colour)
        tl, tt, tr, tb = draw.textbbox((0, 0), text, font=font)
        draw.text((x + (badge[0] - (tr - tl)) // 2 - tl, y + (badge[1] - (tb - tt)) // 2 - tt), text, fill=(255, 255, 255), font=font)
    return np.asarray(image).copy()


def save_image(path: str | os.PathLike, rgb: np.ndarray, quality: int = 92) -> None:
    """JPEG or PNG by extension, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        fmt = "PNG" if str(path).lower().endswith(".png") else "JPEG"
        Image.fromarray(rgb).save(tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))


def plot_frame_probs(
    tracks: dict[str, tuple[Sequence[float], Sequence[float]]],
    edges: dict[str, float],
    title: str,
    path: str | os.PathLike,
    x_label: str = "time (s)",
    video_fake_from: float | None = None,
) -> None:
    """The fake-likeness (calibrated P(fake)) per sampled frame, one line per person, with the band edges of a
    person's verdict; ``video_fake_from``: where FAKE starts for the video's verdict, when that is higher (several people)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, (xs, ps) in tracks.items():
        ax.plot(xs, ps, marker="o", markersize=3, linewidth=1.2, label=name)
    real_below, fake_from = edges["real_below"], edges["fake_from"]
    ax.axhline(fake_from, color=np.array(FAKE_RGB) / 255, linestyle="--", linewidth=0.8, label=f"FAKE from {fake_from:.2f}")
    if video_fake_from is not None and video_fake_from > fake_from:
        ax.axhline(
            video_fake_from, color=np.array(FAKE_RGB) / 255, linestyle=":", linewidth=1.0, label=f"video: FAKE from {video_fake_from:.2f}"
        )
    if real_below < fake_from:
        ax.axhline(real_below, color=np.array(REAL_RGB) / 255, linestyle="--", linewidth=0.8, label=f"REAL below {real_below:.2f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x_label)
    ax.set_ylabel("fake-likeness")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    save_figure(fig, path)
