"""What a file is, from its first bytes (never from its name).

ISO base media files (``ftyp``) are told apart by their brand: AVIF and HEIC
photos share the container of MP4 and MOV videos. The temporary file a video
is written to takes its suffix from here, never from the upload's name.
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE, VIDEO = "image", "video"
#: Bytes needed to tell every supported type apart.
HEAD_BYTES = 64

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide"}


@dataclass(frozen=True)
class FileType:
    mime: str
    media: str  # IMAGE or VIDEO
    suffix: str  # for a temporary file (whitelisted: it comes from this table)
    pil_format: str | None = None  # the PIL plugin an image needs, when not every install has it

    def supported(self) -> bool:
        if self.pil_format is None:
            return True
        from PIL import Image

        Image.init()
        return self.pil_format in Image.OPEN


JPEG = FileType("image/jpeg", IMAGE, ".jpg")
PNG = FileType("image/png", IMAGE, ".png")
GIF = FileType("image/gif", IMAGE, ".gif")
WEBP = FileType("image/webp", IMAGE, ".webp")
BMP = FileType("image/bmp", IMAGE, ".bmp")
TIFF = FileType("image/tiff", IMAGE, ".tif")
AVIF = FileType("image/avif", IMAGE, ".avif", pil_format="AVIF")
HEIC = FileType("image/heic", IMAGE, ".heic", pil_format="HEIF")  # with pillow-heif installed
MP4 = FileType("video/mp4", VIDEO, ".mp4")
QUICKTIME = FileType("video/quicktime", VIDEO, ".mov")
WEBM = FileType("video/webm", VIDEO, ".webm")
MATROSKA = FileType("video/x-matroska", VIDEO, ".mkv")
AVI = FileType("video/x-msvideo", VIDEO, ".avi")


def _iso_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ``ftyp`` box (as far as ``head`` holds them)."""
    size = int.from_bytes(head[:4], "big")
    end = min(len(head), size if size >= 16 else len(head))
    return {head[8:12]} | {head[i : i + 4] for i in range(16, end - 3, 4)}


def _iso_type(head: bytes) -> FileType:
    major = head[8:12]
    brands = _iso_brands(head)
    if major in _AVIF_BRANDS or (major in (b"mif1", b"msf1") and brands & _AVIF_BRANDS):
        return AVIF
    if major in _HEIF_BRANDS:
        return HEIC
    if major == b"qt  ":
        return QUICKTIME
    return MP4


def sniff_type(head: bytes) -> FileType | None:
    """The :class:`FileType` of a file from its first :data:`HEAD_BYTES` bytes, or None."""
    if len(head) < 12:
        return None
    if head[:3] == b"\xff\xd8\xff":
        return JPEG
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    if head[:2] == b"BM":
        return BMP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[4:8] == b"ftyp":
        return _iso_type(head)
    if head[4:8] in _QUICKTIME_ATOMS:
        return QUICKTIME
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: the DocType says which
        return WEBM if b"webm" in head else MATROSKA
    return None


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(mime type, "image"|"video")`` for a supported file, else None."""
    kind = sniff_type(head)
    return (kind.mime, kind.media) if kind is not None and kind.supported() else None
