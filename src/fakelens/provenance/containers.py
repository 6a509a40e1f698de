"""The metadata blocks of an image or MP4 file, found by walking its container with every size capped.

Only the headers are walked (JPEG segments up to the scan, PNG chunks, RIFF
chunks, top-level ISO BMFF boxes): a file is never read whole, a block over
its cap is skipped with a warning, and the walk stops after
:data:`MAX_BLOCKS` blocks. What is kept: XMP packets, EXIF (TIFF) blocks, PNG
text chunks, and whether (and how many bytes of) a C2PA manifest store is
present, so the C2PA reader is only started for files that carry one.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Union

Source = Union[str, os.PathLike, bytes, bytearray, memoryview]

#: Caps: one XMP packet set, one EXIF block, one text chunk (decompressed), all text together, a C2PA store.
MAX_XMP_BYTES = 1 << 20
MAX_EXIF_BYTES = 64 << 10  # a JPEG's EXIF cannot be larger (one segment); parsing a larger hostile IFD costs seconds
MAX_TEXT_BYTES = 1 << 20
MAX_TEXT_TOTAL = 4 << 20
MAX_TEXT_CHUNKS = 64
MAX_EXIF_BLOCKS = 2
MAX_C2PA_BYTES = 16 << 20
#: Container blocks walked at most (segments, chunks, boxes): a PNG of 2,000 px has a few hundred.
MAX_BLOCKS = 20_000

JPEG, PNG, WEBP, BMFF, UNKNOWN = "jpeg", "png", "webp", "bmff", "unknown"
MIME = {JPEG: "image/jpeg", PNG: "image/png", WEBP: "image/webp", BMFF: "video/mp4"}

_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"
_EXIF_ID = b"Exif\x00\x00"
_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Blocks:
    format: str = UNKNOWN
    xmp: list[bytes] = field(default_factory=list)
    exif: list[bytes] = field(default_factory=list)  # TIFF-structured EXIF, without the "Exif\0\0" prefix
    texts: list[tuple[str, str]] = field(default_factory=list)  # (keyword, text) of PNG text chunks
    c2pa_bytes: int = 0  # size of the C2PA manifest store carriers found (0: none)
    warnings: list[str] = field(default_factory=list)
    _xmp_total: int = 0
    _text_total: int = 0

    @property
    def mime(self) -> str | None:
        return MIME.get(self.format)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def add_xmp(self, data: bytes) -> None:
        if self._xmp_total + len(data) > MAX_XMP_BYTES:
            self.warn(f"XMP metadata over {MAX_XMP_BYTES >> 20} MB: the rest was not read")
            return
        self._xmp_total += len(data)
        self.xmp.append(data)

    def wants_exif(self) -> bool:
        if len(self.exif) < MAX_EXIF_BLOCKS:
            return True
        self.warn(f"more than {MAX_EXIF_BLOCKS} EXIF blocks: the rest was not read")
        return False

    def add_text(self, keyword: str, text: str) -> None:
        if len(self.texts) >= MAX_TEXT_CHUNKS or self._text_total + len(text) > MAX_TEXT_TOTAL:
            self.warn(f"more than {MAX_TEXT_CHUNKS} text chunks or {MAX_TEXT_TOTAL >> 20} MB of text: the rest was not read")
            return
        self._text_total += len(text)
        self.texts.append((keyword, text))


def open_source(source: Source) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    return open(source, "rb")


def scan(fh: BinaryIO) -> Blocks:
    """The metadata blocks of the file open in ``fh`` (from its start); never raises on bad data."""
    head = fh.read(16)
    fh.seek(0)
    blocks = Blocks()
    walkers = [
        (head[:2] == b"\xff\xd8", JPEG, _walk_jpeg),
        (head[:8] == _PNG_SIG, PNG, _walk_png),
        (head[:4] == b"RIFF" and head[8:12] == b"WEBP", WEBP, _walk_webp),
        (head[4:8] == b"ftyp", BMFF, _walk_bmff),
    ]
    for matches, fmt, walk in walkers:
        if matches:
            blocks.format = fmt
            try:
                walk(fh, blocks)
            except (struct.error, OSError, ValueError, EOFError) as exc:  # truncated or malformed: keep what was found
                blocks.warn(f"metadata walk stopped early ({type(exc).__name__}): the file is truncated or malformed")
            break
    return blocks


def _read_exact(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise EOFError("truncated")
    return data


def _walk_jpeg(fh: BinaryIO, blocks: Blocks) -> None:
    fh.seek(2)
    extended: dict[bytes, bytearray] = {}
    for _ in range(MAX_BLOCKS):
        byte = _read_exact(fh, 1)
        if byte != b"\xff":
            raise ValueError("not a marker")
        marker = _read_exact(fh, 1)[0]
        while marker == 0xFF:  # fill bytes
            marker = _read_exact(fh, 1)[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: the metadata is all before
            break
        length = struct.unpack(">H", _read_exact(fh, 2))[0] - 2
        if length < 0:
            raise ValueError("bad segment length")
        if marker == 0xE1:  # at most 64 KB (a JPEG segment's own limit); read only when it is kept
            head = _read_exact(fh, min(length, len(_XMP_EXT_ID) + 40))
            rest = length - len(head)
            if head.startswith(_EXIF_ID) and blocks.wants_exif():
                blocks.exif.append((head + _read_exact(fh, rest))[len(_EXIF_ID) :])
            elif head.startswith(_XMP_ID):
                blocks.add_xmp((head + _read_exact(fh, rest))[len(_XMP_ID) :])
            elif head.startswith(_XMP_EXT_ID) and len(head) == len(_XMP_EXT_ID) + 40:
                part = extended.setdefault(head[len(_XMP_EXT_ID) : len(_XMP_EXT_ID) + 32], bytearray())
                if len(part) + rest <= MAX_XMP_BYTES:
                    part += _read_exact(fh, rest)
                else:
                    blocks.warn(f"extended XMP over {MAX_XMP_BYTES >> 20} MB: the rest was not read")
                    fh.seek(rest, io.SEEK_CUR)
            else:
                fh.seek(rest, io.SEEK_CUR)
        elif marker == 0xEB:  # APP11: JUMBF, where C2PA keeps its manifest store in a JPEG
            ident = _read_exact(fh, min(length, 2))
            if ident == b"JP":
                blocks.c2pa_bytes += length
            fh.seek(length - len(ident), io.SEEK_CUR)
        else:
            fh.seek(length, io.SEEK_CUR)
    else:
        blocks.warn(f"more than {MAX_BLOCKS} JPEG segments: the rest was not read")
    for part in extended.values():
        blocks.add_xmp(bytes(part))


def _walk_png(fh: BinaryIO, blocks: Blocks) -> None:
    fh.seek(8)
    for _ in range(MAX_BLOCKS):
        header = fh.read(8)
        if len(header) < 8:
            return
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return
        if kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
            skip = _png_skip_reason(blocks, kind, length)
            if skip:
                blocks.warn(skip)
                fh.seek(length + 4, io.SEEK_CUR)
                continue
            data = _read_exact(fh, length)
            fh.seek(4, io.SEEK_CUR)
            if kind == b"eXIf":
                blocks.exif.append(data.removeprefix(_EXIF_ID))
            else:
                _png_text(kind, data, blocks)
            continue
        if kind == b"caBX":
            blocks.c2pa_bytes += length
        fh.seek(length + 4, io.SEEK_CUR)
    blocks.warn(f"more than {MAX_BLOCKS} PNG chunks: the rest was not read")


def _png_skip_reason(blocks: Blocks, kind: bytes, length: int) -> str:
    """Why a PNG text or EXIF chunk is not read ("" when it is)."""
    if kind == b"eXIf" and len(blocks.exif) >= MAX_EXIF_BLOCKS:
        return f"more than {MAX_EXIF_BLOCKS} EXIF blocks: the rest was not read"
    if kind != b"eXIf" and len(blocks.texts) >= MAX_TEXT_CHUNKS:
        return f"more than {MAX_TEXT_CHUNKS} PNG text chunks: the rest was not read"
    cap = MAX_EXIF_BYTES if kind == b"eXIf" else MAX_TEXT_BYTES
    if length > cap:
        return f"a PNG {kind.decode()} chunk of {length / 2**10:,.0f} KB was skipped (over {cap >> 10:,} KB)"
    return ""


def _inflate(data: bytes, blocks: Blocks) -> bytes:
    """zlib data inflated to at most :data:`MAX_TEXT_BYTES` (a compression bomb stops there)."""
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_TEXT_BYTES)
    if d.unconsumed_tail:
        blocks.warn(f"a compressed PNG text chunk inflates past {MAX_TEXT_BYTES >> 20} MB: only its start was read")
    return out


def _png_text(kind: bytes, data: bytes, blocks: Blocks) -> None:
    keyword, sep, rest = data.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        return
    key = keyword.decode("latin-1")
    try:
        if kind == b"tEXt":
            text = rest.decode("latin-1")
        elif kind == b"zTXt":
            text = _inflate(rest[1:], blocks).decode("latin-1")
        else:  # iTXt: flag, method, language\0, translated keyword\0, UTF-8 text
            compressed = rest[:1] == b"\x01"
            _, _, tail = rest[2:].partition(b"\x00")
            _, _, body = tail.partition(b"\x00")
            raw = _inflate(body, blocks) if compressed else body
            if key == "XML:com.adobe.xmp":
                blocks.add_xmp(raw)
                return
            text = raw.decode("utf-8", "replace")
    except zlib.error:
        blocks.warn(f"a compressed PNG text chunk ({key[:40]}) is corrupt")
        return
    blocks.add_text(key, text)


def _walk_webp(fh: BinaryIO, blocks: Blocks) -> None:
    fh.seek(12)
    for _ in range(MAX_BLOCKS):
        header = fh.read(8)
        if len(header) < 8:
            return
        kind, length = struct.unpack("<4sI", header)
        padded = length + (length & 1)
        if kind == b"EXIF" and length > MAX_EXIF_BYTES or kind == b"XMP " and length > MAX_XMP_BYTES:
            blocks.warn(f"a WebP {kind.decode().strip()} chunk of {length / 2**10:,.0f} KB was skipped")
        elif kind == b"XMP " or kind == b"EXIF" and blocks.wants_exif():
            data = _read_exact(fh, length)
            fh.seek(padded - length, io.SEEK_CUR)
            if kind == b"EXIF":
                blocks.exif.append(data.removeprefix(_EXIF_ID))
            else:
                blocks.add_xmp(data)
            continue
        elif kind == b"C2PA":
            blocks.c2pa_bytes += length
        fh.seek(padded, io.SEEK_CUR)
    blocks.warn(f"more than {MAX_BLOCKS} WebP chunks: the rest was not read")


def _walk_bmff(fh: BinaryIO, blocks: Blocks) -> None:
    """Top-level boxes of an MP4 (ISO BMFF): C2PA keeps its store in a ``uuid`` box with its own UUID."""
    end = fh.seek(0, io.SEEK_END)
    pos = 0
    for _ in range(MAX_BLOCKS):
        if pos + 8 > end:
            return
        fh.seek(pos)
        size, kind = struct.unpack(">I4s", _read_exact(fh, 8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", _read_exact(fh, 8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise ValueError("bad box size")
        if kind == b"uuid" and _read_exact(fh, 16) == _C2PA_UUID:
            blocks.c2pa_bytes += size
        pos += size
    blocks.warn(f"more than {MAX_BLOCKS} MP4 boxes: the rest was not read")
