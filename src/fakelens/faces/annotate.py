"""Pictures of the verdicts: boxes coloured by label with P(fake) written on them,
and the per-frame probability plot of a video."""
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
    """One box to draw: where, P(fake) (None: not scored) and an optional prefix such as a track id."""

    box: tuple[float, float, float, float]
    prob_fake: float | None
    label: str | None
    prefix: str = ""


def draw_faces(rgb: np.ndarray, boxes: Sequence[BoxLabel]) -> np.ndarray:
    """A copy of ``rgb`` with each box outlined (red FAKE, amber UNCERTAIN, green REAL) and captioned ``FAKE 0.93``."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    w, h = image.size
    # Line and text scale with the picture so they read the same on 320 px and 4K.
    thick = max(1, int(round(max(h, w) / 400)))
    font = ImageFont.load_default(size=max(11, int(round(max(h, w) / 60))))
    for item in boxes:
        colour = UNSCORED_RGB if item.prob_fake is None else {"FAKE": FAKE_RGB, "UNCERTAIN": UNCERTAIN_RGB}.get(item.label, REAL_RGB)
        x0, y0, x1, y1 = (int(round(v)) for v in item.box)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=thick)
        text = "no score" if item.prob_fake is None else f"{item.label} {item.prob_fake:.2f}"
        text = f"{item.prefix}{text}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        # Caption above the box, or inside it when the box touches the top edge.
        ty = y0 - th - 4 if y0 - th - 4 >= 0 else min(h - th - 4, y0 + 2)
        tx = min(max(0, x0), max(0, w - tw - 4))
        draw.rectangle((tx, ty, tx + tw + 3, ty + th + 3), fill=colour)
        draw.text((tx + 2 - left, ty + 2 - top), text, fill=(255, 255, 255), font=font)
    return np.asarray(image).copy()


def save_image(path: str | os.PathLike, rgb: np.ndarray, quality: int = 92) -> None:
    """JPEG or PNG by extension, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        fmt = "PNG" if str(path).lower().endswith(".png") else "JPEG"
        Image.fromarray(rgb).save(tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))


def plot_frame_probs(tracks: dict[str, tuple[Sequence[float], Sequence[float]]], threshold: float, title: str, path: str | os.PathLike,
                     x_label: str = "time (s)") -> None:
    """P(fake) per sampled frame, one line per person, with the decision threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, (xs, ps) in tracks.items():
        ax.plot(xs, ps, marker="o", markersize=3, linewidth=1.2, label=name)
    ax.axhline(threshold, color="black", linestyle="--", linewidth=0.8, label=f"threshold {threshold:.2f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x_label)
    ax.set_ylabel("P(fake)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    save_figure(fig, path)
