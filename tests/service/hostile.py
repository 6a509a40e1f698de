"""Hostile inputs, built small in memory: decompression bombs, wide PNGs, the MJPEG size switch, face grids, long videos.

Shared by the hardening tests and ``benchmarks/hostile_inputs.py`` (which
puts ``tests/`` on ``sys.path`` and imports ``service.hostile``).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from fractions import Fraction

import numpy as np
from PIL import Image


# ------------------------------------------------------------------ decompression bombs: a header, no pixels
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header(width: int, height: int) -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def gif_header(width: int, height: int) -> bytes:
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0, 0, 0)
        + b","
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02\x02\x4c\x01\x00;"
    )


def bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\0" * 16


def jpeg_header(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 12, 3) + b"\x01\x00\x02\x00\x03\x00\x00\x3f\x00"
    return b"\xff\xd8" + sof + sos + b"\x00" * 16 + b"\xff\xd9"


BOMBS = {"png": png_header, "gif": gif_header, "bmp": bmp_header, "jpeg": jpeg_header}


# ------------------------------------------------------------------ small files, large pictures
def _encode(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def grey16_png(side: int) -> bytes:
    """A 16-bit grey PNG of ``side`` x ``side`` pixels: a few hundred KB at 8000 px."""
    a = np.zeros((side, side), np.uint16)
    a[::97] = 40000
    return _encode(Image.fromarray(a))


def palette_png_with_transparency(side: int) -> bytes:
    im = Image.new("P", (side, side), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    return _encode(im, transparency=1)


# ------------------------------------------------------------------ videos
def _jpeg(width: int, height: int, level: int = 90) -> bytes:
    # grey: a 16000 px square costs 256 MB to make rather than 1 GB
    return _encode(Image.new("L", (width, height), level), "JPEG", quality=50)


def mjpeg_size_switch(path, container: str = "matroska", big: int = 4000, small: int = 64, n: int = 30, big_frames=range(10, 20)):
    """MJPEG whose codec header says ``small`` x ``small`` and whose frames ``big_frames`` are ``big`` x ``big`` JPEGs."""
    import av

    small_jpeg, big_jpeg = _jpeg(small, small), _jpeg(big, big)
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = small, small, "yuvj420p"
        for i in range(n):
            packet = av.Packet(big_jpeg if i in big_frames else small_jpeg)
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, i, i, Fraction(1, 10)
            out.mux(packet)
    return path


def long_video(path, frames: int, side: int = 16, fps: int = 25):
    """H.264 with one keyframe at the start (an 'infinite' keyframe interval): sampling must decode forward."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.gop_size = frames + 1
        stream.options = {"preset": "ultrafast", "keyint": str(frames + 1), "min-keyint": str(frames + 1), "scenecut": "0"}
        for i in range(frames):
            frame = np.full((side, side, 3), i % 256, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path


# ------------------------------------------------------------------ many faces
def face_grid(head: np.ndarray, rows: int, cols: int, cell: int = 96) -> np.ndarray:
    """``rows`` x ``cols`` copies of a head photo (yuface finds each) on a plain background."""
    import cv2

    tile = cv2.resize(head, (cell, cell), interpolation=cv2.INTER_AREA)
    grid = np.full((rows * (cell + 16) + 16, cols * (cell + 16) + 16, 3), 128, np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = 16 + r * (cell + 16), 16 + c * (cell + 16)
            grid[y : y + cell, x : x + cell] = tile
    return grid


def astronaut_head() -> np.ndarray:
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[20:230, 130:320])


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    return _encode(Image.fromarray(rgb), "JPEG", quality=quality)


# ------------------------------------------------------------------ measuring
def peak_rss_delta_mb(setup: str, work: str, timeout: float = 120) -> dict:
    """Run ``setup`` then ``work`` in a fresh Python; the peak RSS increase (MB) ``work`` caused and its seconds.

    A fresh process, because ``ru_maxrss`` only grows: earlier tests would hide the peak.
    """
    code = (
        "import json, resource, time\n" + setup + "\n"
        "_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "_t = time.perf_counter()\n" + work + "\n"
        "print(json.dumps({'peak_mb': (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - _base) / 1024,"
        " 'seconds': time.perf_counter() - _t}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])
