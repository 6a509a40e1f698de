"""The one preprocessing path: any image input -> the model's input.

Every entry point (training validation, ``evaluate``, ``predict`` on crops,
photos and videos, ``explain``, ``quantize`` and the service) turns an image
into model input through :meth:`PreprocessConfig.load_face` and
:meth:`PreprocessConfig.normalize`, so the same picture gets the same P(fake)
whichever way it arrives. Before this was one function, a JPEG decoded with
PIL's draft mode (``predict --crops``) and the same JPEG decoded in full
(photos, the service) differed by up to 0.48 in P(fake).

NumPy and Pillow only: the ONNX Runtime path runs without PyTorch, and a
PyTorch op next to ONNX Runtime wakes PyTorch's OpenMP threads, which then
spin against ONNX Runtime's own (measured: batch-1 latency 7.7 ms alone,
15-30 ms interleaved).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterator, Sequence, TypeVar

import numpy as np
from PIL import Image

from .imageio import ImageInput, open_image

T = TypeVar("T")


def resize_square(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to ``size`` (face crops are square already).

    PIL's bilinear resize widens its filter when it shrinks, so it averages
    like an area filter: no aliasing from large crops.
    """
    w, h = im.size
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    if im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    return im


@dataclass(frozen=True)
class PreprocessConfig:
    """How a model wants its input: square size, per-channel normalisation, and whether faces are aligned.

    ``align``: level the eyes and normalise the face's scale (:mod:`fakelens.imaging.align`) before
    resizing; a detector trained on aligned faces must see aligned faces.
    """

    image_size: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    align: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        return cls(int(d["image_size"]), tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]), bool(d.get("align", False)))

    def load_face(self, source: ImageInput) -> np.ndarray:
        """Any image input (path, bytes, array, PIL image) -> uint8 ``HxWx3`` at the model's size.

        The image is always decoded in full (no JPEG draft scaling), then
        centre-cropped to a square, aligned if ``align`` and resized: one result per picture.
        """
        return self.load_face_aligned(source)[0]

    def load_face_aligned(self, source: ImageInput):
        """:meth:`load_face` and the :class:`~fakelens.imaging.align.Alignment` applied (None: not aligned)."""
        im = open_image(source)
        if not self.align:
            return np.asarray(resize_square(im, self.image_size)), None
        aligned, alignment = self.aligned_square(im)
        return np.asarray(resize_square(Image.fromarray(aligned), self.image_size)), alignment

    def aligned_square(self, im: Image.Image):
        """A picture -> (its centre square, aligned at its own side but at most twice the model's, the alignment):
        the step that training (:class:`~fakelens.data.transforms.TrainTransform`) and :meth:`load_face` share."""
        from .align import align_face

        side = min(min(im.size), 2 * self.image_size)  # bounded cost for a large picture
        return align_face(np.asarray(resize_square(im, side)))

    def normalize(self, faces: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """uint8 ``NxHxWx3`` faces at the model's size -> normalised float32 NCHW (C-contiguous)."""
        faces = np.asarray(faces) if not isinstance(faces, np.ndarray) else faces
        if faces.ndim == 3:
            faces = faces[None]
        if faces.dtype != np.uint8:
            raise TypeError(f"faces must be uint8 (got {faces.dtype})")
        mean = np.asarray(self.mean, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
        scale = 1.0 / (np.asarray(self.std, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0)
        out = faces.transpose(0, 3, 1, 2).astype(np.float32, order="C")
        out -= mean
        out *= scale
        return out

    def __call__(self, source: ImageInput) -> np.ndarray:
        """One image -> its normalised ``3xHxW`` float32 input."""
        return self.normalize(self.load_face(source))[0]


def batched(items: Sequence[T], batch_size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``batch_size`` items: the one batching loop."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]
