"""What a file is, from its first bytes (never from its name)."""
from __future__ import annotations

IMAGE, VIDEO = "image", "video"

_SIGNATURES: list[tuple[str, str, callable]] = [
    ("image/jpeg", IMAGE, lambda b: b[:3] == b"\xff\xd8\xff"),
    ("image/png", IMAGE, lambda b: b[:8] == b"\x89PNG\r\n\x1a\n"),
    ("image/gif", IMAGE, lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", IMAGE, lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("image/bmp", IMAGE, lambda b: b[:2] == b"BM"),
    ("image/tiff", IMAGE, lambda b: b[:4] in (b"II*\x00", b"MM\x00*")),
    ("video/mp4", VIDEO, lambda b: b[4:8] == b"ftyp"),
    ("video/webm", VIDEO, lambda b: b[:4] == b"\x1a\x45\xdf\xa3"),
    ("video/x-msvideo", VIDEO, lambda b: b[:4] == b"RIFF" and b[8:12] == b"AVI "),
]


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(mime type, "image"|"video")`` for a supported file, else None."""
    for mime, kind, test in _SIGNATURES:
        if len(head) >= 12 and test(head):
            return mime, kind
    return None
