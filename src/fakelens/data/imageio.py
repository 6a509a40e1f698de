"""Reading images from untrusted files into RGB uint8 arrays.

Every entry point (training, predict, the service) reads images through
:func:`load_image` so that odd files are handled the same way everywhere:
EXIF rotation is applied, CMYK / 16-bit / grayscale / palette / alpha images
become 8-bit RGB, and decompression bombs are refused before decoding.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageReadError

#: Largest image we decode (pixels). 8K x 8K: far above any real photo of faces.
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}

ImageInput = Union[str, os.PathLike, bytes, np.ndarray, Image.Image]


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def open_image(source: ImageInput, draft_size: int | None = None) -> Image.Image:
    """Open and fully decode ``source`` as an RGB PIL image, or raise :class:`ImageReadError`.

    ``draft_size`` lets the JPEG decoder scale by 1/2, 1/4 or 1/8 while decoding
    (never below that size): a large crop headed for a 224 px model decodes
    several times faster, and a 224 px crop is decoded in full as in training.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    if isinstance(source, np.ndarray):
        return _to_rgb(Image.fromarray(_array_to_uint8(source)))
    name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise ImageReadError(f"{name}: image is {w}x{h} pixels, above the {MAX_IMAGE_PIXELS:,} pixel limit")
                if draft_size and im.format == "JPEG":
                    im.draft("RGB", (draft_size, draft_size))
                im.load()
                return _to_rgb(im)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ImageReadError(f"{name}: is a folder, not an image") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"{name}: not a readable image ({exc.__class__.__name__})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None


def load_image(source: ImageInput) -> np.ndarray:
    """Return ``source`` as an ``HxWx3`` uint8 RGB array."""
    return np.asarray(open_image(source))


def _to_rgb(im: Image.Image) -> Image.Image:
    im = ImageOps.exif_transpose(im) or im
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        return Image.fromarray(_array_to_uint8(arr)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _array_to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        out = arr
    elif np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0 and float(np.nanmin(arr)) >= 0.0:
        out = (arr * 255.0).round().astype(np.uint8)
    else:
        arr = arr.astype(np.float64)
        hi = 65535.0 if arr.size and arr.max() > 255 else 255.0
        out = np.clip(arr / hi * 255.0, 0, 255).round().astype(np.uint8)
    if out.ndim == 2:
        out = np.stack([out] * 3, axis=-1)
    elif out.ndim == 3 and out.shape[2] == 4:
        out = out[:, :, :3]
    elif out.ndim != 3 or out.shape[2] != 3:
        raise ImageReadError(f"array of shape {arr.shape} is not an image (expected HxW, HxWx3 or HxWx4)")
    return np.ascontiguousarray(out)
