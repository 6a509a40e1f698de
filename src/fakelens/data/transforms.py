"""Image -> tensor transforms: one eval path shared by training and inference,
plus the training augmentations that matter for deepfakes."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2


@dataclass(frozen=True)
class PreprocessConfig:
    """How a model wants its input: square size and per-channel normalisation."""

    image_size: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        return cls(int(d["image_size"]), tuple(d["mean"]), tuple(d["std"]))


def resize_square(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to ``size`` (face crops are square already)."""
    w, h = im.size
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    if im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    return im


def images_to_batch(images: list[Image.Image], cfg: PreprocessConfig) -> torch.Tensor:
    """Resize and normalise RGB PIL images into one float32 NCHW batch."""
    arr = np.stack([np.asarray(resize_square(im, cfg.image_size), dtype=np.uint8) for im in images])
    return normalize_uint8(torch.from_numpy(arr).permute(0, 3, 1, 2), cfg)


def normalize_uint8(batch: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """uint8 NCHW (or CHW) -> normalised float32."""
    mean = torch.tensor(cfg.mean, dtype=torch.float32).view(-1, 1, 1) * 255.0
    std = torch.tensor(cfg.std, dtype=torch.float32).view(-1, 1, 1) * 255.0
    return (batch.float() - mean) / std


def normalize_uint8_numpy(faces: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """uint8 NHWC -> normalised float32 NCHW (C-contiguous), in NumPy.

    The ONNX Runtime path uses this rather than :func:`normalize_uint8`: a PyTorch op
    wakes PyTorch's OpenMP threads, which then spin against ONNX Runtime's own threads
    (measured: batch-1 latency 7.7 ms alone, 15-30 ms interleaved with PyTorch ops).
    """
    mean = np.asarray(cfg.mean, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
    scale = 1.0 / (np.asarray(cfg.std, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0)
    out = faces.transpose(0, 3, 1, 2).astype(np.float32, order="C")
    out -= mean
    out *= scale
    return out


def eval_transform(cfg: PreprocessConfig):
    """PIL image -> normalised CHW tensor, exactly as at predict time."""

    def transform(im: Image.Image) -> torch.Tensor:
        return images_to_batch([im], cfg)[0]

    return transform


def train_transform(cfg: PreprocessConfig, strength: float = 1.0):
    """Augmentations for face crops; ``strength`` in [0, 1] scales how often and how much.

    Besides flips and a mild crop, deepfake detectors must not rely on
    compression or sharpness, which differ between platforms: random JPEG
    re-compression, blur and down/up-scaling teach the model to look past them.
    """
    s = float(np.clip(strength, 0.0, 1.0))
    size = cfg.image_size
    ops: list = [
        v2.PILToTensor(),
        v2.RandomResizedCrop(size, scale=(1.0 - 0.25 * s, 1.0), ratio=(1 - 0.1 * s, 1 + 0.1 * s), antialias=True),
        v2.RandomHorizontalFlip(),
    ]
    if s > 0:
        ops += [
            v2.RandomApply([v2.ColorJitter(0.25 * s, 0.25 * s, 0.2 * s, 0.03 * s)], p=0.5 * s),
            v2.RandomGrayscale(p=0.05 * s),
            v2.RandomApply([_RandomRescale(size, min_scale=1.0 - 0.5 * s)], p=0.25 * s),
            v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 0.3 + 1.2 * s))], p=0.2 * s),
            v2.RandomApply([v2.JPEG((int(95 - 60 * s), 95))], p=0.5 * s),
        ]
    pipeline = v2.Compose(ops)

    def transform(im: Image.Image) -> torch.Tensor:
        return normalize_uint8(pipeline(im), cfg)

    return transform


class _RandomRescale(torch.nn.Module):
    """Down-scale then up-scale back: the softness of a low-resolution source."""

    def __init__(self, size: int, min_scale: float = 0.5):
        super().__init__()
        self.size, self.min_scale = size, min_scale

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        scale = float(np.random.uniform(self.min_scale, 1.0))
        small = max(8, int(self.size * scale))
        img = v2.functional.resize(img, [small, small], antialias=True)
        return v2.functional.resize(img, [self.size, self.size], antialias=True)
