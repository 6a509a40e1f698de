"""Hostile videos: frames that grow mid-stream, streams that must be decoded whole, cancelled decodes."""

import threading
import time

import pytest

from fakelens.errors import VideoReadError, VideoTooLargeError
from fakelens.faces import predict_video
from fakelens.faces.videoio import DecodeBudget, VideoReader, read_frames
from service.hostile import long_video, mjpeg_size_switch, peak_rss_delta_mb


@pytest.fixture(scope="module")
def size_switch(tmp_path_factory):
    """MJPEG whose header says 64x64 and whose frames 10-19 are 1000x1000, in Matroska and AVI."""
    folder = tmp_path_factory.mktemp("switch")
    return {c: mjpeg_size_switch(folder / f"switch.{ext}", c, big=1000) for c, ext in (("matroska", "mkv"), ("avi", "avi"))}


@pytest.mark.parametrize("container", ["matroska", "avi"])
def test_a_frame_larger_than_the_header_says_is_refused(size_switch, container):
    started = time.perf_counter()
    with pytest.raises(VideoTooLargeError, match="larger than the 500,000 pixel limit .the header says 64x64"):
        read_frames(size_switch[container], 30, max_pixels=500_000)
    assert time.perf_counter() - started < 5
    info, frames, _ = read_frames(size_switch[container], 30)  # under the default limit it is a (strange) video
    assert info.width == 64 and {f.rgb.shape for f in frames} == {(64, 64, 3), (1000, 1000, 3)}


def test_every_decoded_frame_is_checked_before_its_rgb_copy(size_switch):
    """Should a decoder not honour FFmpeg's max_pixels, the reader's own check still refuses the frame."""
    with VideoReader(size_switch["matroska"], max_pixels=2_000_000) as reader:
        reader.max_pixels = 500_000  # FFmpeg was told 2 M pixels when the file was opened
        with pytest.raises(VideoTooLargeError, match="frame 10 is 1000x1000 pixels, above the 500,000 pixel limit"):
            list(reader.sample(30))


def test_the_size_switch_at_16000_px_costs_no_memory(tmp_path):
    """The issue's recipe: 16000x16000 JPEG frames behind a 64x64 header (+2 GB and 24 s before)."""
    path = mjpeg_size_switch(tmp_path / "switch.mkv", "matroska", big=16000, n=24)
    setup = "from fakelens.faces.videoio import read_frames\nfrom fakelens.errors import VideoTooLargeError"
    work = f"try:\n    read_frames({str(path)!r}, 24)\nexcept VideoTooLargeError as exc:\n    assert 'pixel limit' in str(exc)\nelse:\n    raise SystemExit('not refused')"
    result = peak_rss_delta_mb(setup, work)
    assert result["peak_mb"] < 100 and result["seconds"] < 5, result


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """3,000 tiny frames with one keyframe: sampling 16 of them means decoding all 3,000."""
    return long_video(tmp_path_factory.mktemp("long") / "long.mp4", 3000)


def test_decode_budget_in_frames_keeps_what_was_sampled(long_clip):
    info, frames, warnings = read_frames(long_clip, 16, budget=DecodeBudget(max_frames=500))
    assert info.n_frames == 3000
    assert 1 <= len(frames) < 16 and max(f.index for f in frames) < 500
    assert any("decode budget reached: 500 frames decoded" in w for w in warnings)
    _, all_frames, no_warnings = read_frames(long_clip, 16)
    assert len(all_frames) == 16 and no_warnings == []


def test_decode_budget_in_seconds(long_clip):
    started = time.perf_counter()
    _, frames, warnings = read_frames(long_clip, 16, budget=DecodeBudget(max_seconds=0.02))
    assert time.perf_counter() - started < 2
    assert len(frames) < 16 and any("s spent decoding" in w for w in warnings)


def test_a_budget_spent_before_the_first_frame_is_a_refusal(long_clip):
    instant = DecodeBudget(max_seconds=1e-9)
    with pytest.raises(VideoTooLargeError, match="decode budget reached.*before the first sampled frame"):
        read_frames(long_clip, 16, budget=instant)


def test_cancel_stops_decoding(long_clip):
    cancel = threading.Event()
    with VideoReader(long_clip, budget=DecodeBudget(cancel=cancel)) as reader:
        frames = reader.sample(16)
        next(frames)
        cancel.set()
        with pytest.raises(VideoReadError, match="cancelled"):
            list(frames)


def test_budget_values_are_checked():
    with pytest.raises(ValueError):
        DecodeBudget(max_frames=0)
    with pytest.raises(ValueError):
        DecodeBudget(max_seconds=0)


def test_predict_video_passes_limits_and_flags_size_refusals(size_switch, long_clip, scorer):
    refused = predict_video(scorer, size_switch["avi"], frames=30, max_pixels=500_000)
    assert refused.status == "error" and refused.too_large and "pixel limit" in refused.error
    partial = predict_video(scorer, long_clip, frames=16, budget=DecodeBudget(max_frames=500))
    assert partial.status in ("ok", "no_face") and not partial.too_large
    assert any("decode budget" in w for w in partial.warnings)
