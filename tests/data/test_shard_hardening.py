"""Tar shards from someone else, and what ``fakelens shard`` lets into one: hostile inputs built here."""

import csv
import io
import json
import logging
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hostile_shards import GIB, member, sparse_shard, write_shard
from PIL import Image

from fakelens.data import shards as shards_module
from fakelens.data.shards import iter_tar_samples
from service.hostile import peak_rss_delta_mb


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
    result = peak_rss_delta_mb(
        "from fakelens.data.shards import iter_tar_samples", f"samples = list(iter_tar_samples({str(shard)!r}))", timeout=300
    )
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

    parts = [
        member("000000000.jpg", jpeg),
        member("000000000.cls", b"0"),
        special("000000001.jpg", tarfile.SYMTYPE, linkname="/etc/passwd"),
        member("000000001.cls", b"0"),
        special("000000002.jpg", tarfile.LNKTYPE, linkname="000000000.jpg"),
        member("000000002.cls", b"0"),
        special("000000003.jpg", tarfile.CHRTYPE, devmajor=1, devminor=5),
        member("000000003.cls", b"0"),
        special("000000004.jpg", tarfile.FIFOTYPE),
        member("000000004.cls", b"0"),
        member("000000005.jpg", b"\xff" * 5000),
        member("000000005.cls", b"0"),
        special("somefolder", tarfile.DIRTYPE),
        member("000000006.jpg", jpeg),
        member("000000006.cls", b"1"),
    ]
    shard = write_shard(tmp_path / "odd.tar", parts)
    with caplog.at_level(logging.WARNING, logger="fakelens.data.shards"):
        samples = list(iter_tar_samples(shard))
    assert [(key, "jpg" in fields) for key, fields in samples if "jpg" in fields] == [(0, True), (6, True)]
    assert all(fields.get("jpg") == jpeg for _, fields in samples if "jpg" in fields)
    warned = "\n".join(r.getMessage() for r in caplog.records)
    for name, why in [
        ("000000001.jpg", "a link"),
        ("000000002.jpg", "a link"),
        ("000000003.jpg", "device"),
        ("000000004.jpg", "device or FIFO"),
        ("000000005.jpg", "above the 4,096-byte limit"),
    ]:
        assert any(name in line and why in line for line in warned.splitlines()), (name, warned)
    assert "somefolder" not in warned  # a folder entry is harmless: skipped quietly


# ---------------------------------------------------------------- fakelens shard: what goes in
def _png(path, value=60):
    Image.fromarray(np.full((24, 24, 3), value, np.uint8)).save(path, "PNG")


