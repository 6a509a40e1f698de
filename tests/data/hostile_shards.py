"""Hostile tar shards, built byte by byte where tarfile cannot write them (tests and benchmarks/hostile_inputs.py)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

GIB = 2**30


def member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def sparse_member_bytes(name: str, realsize: int, stored: bytes = b"\xff" * 512) -> bytes:
    """A GNU sparse (type ``S``) member: ``stored`` as its one data chunk at the end of a file of ``realsize`` bytes.

    tarfile reads such a member as ``realsize`` bytes, the hole filled with zeros; it cannot write one, so the
    header is patched: the sparse map at offset 386 (offset and length, 12 octal digits each) and the real size at 483.
    """
    info = tarfile.TarInfo(name)
    info.type, info.size = tarfile.GNUTYPE_SPARSE, len(stored)
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    assert len(header) == tarfile.BLOCKSIZE

    def octal(value: int) -> bytes:
        return f"{value:011o}".encode() + b"\0"

    header[386:398], header[398:410] = octal(realsize - len(stored)), octal(len(stored))
    header[482] = 0  # no extended sparse headers
    header[483:495] = octal(realsize)
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\0 "
    padding = -len(stored) % tarfile.BLOCKSIZE
    return bytes(header) + stored + b"\0" * padding


def write_shard(path: str | Path, parts: list) -> Path:
    """A tar of ``parts``: ``(TarInfo, data)`` pairs written by tarfile, or raw member bytes spliced in as they are."""
    buf = io.BytesIO()
    for part in parts:
        if isinstance(part, bytes):
            buf.write(part)
            continue
        piece = io.BytesIO()
        with tarfile.open(fileobj=piece, mode="w", format=tarfile.GNU_FORMAT) as tar:
            info, data = part
            tar.addfile(info, io.BytesIO(data))
        buf.write(_one_member(piece))
    buf.write(b"\0" * 1024)  # end of archive
    Path(path).write_bytes(buf.getvalue())
    return Path(path)


def _one_member(piece: io.BytesIO) -> bytes:
    """The member's header and data blocks from a one-member tar (without the end-of-archive blocks)."""
    with tarfile.open(fileobj=io.BytesIO(piece.getvalue())) as tar:
        (info,) = tar.getmembers()
        end = info.offset_data + -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    return piece.getvalue()[:end]


def sparse_shard(path: str | Path, realsize: int = 2 * GIB, image: bytes = b"") -> Path:
    """Sample 0 a plain image, sample 1 a sparse ``.jpg`` claiming ``realsize`` bytes, sample 2 a plain image again."""
    parts = []
    for key in range(3):
        stem = f"{key:09d}"
        parts.append(sparse_member_bytes(f"{stem}.jpg", realsize) if key == 1 else member(f"{stem}.jpg", image))
        parts += [member(f"{stem}.cls", b"1"), member(f"{stem}.group", b"g%d" % key)]
    return write_shard(path, parts)
