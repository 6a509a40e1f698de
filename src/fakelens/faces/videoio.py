"""Reading sampled frames from untrusted video files (PyAV) and writing H.264.

:class:`VideoReader` decodes ``n`` evenly spaced frames. It decodes forward
and seeks only across gaps longer than ``seek_gap`` seconds; when a seek lands
behind the position it started from (long keyframe intervals, as in the DFDC
clips) seeking is switched off for that file, because decoding forward is then
cheaper. Frame positions come from timestamps, so they stay right after a seek.

Every failure (not a video, no video stream, unsupported codec, no decodable
frame) raises :class:`~fakelens.errors.VideoReadError`. A file that breaks off
part way keeps the frames decoded before the break and says so in ``warnings``.

Untrusted files: every frame is checked against the pixel limit (default
:data:`~fakelens.imaging.imageio.MAX_IMAGE_PIXELS`), not only the size the codec
header claims: FFmpeg refuses to allocate a larger frame (its ``max_pixels``
option) and a frame that gets through anyway is refused before its RGB copy
is made (:class:`~fakelens.errors.VideoTooLargeError`). A :class:`DecodeBudget`
bounds the frames decoded and the seconds spent (a stream with one keyframe
must be decoded from the start to reach its end) and can be cancelled from
another thread; when it runs out, the frames sampled so far are used and a
warning says so.

Frames come out upright, as players show them: a phone filming in portrait
stores landscape pixels and a display matrix (or, in older files, a ``rotate``
tag) saying how to turn them. :class:`Orientation` reads it from the first
decoded frame (the tag where the frame carries no matrix) and turns every
frame with it, so face boxes and annotated outputs are in upright coordinates.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Iterator, Sequence

import numpy as np

from ..errors import VideoReadError, VideoTooLargeError
from ..imaging.imageio import MAX_IMAGE_PIXELS
from ..utils.atomic import atomic_path


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float | None
    n_frames: int | None  # from the container, the duration, or by counting packets
    duration: float | None  # seconds
    codec: str
    # degrees the stored frames are turned clockwise to be shown (the ``rotate`` tag's convention), and whether
    # they are mirrored too; width and height are the upright ones once a frame has been decoded
    rotation: int = 0
    mirrored: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Orientation:
    """How stored frames map onto upright ones: transpose first, then mirror columns and/or rows.

    Built from FFmpeg's display matrix, which maps a stored pixel (p, q) to the shown
    (a*p + c*q, b*p + d*q) (``libavutil/display.h``); for a multiple of 90 degrees
    each of a, b, c, d is -1, 0 or 1.
    """

    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False

    @classmethod
    def from_display_matrix(cls, matrix: Sequence[int]) -> "Orientation":
        a, b, c, d = (int(np.sign(matrix[i])) for i in (0, 1, 3, 4))
        if b and c and not (a or d):  # x' = c*q, y' = b*p: the axes swap
            return cls(True, c < 0, b < 0)
        if a and d and not (b or c):
            return cls(False, a < 0, d < 0)
        return cls()  # not a multiple of 90 degrees (or malformed): shown as stored, like most players

    @classmethod
    def from_rotate_tag(cls, value) -> "Orientation":
        """The ``rotate`` tag: degrees to turn the stored frames clockwise."""
        try:
            degrees = int(round(float(str(value).strip()))) % 360
        except (ValueError, OverflowError):  # "abc", "nan", "inf": an untrusted file's tag, shown as stored
            return cls()
        return {90: cls(True, True, False), 180: cls(False, True, True), 270: cls(True, False, True)}.get(degrees, cls())

    @property
    def rotation(self) -> int:
        """Clockwise degrees of the turn, read as a turn followed by a left-right mirror when :attr:`mirrored`."""
        if self.transpose:
            return 270 if self.flip_y else 90
        return 180 if self.flip_y else 0

    @property
    def mirrored(self) -> bool:
        # a pure turn is a transpose with exactly one flip, or no transpose with both flips or none
        return (self.flip_x == self.flip_y) if self.transpose else (self.flip_x != self.flip_y)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        if self == Orientation():
            return rgb
        out = rgb.transpose(1, 0, 2) if self.transpose else rgb
        out = out[:, ::-1] if self.flip_x else out
        out = out[::-1] if self.flip_y else out
        return np.ascontiguousarray(out)


@dataclass(frozen=True)
class DecodeBudget:
    """Limits on decoding one video; None means no limit.

    ``max_frames``: frames decoded (not only sampled: a stream with sparse
    keyframes is decoded forward); ``max_seconds``: wall-clock seconds from
    opening the file; ``cancel``: set it (from any thread) to stop at the next
    frame, e.g. when the client that asked has gone.
    """

    max_frames: int | None = None
    max_seconds: float | None = None
    cancel: threading.Event | None = None

    def __post_init__(self):
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError("max_seconds must be positive")


class _BudgetClock:
    """Counts decoded frames and time against a :class:`DecodeBudget`."""

    def __init__(self, budget: DecodeBudget | None):
        self.budget = budget or DecodeBudget()
        self.started = time.monotonic()
        self.frames = 0

    def cancelled(self) -> bool:
        return self.budget.cancel is not None and self.budget.cancel.is_set()

    def spent(self) -> str | None:
        """Why the budget is spent, or None."""
        b = self.budget
        if b.max_frames is not None and self.frames >= b.max_frames:
            return f"decode budget reached: {self.frames} frames decoded (limit {b.max_frames})"
        if b.max_seconds is not None and time.monotonic() - self.started >= b.max_seconds:
            return f"decode budget reached: {b.max_seconds:g} s spent decoding after {self.frames} frames"
        return None


@dataclass
class SampledFrame:
    index: int  # position in the video (0-based)
    time: float | None  # seconds from the start
    rgb: np.ndarray


def _av():
    import av

    return av


class VideoReader:
    """``with VideoReader(path) as r: for frame in r.sample(32): ...``

    ``budget``: a :class:`DecodeBudget` (default: none); ``max_pixels``: the
    largest frame decoded (default :data:`~fakelens.imaging.imageio.MAX_IMAGE_PIXELS`).
    """

    #: Give a file up after this many undecodable packets in a row.
    MAX_CONSECUTIVE_ERRORS = 25

    def __init__(self, path: str | os.PathLike, seek_gap: float = 2.0, budget: DecodeBudget | None = None, max_pixels: int | None = None):
        self.path = str(path)
        self.seek_gap = float(seek_gap)
        self.max_pixels = int(max_pixels) if max_pixels is not None else MAX_IMAGE_PIXELS
        self.warnings: list[str] = []
        self._clock = _BudgetClock(budget)
        self._stopped: str | None = None  # why decoding stopped early (the budget), if it did
        self._container = None
        self._orientation: Orientation | None = None  # known from the first decoded frame
        self._open()
        self.info = self._probe()

    # ------------------------------------------------------------------ opening
    def _open(self) -> None:
        av = _av()
        if self._container is not None:
            self._container.close()
        try:
            self._container = av.open(self.path, metadata_errors="ignore")
        except FileNotFoundError:
            raise VideoReadError(f"{self.path}: file not found") from None
        except IsADirectoryError:
            raise VideoReadError(f"{self.path}: is a folder, not a video") from None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise VideoReadError(f"{self.path}: not a readable video ({_reason(exc)})") from None
        if not self._container.streams.video:
            self.close()
            raise VideoReadError(f"{self.path}: no video stream (audio only or not a video)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame threads: both cores decode
        # FFmpeg checks every frame's size before allocating it: a stream whose header
        # says 64x64 cannot switch to 16000x16000 frames later (the codec context below
        # only tells the first size).
        if self._stream.codec_context is not None:  # None: no decoder (refused in _probe)
            self._stream.codec_context.options = {"max_pixels": str(self.max_pixels)}

    def _probe(self) -> VideoInfo:
        stream = self._stream
        ctx = stream.codec_context
        if ctx is None or not getattr(ctx, "name", None):
            self.close()
            raise VideoReadError(f"{self.path}: unsupported video codec (no decoder for it in this FFmpeg build)")
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width * height > self.max_pixels:
            self.close()
            raise VideoTooLargeError(f"{self.path}: frames are {width}x{height} pixels, above the {self.max_pixels:,} pixel limit")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1_000_000
        n_frames = int(stream.frames) if stream.frames else None
        if n_frames is None and duration and fps:
            n_frames = max(1, int(round(duration * fps)))
        if n_frames is None:
            n_frames = self._count_packets()
        return VideoInfo(width, height, fps, n_frames, duration, ctx.name)

    def _count_packets(self) -> int | None:
        """Frame count by demuxing without decoding (cheap); for streams that do not say.

        Within the frame budget: a stream with more packets is treated as that
        many frames long (its first ``max_frames`` are sampled), with a warning.
        """
        av = _av()
        limit = self._clock.budget.max_frames
        count = 0
        try:
            for packet in self._container.demux(self._stream):
                count += 1 if packet.size else 0
                if limit is not None and count >= limit:
                    self.warnings.append(f"more than {limit} frames: only the first {limit} are sampled (decode budget)")
                    break
                if count % 256 == 0 and (self._clock.cancelled() or self._clock.spent()):
                    break
        except (av.error.FFmpegError, OSError, ValueError):
            count = 0
        self._open()
        return count or None

    # ------------------------------------------------------------------ decoding
    def _frame_index(self, frame, counter: int) -> int:
        if frame.time is not None and self.info.fps and self._start_time is not None:
            return int(round((frame.time - self._start_time) * self.info.fps))
        return counter

    def _decoded(self) -> Iterator[tuple[int, object]]:
        """(index, frame) in presentation order from the current position.

        Packets are decoded one by one so that a corrupt packet is skipped
        (and counted) instead of ending the file; after
        ``MAX_CONSECUTIVE_ERRORS`` bad packets in a row, or a demuxer error,
        the rest of the file is given up.
        """
        av = _av()
        counter = self._counter_base
        bad_in_a_row = 0
        packets = self._container.demux(self._stream)
        while True:
            if self._clock.cancelled():
                raise VideoReadError(f"{self.path}: decoding cancelled")
            self._stopped = self._clock.spent()
            if self._stopped:
                return
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError, ValueError) as exc:
                self._break = f"the file breaks off after {counter} decoded frame(s): {_reason(exc)}"
                return
            try:
                frames = packet.decode()  # an empty packet at the end flushes the decoder
            except (av.error.FFmpegError, ValueError) as exc:
                self._check_refused_size()
                self._bad_packets += 1
                bad_in_a_row += 1
                if bad_in_a_row >= self.MAX_CONSECUTIVE_ERRORS:
                    self._break = f"{bad_in_a_row} undecodable packets in a row after {counter} frame(s): {_reason(exc)}"
                    return
                continue
            bad_in_a_row = 0
            for frame in frames:
                self._clock.frames += 1
                if frame.width * frame.height > self.max_pixels:  # before any copy of it is made
                    raise VideoTooLargeError(
                        f"{self.path}: frame {counter} is {frame.width}x{frame.height} pixels, above the {self.max_pixels:,} pixel limit"
                    )
                if self._start_time is None and frame.time is not None:
                    self._start_time = frame.time
                yield self._frame_index(frame, counter), frame
                counter += 1

    def _check_refused_size(self) -> None:
        """After a decode error: did FFmpeg refuse a frame for its size? (It then reports no frame size.)"""
        ctx = self._stream.codec_context
        if self.info.width * self.info.height and not (ctx.width and ctx.height):
            raise VideoTooLargeError(
                f"{self.path}: a frame is larger than the {self.max_pixels:,} pixel limit "
                f"(the header says {self.info.width}x{self.info.height})"
            )

    def sample(self, num_frames: int = 32) -> Iterator[SampledFrame]:
        """``num_frames`` evenly spaced frames (fewer if the video is shorter), first and last included."""
        if num_frames < 1:
            raise ValueError("num_frames must be at least 1")
        n = self.info.n_frames
        if n is None:
            raise VideoReadError(f"{self.path}: no frames")
        targets = np.unique(np.linspace(0, n - 1, min(num_frames, n)).round().astype(int))
        self._start_time, self._counter_base, self._break, self._bad_packets = None, 0, None, 0
        can_seek = bool(self.info.fps) and self._stream.time_base is not None
        decoded = self._decoded()
        pos, current = -1, None  # index of the last frame handed out; last decoded (index, frame)
        yielded = 0
        for target in targets:
            if can_seek and self._start_time is not None and (target - max(pos, 0)) / self.info.fps > self.seek_gap:
                decoded, can_seek = self._seek(target, pos)
                current = None
            while current is None or current[0] < target:
                current = next(decoded, None)
                if current is None:
                    break
            if current is None:
                break  # the video ended (or broke off) before this target
            if current[0] > pos:
                pos = current[0]
                yielded += 1
                yield SampledFrame(pos, current[1].time, self._orient(current[1]).apply(self._to_rgb(current[1])))
        if yielded == 0:
            if self._stopped:
                raise VideoTooLargeError(f"{self.path}: {self._stopped} before the first sampled frame")
            reason = self._break or (f"{self._bad_packets} corrupt packet(s)" if self._bad_packets else "")
            raise VideoReadError(
                f"{self.path}: no frame could be decoded ({reason})" if reason else f"{self.path}: the video has no frames"
            )
        if self._stopped:
            self.warnings.append(f"{self._stopped}; used {yielded} of {len(targets)} planned frames")
        if self._break:
            self.warnings.append(f"truncated or corrupt: {self._break}; used {yielded} frame(s)")
        if self._bad_packets:
            self.warnings.append(f"skipped {self._bad_packets} corrupt packet(s)")
        if not self._break and not self._stopped and yielded < len(targets) and n > yielded:
            self.warnings.append(f"the video ended early: {yielded} of {len(targets)} planned frames")

    def _seek(self, target: int, pos: int):
        """Seek to the keyframe before ``target``; returns (decoder, whether to keep seeking)."""
        av = _av()
        stream = self._stream
        seconds = self._start_time + target / self.info.fps
        try:
            self._container.seek(int(seconds / stream.time_base), stream=stream, backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError, ValueError):
            # An unseekable file: start again from the beginning and never seek.
            self._open()
            self._start_time = None
            return self._skip_to(pos), False
        decoded = self._decoded()
        first = next(decoded, None)
        if first is None or first[1].time is None:
            # Nothing after the seek, or no timestamps to tell where it landed:
            # decode from the start instead, without seeking.
            self._open()
            self._start_time = None
            return self._skip_to(pos), False
        keep_seeking = first[0] > pos  # landed behind where we were: the keyframes are too sparse
        return _chain([first], decoded), keep_seeking

    def _skip_to(self, pos: int):
        decoded = self._decoded()
        return (item for item in decoded if item[0] > pos)

    def _orient(self, frame) -> Orientation:
        """The stream's orientation, from its first decoded frame; ``info`` then tells the upright size."""
        if self._orientation is None:
            matrix = _display_matrix(frame)
            self._orientation = (
                Orientation.from_display_matrix(matrix)
                if matrix is not None
                else Orientation.from_rotate_tag(_rotate_tag(self._stream.metadata))
            )
            o, info = self._orientation, self.info
            self.info = replace(
                info,
                width=info.height if o.transpose else info.width,
                height=info.width if o.transpose else info.height,
                rotation=o.rotation,
                mirrored=o.mirrored,
            )
        return self._orientation

    def _to_rgb(self, frame) -> np.ndarray:
        try:
            return frame.to_ndarray(format="rgb24")
        except (_av().error.FFmpegError, ValueError) as exc:
            raise VideoReadError(f"{self.path}: frame {frame} cannot be converted to RGB ({_reason(exc)})") from None

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _display_matrix(frame) -> tuple[int, ...] | None:
    """The frame's display matrix (9 int32, FFmpeg's layout), or None; FFmpeg copies the stream's onto each frame."""
    for item in frame.side_data:
        if getattr(item.type, "name", "") == "DISPLAYMATRIX":
            data = bytes(item)
            return struct.unpack("=9i", data[:36]) if len(data) >= 36 else None
    return None