def test_shard_refuses_manifest_entries_that_are_not_images_and_keeps_the_rest(tmp_path, jpeg, capsys):
    from fakelens.cli import main

    (tmp_path / "a.jpg").write_bytes(jpeg)
    _png(tmp_path / "png-named.jpg")  # an image, but a PNG: it goes in as .png
    (tmp_path / "notes.jpg").write_text("text named like a photo")
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    rows = ["path,label,group", "a.jpg,real,a", "png-named.jpg,fake,b", "/etc/passwd,real,c", "notes.jpg,fake,d", "cut.jpg,real,e"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "shards"

    code = main(["shard", str(tmp_path / "m.csv"), "--out", str(out), "--val-fraction", "0", "--test-fraction", "0"])

    assert code == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for name in ("/etc/passwd", "notes.jpg", "cut.jpg"):
        assert any(line.startswith("fakelens: skipped") and name in line for line in err.splitlines()), (name, err)
    assert "3 training file(s) refused" in err
    index = json.loads((out / "shards.json").read_text())
    assert index["train_samples"] == 2 and index["refused"] == 3
    members = {}
    for shard in index["shards"]:
        with tarfile.open(out / shard["name"]) as tar:
            members.update({m.name: tar.extractfile(m).read() for m in tar.getmembers()})
    images = {name.rsplit(".", 1)[1]: data for name, data in members.items() if not name.endswith((".cls", ".group"))}
    assert sorted(images) == ["jpg", "png"] and images["jpg"] == jpeg
    assert not any(b"root:" in data for data in members.values())  # /etc/passwd is in no shard
    report = {Path(r["path"]).name: r["error"] for r in csv.DictReader(open(out / "shard_report.csv"))}
    assert set(report) == {"passwd", "notes.jpg", "cut.jpg"}
    assert "not a readable image" in report["passwd"] and "truncated" in report["cut.jpg"]


def test_shard_refuses_a_label_other_than_0_or_1_when_writing(tmp_path, jpeg):
    from fakelens.data.shards import _write_tar
    from fakelens.sources import Sample

    (tmp_path / "a.jpg").write_bytes(jpeg)
    refused = []
    written = _write_tar(
        tmp_path / "t.tar",
        [Sample(str(tmp_path / "a.jpg"), 7, "g"), Sample(str(tmp_path / "a.jpg"), -3, "h"), Sample(str(tmp_path / "a.jpg"), 1, "i")],
        first_key=0,
        refused=refused,
    )
    assert written == 1 and [r["error"].split(": ", 1)[1] for r in refused] == [
        "label 7 is neither 0 (REAL) nor 1 (FAKE)",
        "label -3 is neither 0 (REAL) nor 1 (FAKE)",
    ]


# ---------------------------------------------------------------- reading: labels, keys, the index
def test_samples_with_a_bad_or_missing_label_or_no_image_are_skipped_with_a_warning(tmp_path, jpeg, caplog):
    parts = [
        member("000000000.jpg", jpeg),
        member("000000000.cls", b"7"),
        member("000000001.jpg", jpeg),
        member("000000001.cls", b"-3"),
        member("000000002.jpg", jpeg),
        member("000000002.group", b"no label"),
        member("000000003.cls", b"1"),
        member("000000003.group", b"no image"),
        member("evil.jpg", jpeg),
        member("evil.cls", b"1"),
        member("000000004.jpg", jpeg),
        member("000000004.cls", b"1"),
    ]
    shard = write_shard(tmp_path / "labels.tar", parts)
    with caplog.at_level(logging.WARNING, logger="fakelens.data.shards"):
        assert [key for key, _ in iter_tar_samples(shard)] == [4]
    warned = [r.getMessage() for r in caplog.records]
    for stem, why in [
        ("000000000", "neither 0 (REAL) nor 1 (FAKE)"),
        ("000000001", "neither 0"),
        ("000000002", "no .cls member"),
        ("000000003", "no image member"),
        ("evil", "key is not a number"),
    ]:
        assert any(repr(stem) in w and why in w for w in warned), (stem, warned)


def test_training_goes_on_past_a_sample_without_a_label(tmp_path, jpeg):
    from fakelens.data.dataset import make_loader
    from fakelens.data.shards import ShardDataset

    parts = []
    for key in range(6):
        parts.append(member(f"{key:09d}.jpg", jpeg))
        if key != 2:
            parts.append(member(f"{key:09d}.cls", b"%d" % (key % 2)))
    write_shard(tmp_path / "train-000000.tar", parts)
    (tmp_path / "shards.json").write_text(json.dumps({"train_samples": 5, "shards": [{"name": "train-000000.tar", "samples": 5}]}))
    batches = list(make_loader(ShardDataset(tmp_path, lambda a, rng: a.transpose(2, 0, 1).astype(np.float32)), 2, False, num_workers=0))
    assert sorted(int(k) for _, _, keys, _ in batches for k in keys) == [0, 1, 3, 4, 5]


@pytest.mark.parametrize("name", ["../elsewhere.tar", "/etc/passwd", "sub/../../elsewhere.tar", "link.tar"])
def test_an_index_naming_a_tar_outside_its_folder_is_refused(tmp_path, name):
    from fakelens.data.shards import ShardDataset
    from fakelens.errors import DataError

    folder = tmp_path / "shards"
    folder.mkdir()
    write_shard(tmp_path / "elsewhere.tar", [member("000000000.cls", b"1")])
    os.symlink(tmp_path / "elsewhere.tar", folder / "link.tar")
    (folder / "shards.json").write_text(json.dumps({"train_samples": 1, "shards": [{"name": name, "samples": 1}]}))
    with pytest.raises(DataError, match="shards.json: shard .* leads outside"):
        ShardDataset(folder, lambda a, rng: a)
