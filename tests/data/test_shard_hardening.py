"""Tar shards from someone else: members that are not plain, small files are skipped with a warning, never read."""
import io
import logging
import tarfile

import numpy as np
import pytest
from hostile_shards import GIB, member, sparse_shard, write_shard
from PIL import Image
from service.hostile import peak_rss_delta_mb

from fakelens.data import shards as shards_module
from fakelens.data.shards import iter_tar_samples


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_a_sparse_member_claiming_2_gib_is_skipped_and_memory_stays_bounded(tmp_path, jpeg, caplog):
    shard = sparse_shard(tmp_path / "sparse.tar", realsize=2 * GIB, image=jpeg)
    assert shard.stat().st_size < 20_000
    with tarfile.open(shard) as tar:  # what tarfile makes of it: a regular file of 2 GiB
        sparse = tar.getmember("000000001.jpg")
        assert sparse.isfile() and sparse.issparse() and sparse.size == 2 * GIB
    # In a fresh process, so that the peak RSS is this read's.
    result = peak_rss_delta_mb("from fakelens.data.shards import iter_tar_samples",
                               f"samples = list(iter_tar_samples({str(shard)!r}))", timeout=300)
    assert result["peak_mb"] < 64, result  # the 2 GiB were never read
    samples = list(iter_tar_samples(shard))
    assert [key for key, fields in samples if "jpg" in fields] == [0, 2]
    assert any("000000001.jpg" in r.getMessage() and "sparse" in r.getMessage() for r in caplog.records)


def test_links_devices_and_oversized_members_are_skipped_with_a_warning(tmp_path, jpeg, monkeypatch, caplog):
    monkeypatch.setattr(shards_module, "MAX_MEMBER_BYTES", 4096)

    def special(name, kind, **extra):
        info = tarfile.TarInfo(name)
        info.type = kind
        for k, v in extra.items():
            setattr(info, k, v)
        return info, b""

    parts = [member("000000000.jpg", jpeg), member("000000000.cls", b"0"),
             special("000000001.jpg", tarfile.SYMTYPE, linkname="/etc/passwd"), member("000000001.cls", b"0"),
             special("000000002.jpg", tarfile.LNKTYPE, linkname="000000000.jpg"), member("000000002.cls", b"0"),
             special("000000003.jpg", tarfile.CHRTYPE, devmajor=1, devminor=5), member("000000003.cls", b"0"),
             special("000000004.jpg", tarfile.FIFOTYPE), member("000000004.cls", b"0"),
             member("000000005.jpg", b"\xff" * 5000), member("000000005.cls", b"0"),
             special("somefolder", tarfile.DIRTYPE),
             member("000000006.jpg", jpeg), member("000000006.cls", b"1")]
    shard = write_shard(tmp_path / "odd.tar", parts)
    with caplog.at_level(logging.WARNING, logger="fakelens.data.shards"):
        samples = list(iter_tar_samples(shard))
    assert [(key, "jpg" in fields) for key, fields in samples if "jpg" in fields] == [(0, True), (6, True)]
    assert all(fields.get("jpg") == jpeg for _, fields in samples if "jpg" in fields)
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for name, why in [("000000001.jpg", "a link"), ("000000002.jpg", "a link"), ("000000003.jpg", "device"),
                      ("000000004.jpg", "device or FIFO"), ("000000005.jpg", "above the 4,096-byte limit")]:
        assert any(name in line and why in line for line in warned.splitlines()), (name, warned)
    assert "somefolder" not in warned  # a folder entry is harmless: skipped quietly