def _rotate_tag(metadata: dict) -> str:
    """The stream's ``rotate`` tag (Matroska spells it ``ROTATE``; FFmpeg's tags are case-insensitive), or "0"."""
    return next((v for k, v in metadata.items() if k.lower() == "rotate"), "0")


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _reason(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}".strip().rstrip(":")


def read_frames(
    path: str | os.PathLike, num_frames: int = 32, budget: DecodeBudget | None = None, max_pixels: int | None = None
) -> tuple[VideoInfo, list[SampledFrame], list[str]]:
    """All sampled frames at once (for short clips and tests; the pipelines stream)."""
    with VideoReader(path, budget=budget, max_pixels=max_pixels) as reader:
        frames = list(reader.sample(num_frames))
        return reader.info, frames, reader.warnings


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float = 4.0, crf: int = 23) -> None:
    """Encode RGB frames as H.264 (yuv420p, so players everywhere open it), atomically.

    Frames are cropped to even sizes, which 4:2:0 chroma needs.
    """
    av = _av()
    if not frames:
        raise ValueError("no frames to write")
    h, w = (d - d % 2 for d in frames[0].shape[:2])
    from fractions import Fraction

    rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(4)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast"}
            for rgb in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())


def playback_fps(n_frames: int, duration: float | None) -> float:
    """Frame rate that makes ``n_frames`` samples last about as long as the clip."""
    if not duration or duration <= 0:
        return 4.0
    return float(min(30.0, max(1.0, n_frames / duration)))
