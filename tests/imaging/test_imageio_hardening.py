"""Hostile images: real decompression bombs, 16-bit and palette PNGs at the pixel limit, unreadable files."""

import io
import os

import numpy as np
import pytest
from PIL import Image, ImageOps

from fakelens.errors import ImageReadError, ImageTooLargeError
from fakelens.imaging import imageio
from fakelens.imaging.imageio import load_image, open_image
from service.hostile import BOMBS, grey16_png, palette_png_with_transparency, peak_rss_delta_mb


def _save(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_a_real_decompression_bomb_is_too_large_not_corrupt(kind):
    """A 60000x60000 header (PIL refuses it while opening) is 'too large', the same as a 9000x9000 one we refuse."""
    for side in (60000, 9000):
        with pytest.raises(ImageTooLargeError, match="pixel limit"):
            load_image(BOMBS[kind](side, side))


def test_the_pixel_limit_can_be_given_per_call():
    data = _save(Image.new("L", (400, 400)))
    with pytest.raises(ImageTooLargeError, match="400x400 pixels, above the 10,000 pixel limit"):
        load_image(data, max_pixels=100 * 100)
    assert load_image(data).shape == (400, 400, 3)


def _reference_rgb(im: Image.Image) -> np.ndarray:
    """What the conversion gave before strips: the whole image at once, transparency over white."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        return np.asarray(Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("mode", ["P", "P+transparency", "RGBA", "LA", "L", "CMYK", "1"])
def test_strip_conversion_equals_the_whole_image_conversion(mode, monkeypatch):
    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (37, 29, 4), dtype=np.uint8), "RGBA")
    if mode == "P+transparency":
        im = rgba.convert("RGB").quantize(16)
        im.info["transparency"] = 3
        data = _save(im, transparency=3)
    else:
        im = rgba if mode == "RGBA" else rgba.convert(mode) if mode != "LA" else rgba.convert("LA")
        data = _save(im, "TIFF" if mode == "CMYK" else "PNG")
    monkeypatch.setattr(imageio, "STRIP_PIXELS", 100)  # many strips, a partial last one
    with Image.open(io.BytesIO(data)) as decoded:
        expected = _reference_rgb(decoded)
    np.testing.assert_array_equal(load_image(data), expected)


def test_sixteen_bit_values_are_scaled_exactly_as_before(monkeypatch):
    a = np.array([[0, 255, 256, 32768, 65535]], dtype=np.uint16).repeat(3, axis=0)
    monkeypatch.setattr(imageio, "STRIP_PIXELS", 5)
    out = load_image(_save(Image.fromarray(a)))[..., 0]
    np.testing.assert_array_equal(out, np.clip(a / 65535.0 * 255.0, 0, 255).round().astype(np.uint8))
    low = np.array([[0, 100, 255]], dtype=np.uint16)  # a 16-bit file holding 8-bit values is not darkened
    np.testing.assert_array_equal(load_image(_save(Image.fromarray(low)))[..., 0], low.astype(np.uint8))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil(orientation):
    rng = np.random.default_rng(orientation)
    im = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _save(im, "PNG", exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as decoded:
        expected = np.asarray(ImageOps.exif_transpose(decoded).convert("RGB"))
    np.testing.assert_array_equal(load_image(data), expected)
    np.testing.assert_array_equal(np.asarray(open_image(data)), expected)


def test_an_rgb_array_is_used_as_is():
    rgb = np.zeros((5, 6, 3), np.uint8)
    assert np.shares_memory(load_image(rgb), rgb)


_SETUP = "from fakelens.imaging.imageio import load_image\ndata = open({path!r}, 'rb').read()"


@pytest.mark.parametrize("make, limit_mb", [(grey16_png, 120), (palette_png_with_transparency, 110)])
def test_wide_and_palette_pngs_cost_about_their_rgb_size(make, limit_mb, tmp_path):
    """4000x4000: RGB is 48 MB; before, the 16-bit PNG peaked at +550 MB (float64 copies), the palette one at +280 MB (RGBA)."""
    path = tmp_path / "big.png"
    path.write_bytes(make(4000))
    assert path.stat().st_size < 200_000  # a small file ...
    result = peak_rss_delta_mb(_SETUP.format(path=str(path)), "rgb = load_image(data); assert rgb.shape == (4000, 4000, 3)")
    assert result["peak_mb"] < limit_mb, result  # ... that costs its decoded size + its RGB size, no more


def test_os_errors_are_named_not_called_corrupt(tmp_path):
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    with pytest.raises(ImageReadError, match="symbolic links"):
        load_image(loop)
    with pytest.raises(ImageReadError, match="is a folder"):
        load_image(tmp_path)
    assert "permission denied" in imageio._os_error("x.jpg", PermissionError(13, "Permission denied"))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_says_permission_denied(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(_save(Image.new("RGB", (4, 4))))
    path.chmod(0)
    with pytest.raises(ImageReadError, match="permission denied"):
        load_image(path)
