"""Reading images from untrusted files into RGB uint8 arrays.

Every entry point (training, predict, the service) reads images through
:func:`load_image` so that odd files are handled the same way everywhere:
EXIF rotation is applied, CMYK / 16-bit / grayscale / palette / alpha images
become 8-bit RGB, and decompression bombs are refused before decoding.

Memory: a decoded image is held once in its own mode, and non-RGB images are
converted a strip of rows at a time straight into the RGB output, so a small
file with a large header (a 16-bit or palette PNG at the pixel limit) costs
about its RGB size plus its decoded size, never a float64 or RGBA copy of
the whole picture.
"""

from __future__ import annotations

import errno
import io
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO, Callable, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageReadError, ImageTooLargeError

#: Largest image we decode (pixels). 8K x 8K: far above any real photo of faces.
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
#: Non-RGB images are converted this many pixels at a time (a strip costs a few MB).
STRIP_PIXELS = 1 << 20

ImageInput = Union[str, os.PathLike, bytes, np.ndarray, Image.Image]

_GREY_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_ORIENTATION_TAG = 0x0112


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


#: Video files, by extension (decoded by :mod:`fakelens.faces.videoio`; named here beside the images so that the one
#: input expander, :func:`fakelens.inference.files.expand_inputs`, knows both).
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts"}


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


#: The formats an image file that fakelens copies as it is (into a tar shard) may be in, with the extension each gets.
COPYABLE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif", "GIF": "gif"}


def image_file_extension(data: bytes, name: str, max_pixels: int | None = None) -> str:
    """The extension of the image that ``data`` holds, from its content (never its name), for copying it as it is.

    ``data`` must be one of :data:`COPYABLE_FORMATS` within the pixel limit and decode whole (cheaply: a JPEG at
    1/8 scale); else :class:`ImageReadError` (a text file, a truncated JPEG, a decompression bomb).
    """
    limit = MAX_IMAGE_PIXELS if max_pixels is None else int(max_pixels)
    with _decode_stream(io.BytesIO(data), name, 1, limit, formats=tuple(COPYABLE_FORMATS)) as im:
        return COPYABLE_FORMATS[im.format]


