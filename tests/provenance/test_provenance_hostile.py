"""Hostile metadata: each case gets a warning, stays under 1 s and 100 MB, and never raises."""

import time
import tracemalloc

import provkit as kit
import pytest

from fakelens.provenance import read_provenance

SECONDS, MEGABYTES = 1.0, 100


@pytest.fixture(scope="module", autouse=True)
def c2pa_loaded():
    import c2pa  # noqa: F401 - the library's first import is start-up, not the cost of an image

    read_provenance(kit.signed_jpeg())


@pytest.mark.parametrize("name", list(kit.HOSTILE))
def test_hostile_metadata_is_bounded_and_warned_about(name, tmp_path):
    data = kit.HOSTILE[name]()
    path = tmp_path / "hostile.bin"
    path.write_bytes(data)
    for source in (str(path), data):
        tracemalloc.start()
        started = time.perf_counter()
        items, warnings = read_provenance(source)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert warnings, f"{name}: no warning"
        assert seconds < SECONDS, f"{name}: {seconds:.2f} s"
        assert peak < MEGABYTES << 20, f"{name}: {peak >> 20} MB"
        assert all(i.valid is not True for i in items)


def test_truncated_and_garbled_containers_never_raise():
    signed = kit.signed_jpeg()
    for cut in (3, 20, 200, len(signed) // 3, len(signed) - 10):
        read_provenance(signed[:cut])
    png = kit.a1111_png()
    for cut in (9, 30, 100, len(png) // 2):
        read_provenance(png[:cut])
    garbled = bytearray(png)
    garbled[8:12] = b"\xff\xff\xff\xff"  # a chunk claiming 4 GB
    assert read_provenance(bytes(garbled))[0] == []
    mp4 = bytearray(kit.mp4())
    mp4[0:4] = b"\x00\x00\x00\x01"  # a 64-bit size that runs past the end
    read_provenance(bytes(mp4))


def test_the_image_still_scores_beside_hostile_metadata(tmp_path):
    """The face pipeline goes on: hostile metadata is a warning on the result, never an error."""
    import fakelens
    from fakelens.faces import predict_photo

    data = kit.huge_xmp_jpeg(5, base=kit.encode(kit.face_rgb(), "JPEG"))
    result = predict_photo(fakelens.load(), data)
    assert result.status == "ok" and any("XMP" in w for w in result.warnings)
