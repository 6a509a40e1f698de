"""Synthetic, learnable real/fake images for tests, demos and benchmarks.

"Real" images are smooth random colour fields with a face-like ellipse;
"fake" ones carry a blended square patch of up-sampled noise with a hard seam,
imitating a pasted, re-sampled face region. The patch box is returned so that
explanation tests can check where a model looks.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def make_image(rng: np.random.Generator, size: int = 64, fake: bool = False, patch_frac: float = 0.35):
    """Return ``(uint8 HxWx3 image, patch box (x0, y0, x1, y1) or None)``."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(60, 200, 3)
    grad = rng.uniform(-60, 60, (2, 3))
    img = base + xx[..., None] * grad[0] + yy[..., None] * grad[1]
    # a soft face-like ellipse
    cy, cx = rng.uniform(0.4, 0.6, 2)
    ell = ((xx - cx) / 0.3) ** 2 + ((yy - cy) / 0.38) ** 2 < 1
    img[ell] = img[ell] * 0.6 + np.array([205, 160, 135]) * 0.4
    img += rng.normal(0, 4, img.shape)
    box = None
    if fake:
        p = max(4, int(size * patch_frac))
        x0, y0 = rng.integers(0, size - p, 2)
        coarse = rng.uniform(0, 255, (max(2, p // 4), max(2, p // 4), 3)).astype(np.uint8)
        patch = np.asarray(Image.fromarray(coarse).resize((p, p), Image.NEAREST), dtype=np.float64)
        img[y0 : y0 + p, x0 : x0 + p] = 0.3 * img[y0 : y0 + p, x0 : x0 + p] + 0.7 * patch
        box = (int(x0), int(y0), int(x0 + p), int(y0 + p))
    return np.clip(img, 0, 255).astype(np.uint8), box


def make_kaggle_dataset(root: str | Path, per_class: int = 60, size: int = 64, seed: int = 0) -> Path:
    """Write a tiny dataset in the Kaggle "deepfake-faces" layout; every fake is made from a real."""
    root = Path(root)
    faces = root / "faces_224"
    faces.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(per_class):
        real_name, fake_name = f"real{i:04d}.mp4", f"fake{i:04d}.mp4"
        Image.fromarray(make_image(rng, size)[0]).save(faces / f"real{i:04d}.jpg", quality=95)
        Image.fromarray(make_image(rng, size, fake=True)[0]).save(faces / f"fake{i:04d}.jpg", quality=95)
        rows.append([real_name, size, size, "REAL", ""])
        rows.append([fake_name, size, size, "FAKE", real_name])
    with open(root / "metadata.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["videoname", "original_width", "original_height", "label", "original"])
        writer.writerows(rows)
    return root


def make_folder_dataset(root: str | Path, per_class: int = 30, size: int = 64, seed: int = 1) -> Path:
    """Write ``real/`` and ``fake/`` folders of synthetic images."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name, fake in (("real", False), ("fake", True)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(make_image(rng, size, fake=fake)[0]).save(root / name / f"{i:04d}.png")
    return root


def add_texture(img: np.ndarray, rng: np.random.Generator, amplitude: float = 10.0, period: float = 4.0) -> np.ndarray:
    """``img`` with a faint periodic texture (a stand-in for a generator's upsampling trace): a new kind of fake to adapt to."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + phase)
    return np.clip(img.astype(np.float64) + amplitude * wave[..., None], 0, 255).astype(np.uint8)


def make_adapt_folders(
    root: str | Path, per_class: int = 40, size: int = 160, seed: int = 0, amplitude: float = 10.0, ext: str = "jpg"
) -> tuple[Path, Path]:
    """``root/fake`` (face-like images with a faint texture) and ``root/real`` (the same kind of images without): for ``fakelens adapt``."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    folders = []
    for name in ("fake", "real"):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img, _ = make_image(rng, size)
            if name == "fake":
                img = add_texture(img, rng, amplitude)
            Image.fromarray(img).save(folder / f"{name}_{i:04d}.{ext}", quality=95)
        folders.append(folder)
    return folders[0], folders[1]