def open_image(source: ImageInput, draft_size: int | None = None, max_pixels: int | None = None) -> Image.Image:
    """Open and fully decode ``source`` as an RGB PIL image, or raise :class:`ImageReadError`.

    ``draft_size`` lets the JPEG decoder scale by 1/2, 1/4 or 1/8 while decoding
    (never below that size): a large crop headed for a 224 px model decodes
    several times faster, and a 224 px crop is decoded in full as in training.
    ``max_pixels`` (default :data:`MAX_IMAGE_PIXELS`): larger images raise
    :class:`~fakelens.errors.ImageTooLargeError`.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    if isinstance(source, np.ndarray):
        return Image.fromarray(load_image(source))
    im, name = _decode(source, draft_size, max_pixels)
    if im.mode == "RGB":
        ImageOps.exif_transpose(im, in_place=True)  # in place: no second full-size copy
        return im
    return Image.fromarray(_converted(im, name))


def load_image(source: ImageInput, max_pixels: int | None = None) -> np.ndarray:
    """Return ``source`` as an ``HxWx3`` uint8 RGB array (an RGB uint8 array is returned as is)."""
    if isinstance(source, np.ndarray):
        if source.dtype == np.uint8 and source.ndim == 3 and source.shape[2] == 3:
            return np.ascontiguousarray(source)
        return _array_to_uint8(source)
    if isinstance(source, Image.Image):
        return np.asarray(_to_rgb(source))
    im, name = _decode(source, None, max_pixels)
    return _converted(im, name)


# ---------------------------------------------------------------------- decoding
def _decode(source: str | os.PathLike | bytes, draft_size: int | None, max_pixels: int | None) -> tuple[Image.Image, str]:
    """The loaded PIL image (in its own mode) and a name for messages."""
    limit = MAX_IMAGE_PIXELS if max_pixels is None else int(max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode_stream(io.BytesIO(source), "<bytes>", draft_size, limit), "<bytes>"
    name = str(source)
    try:
        fh = open(source, "rb")
    except OSError as exc:
        raise ImageReadError(_os_error(name, exc)) from None
    with fh:  # the decoded pixels stay; the file is closed once they are in memory
        return _decode_stream(fh, name, draft_size, limit), name


def _decode_stream(fp: BinaryIO, name: str, draft_size: int | None, limit: int, formats: tuple[str, ...] | None = None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # PIL only warns between its own limit and twice that; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fp, formats=formats)
            try:
                w, h = im.size
                if w * h > limit:
                    raise ImageTooLargeError(f"{name}: image is {w}x{h} pixels, above the {limit:,} pixel limit")
                if draft_size and im.format == "JPEG":
                    im.draft("RGB", (draft_size, draft_size))
                im.load()
            except BaseException:
                im.close()
                raise
            return im
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL refuses these while reading the header, before we see the size.
        raise ImageTooLargeError(f"{name}: image is above the {limit:,} pixel limit ({exc.__class__.__name__})") from None
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name}: not a readable image ({exc.__class__.__name__})") from None
    except OSError as exc:
        if exc.errno is not None:  # the operating system failed to read, the data may be fine
            raise ImageReadError(_os_error(name, exc)) from None
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None
    except (SyntaxError, ValueError, EOFError, struct.error) as exc:  # truncated or corrupt data
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None


def _os_error(name: str, exc: OSError) -> str:
    """What went wrong opening or reading a file, in words (not 'corrupt image')."""
    if isinstance(exc, FileNotFoundError):
        return f"{name}: file not found"
    if isinstance(exc, IsADirectoryError):
        return f"{name}: is a folder, not an image"
    if isinstance(exc, PermissionError):
        return f"{name}: permission denied"
    if exc.errno == errno.ELOOP:
        return f"{name}: too many levels of symbolic links (a symlink loop?)"
    return f"{name}: cannot read the file ({exc.strerror or exc})"


# ---------------------------------------------------------------------- conversion
def _converted(im: Image.Image, name: str) -> np.ndarray:
    """RGB uint8 array of a loaded image, upright; ``im`` is closed (its memory freed) before rotating."""
    try:
        orientation = _orientation(im)
        rgb = _rgb_array(im)
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{name}: cannot convert a {im.mode} image to RGB ({exc})") from None
    finally:
        im.close()
    return _upright(rgb, orientation)


def _rgb_array(im: Image.Image) -> np.ndarray:
    # Even RGB goes strip by strip: np.asarray(im) would pack the whole image through
    # intermediate bytes (two more full-size copies: +380 MB at 64 M pixels).
    convert = _strip_converter(im)
    w, h = im.size
    out = np.empty((h, w, 3), np.uint8)
    rows = max(1, STRIP_PIXELS // max(1, w))
    for top in range(0, h, rows):
        bottom = min(h, top + rows)
        out[top:bottom] = convert(im.crop((0, top, w, bottom)))
    return out


def _strip_converter(im: Image.Image) -> Callable[[Image.Image], np.ndarray]:
    """A function from a strip of ``im`` to its RGB (or grey, broadcast to RGB) uint8 pixels."""
    if im.mode in _GREY_MODES:
        lo, hi = im.getextrema()
        if im.mode == "F" and lo >= 0.0 and hi <= 1.0:
            top = 1.0  # floats in [0, 1]
        else:
            top = 65535.0 if hi > 255 else 255.0  # a 16-bit image, or 8-bit values in a wider type

        def grey(strip: Image.Image) -> np.ndarray:
            a = np.nan_to_num(np.asarray(strip, dtype=np.float64), copy=False)
            a /= top  # in place, in the same order as a / top * 255, so values round as they always did
            a *= 255.0
            np.clip(a, 0, 255, out=a)
            return np.round(a, out=a).astype(np.uint8)[..., None]

        return grey
    if im.mode in _ALPHA_MODES or (im.mode == "P" and "transparency" in im.info):
        return _over_white
    if im.mode == "RGB":
        return np.asarray
    return lambda strip: np.asarray(strip.convert("RGB"))


def _over_white(strip: Image.Image) -> np.ndarray:
    """Transparent pixels shown over white, as a browser shows them."""
    rgba = strip.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make the image unreadable
        return 1


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (as ``ImageOps.exif_transpose``) to an HxWx3 array."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(rgb)) if op else rgb


def _to_rgb(im: Image.Image) -> Image.Image:
    """An RGB PIL image of an image given as a PIL object (small inputs: API callers)."""
    im = ImageOps.exif_transpose(im) or im
    if im.mode == "RGB":
        return im
    return Image.fromarray(_rgb_array(im))


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


def resize_rgb(rgb: np.ndarray, size: tuple[int, int], resample: int | None = None) -> np.ndarray:
    """``rgb`` resized to ``size`` = (width, height): by default area averaging when shrinking, bilinear when enlarging.

    Pillow's box filter averages the covered source pixels, as OpenCV's INTER_AREA
    does, so shrinking for face search or cropping does not alias; the runtime
    install needs no OpenCV for it. ``resample``: another Pillow filter.
    """
    w, h = int(size[0]), int(size[1])
    if (w, h) == (rgb.shape[1], rgb.shape[0]):
        return rgb
    if resample is None:
        resample = Image.BOX if w <= rgb.shape[1] and h <= rgb.shape[0] else Image.BILINEAR
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((w, h), resample))
