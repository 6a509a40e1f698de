import io

import numpy as np
import pytest
from PIL import Image

from fakelens.errors import ImageReadError
from fakelens.imaging import imageio
from fakelens.imaging.imageio import load_image


def _save(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    "image, fmt",
    [
        (Image.new("CMYK", (20, 10), (0, 255, 255, 0)), "JPEG"),
        (Image.fromarray(np.full((10, 20), 40000, dtype=np.uint16)), "PNG"),
        (Image.new("L", (20, 10), 128), "PNG"),
        (Image.new("RGBA", (20, 10), (255, 0, 0, 128)), "PNG"),
        (Image.new("P", (20, 10), 3), "PNG"),
    ],
)
def test_odd_modes_become_rgb(image, fmt):
    arr = load_image(_save(image, fmt))
    assert arr.shape == (10, 20, 3) and arr.dtype == np.uint8


def test_sixteen_bit_is_scaled_not_clipped():
    arr = load_image(_save(Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16))))
    assert 120 < arr.mean() < 135


def test_exif_rotation_is_applied():
    im = Image.new("RGB", (30, 10), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    arr = load_image(_save(im, "JPEG", exif=exif.tobytes()))
    assert arr.shape == (30, 10, 3)


def test_truncated_and_non_images(tmp_path):
    data = _save(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    with pytest.raises(ImageReadError, match="corrupt|truncated|not a readable"):
        load_image(data[: len(data) // 3])
    bad = tmp_path / "x.jpg"
    bad.write_text("hello")
    with pytest.raises(ImageReadError, match="not a readable image"):
        load_image(bad)
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "missing.jpg")


def test_decompression_bomb_refused(monkeypatch):
    data = _save(Image.new("L", (400, 400)), "PNG")
    monkeypatch.setattr(imageio, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageReadError, match="pixel limit"):
        load_image(data)
