"""One upload read from a multipart body as it streams in, within limits.

Nothing is spooled before it is checked: ``Content-Length`` is checked before
the first byte is read, the body and each part are counted while they arrive,
the file part is sniffed from its first bytes and then kept in memory (an
image) or written straight to a temporary file with a whitelisted suffix (a
video), and reading stops at the first byte over a limit. One ``file`` part
and a few short fields are accepted; the whole body must arrive within a
deadline.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from .refusal import Refused
from .settings import format_mb
from .sniff import HEAD_BYTES, IMAGE, FileType, sniff_type

try:  # python-multipart >= 0.0.13 names its module python_multipart
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # pragma: no cover - older python-multipart
    from multipart.exceptions import MultipartParseError
    from multipart.multipart import MultipartParser, parse_options_header

FILE_FIELD = "file"
SUPPORTED = "send a JPEG, PNG, GIF, WebP, BMP, TIFF or AVIF image, or an MP4, MOV, WebM, MKV or AVI video"


@dataclass(frozen=True)
class UploadLimits:
    image_bytes: int
    video_bytes: int
    request_bytes: int  # the whole body, form included
    max_fields: int  # parts besides the file
    timeout_s: float  # the whole body must arrive within this
    field_bytes: int = 1024
    temp_dir: str | None = None

    @classmethod
    def from_settings(cls, settings) -> "UploadLimits":
        return cls(
            settings.max_image_bytes,
            settings.max_video_bytes,
            settings.max_request_bytes,
            settings.max_form_fields,
            settings.body_timeout_s,
        )


@dataclass
class Upload:
    """The file (``data`` for an image, a temporary ``path`` for a video) and the other form fields."""

    kind: FileType
    data: bytes | None = None
    path: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        if self.path is not None:
            _remove(self.path)
            self.path = None
        self.data = None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _FilePart:
    """The ``file`` part: sniffed from its first bytes, then kept within the limit for its kind."""

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.size = 0
        self.kind: FileType | None = None
        self._head = bytearray()
        self._memory = bytearray()
        self._file = None
        self.path: str | None = None

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.kind is None:
            self._head += data
            if len(self._head) < HEAD_BYTES:
                return
            data = self._identify()
        await self._store(data)

    async def _store(self, data: bytes) -> None:
        limit = self.limits.image_bytes if self.kind.media == IMAGE else self.limits.video_bytes
        if self.size > limit:
            raise Refused(413, f"file too large: the limit for {self.kind.media}s is {format_mb(limit)}")
        if self._file is not None:
            await run_in_threadpool(self._file.write, data)
        else:
            self._memory += data

    def _identify(self) -> bytes:
        """Sniff the head, choose where the bytes go; returns the head to store."""
        kind = sniff_type(bytes(self._head[:HEAD_BYTES]))
        if kind is None:
            raise Refused(415, f"unsupported file type: {SUPPORTED}")
        if not kind.supported():
            raise Refused(415, f"unsupported file type: {kind.mime} cannot be read by this install; {SUPPORTED}")
        self.kind = kind
        if kind.media != IMAGE:
            # The suffix comes from the sniffed type, never from the upload's file name.
            fd, self.path = tempfile.mkstemp(prefix="fakelens-upload-", suffix=kind.suffix, dir=self.limits.temp_dir)
            self._file = os.fdopen(fd, "wb")
        head, self._head = bytes(self._head), bytearray()
        return head

    async def finish(self) -> Upload:
        if self.kind is None:  # shorter than the sniffing head
            if not self._head:
                raise Refused(422, "the file is empty")
            await self._store(self._identify())
        if self._file is not None:
            await run_in_threadpool(self._file.close)
            self._file = None
            return Upload(self.kind, path=self.path)
        return Upload(self.kind, data=bytes(self._memory))

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None:
            _remove(self.path)


class _FormReader:
    """Events of python-multipart's streaming parser -> one file part and a few fields."""

    def __init__(self, limits: UploadLimits):
        self.limits = limits
        self.file: _FilePart | None = None
        self.fields: dict[str, str] = {}
        self.n_fields = 0
        self.ended = False
        self._events: list[tuple[str, bytes]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._part: str | None = None  # "file" or a field name
        self._value = bytearray()

    def callbacks(self) -> dict:
        def data_event(name):
            return lambda data, start, end: self._events.append((name, bytes(data[start:end])))

        def plain_event(name):
            return lambda: self._events.append((name, b""))

        return {
            "on_part_begin": plain_event("part_begin"),
            "on_part_data": data_event("part_data"),
            "on_part_end": plain_event("part_end"),
            "on_header_field": data_event("header_field"),
            "on_header_value": data_event("header_value"),
            "on_header_end": plain_event("header_end"),
            "on_headers_finished": plain_event("headers_finished"),
            "on_end": plain_event("end"),
        }

    async def handle_events(self) -> None:
        events, self._events = self._events, []
        for name, data in events:
            if name == "part_begin":
                self._headers, self._part, self._value = {}, None, bytearray()
            elif name == "header_field":
                self._header_field += data
            elif name == "header_value":
                self._header_value += data
            elif name == "header_end":
                self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
                self._header_field, self._header_value = bytearray(), bytearray()
            elif name == "headers_finished":
                self._start_part()
            elif name == "part_data":
                await self._part_data(data)
            elif name == "part_end":
                self._end_part()
            elif name == "end":
                self.ended = True

    def _start_part(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        is_file = name == FILE_FIELD or b"filename" in options
        if is_file:
            if name != FILE_FIELD:
                raise Refused(400, f"unexpected file part {name[:40]!r}: send the file in the '{FILE_FIELD}' part")
            if self.file is not None:
                raise Refused(400, f"only one file per request: a second '{FILE_FIELD}' part was sent")
            self.file = _FilePart(self.limits)
            self._part = FILE_FIELD
        else:
            self.n_fields += 1
            if self.n_fields > self.limits.max_fields:
                raise Refused(400, f"too many form fields (the limit is {self.limits.max_fields})")
            self._part = name

    async def _part_data(self, data: bytes) -> None:
        if self._part == FILE_FIELD:
            await self.file.write(data)
            return
        self._value += data
        if len(self._value) > self.limits.field_bytes:
            raise Refused(400, f"form field {self._part[:40]!r} is longer than {self.limits.field_bytes} bytes")

    def _end_part(self) -> None:
        if self._part not in (None, FILE_FIELD):
            try:
                self.fields[self._part] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise Refused(400, f"form field {self._part[:40]!r} is not UTF-8 text") from None

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()


def check_content_length(request: Request, limits: UploadLimits) -> None:
    """413 before reading a byte when the body says it is too large."""
    declared = request.headers.get("content-length")
    if declared is None:
        return  # chunked: counted as it arrives
    try:
        size = int(declared)
    except ValueError:
        raise Refused(400, "invalid Content-Length") from None
    if size > limits.request_bytes:
        raise Refused(
            413,
            f"request too large: the limit is {format_mb(limits.request_bytes)} (a {format_mb(limits.image_bytes)} image "
            f"or a {format_mb(limits.video_bytes)} video)",
        )


async def receive_upload(request: Request, limits: UploadLimits) -> Upload:
    """Read the multipart body of ``request`` into an :class:`Upload`, or raise :class:`Refused`."""
    check_content_length(request, limits)
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise Refused(422, f"send multipart/form-data with the image or video in a '{FILE_FIELD}' part")
    form = _FormReader(limits)
    try:
        parser = MultipartParser(boundary, form.callbacks(), max_header_count=8, max_header_size=4096)
    except (ValueError, MultipartParseError):
        raise Refused(400, "invalid multipart boundary") from None
    received = 0
    try:
        async with asyncio.timeout(limits.timeout_s):
            async for chunk in request.stream():
                received += len(chunk)
                if received > limits.request_bytes:
                    raise Refused(413, f"request too large: the limit is {format_mb(limits.request_bytes)}")
                parser.write(chunk)
                await form.handle_events()
                if form.ended:
                    break
        if not form.ended:
            raise Refused(400, "incomplete multipart body")
        if form.file is None:
            raise Refused(422, f"no file: send the image or video in a '{FILE_FIELD}' part")
        upload = await form.file.finish()
    except TimeoutError:
        form.discard()
        raise Refused(408, f"the upload took longer than {limits.timeout_s:g} s", {"Connection": "close"}) from None
    except MultipartParseError as exc:
        form.discard()
        raise Refused(400, f"malformed multipart body ({exc})") from None
    except ClientDisconnect:
        form.discard()
        raise Refused(400, "the client disconnected during the upload") from None
    except BaseException:
        form.discard()
        raise
    upload.fields = form.fields
    return upload
