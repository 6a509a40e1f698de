import json

import numpy as np
import pytest
from facekit import BandedScorer, GreenKeyedScorer, background, iou, paste_heads, tint_green, write_video
from PIL import Image

from fakelens.errors import VideoReadError
from fakelens.faces import FaceBox, VideoReader, confident_strategy, link_faces, mean_strategy, predict_video, read_frames
from fakelens.faces.aggregate import aggregate

# ---------------------------------------------------------------- decoding


@pytest.fixture(scope="module")
def grey_ramp_videos(tmp_path_factory):
    """200 frames whose grey level is the frame number: short and long keyframe intervals."""
    folder = tmp_path_factory.mktemp("ramp")
    frames = [np.full((96, 128, 3), i, np.uint8) for i in range(200)]
    write_video(folder / "short_gop.mp4", frames, fps=20, gop=10)
    write_video(folder / "long_gop.mp4", frames, fps=20, gop=250)
    write_video(folder / "ramp.mkv", frames[:40], fps=20, codec="mpeg4")
    return folder


@pytest.mark.parametrize("name", ["short_gop.mp4", "long_gop.mp4"])
def test_frames_are_evenly_spaced_and_right_with_or_without_seeking(grey_ramp_videos, name, monkeypatch):
    seeks = []
    original = VideoReader._seek
    monkeypatch.setattr(VideoReader, "_seek", lambda self, t, p: seeks.append(t) or original(self, t, p))
    with VideoReader(grey_ramp_videos / name, seek_gap=0.3) as reader:
        assert (reader.info.width, reader.info.height, reader.info.fps, reader.info.n_frames) == (128, 96, 20.0, 200)
        frames = list(reader.sample(8))
    expected = list(np.linspace(0, 199, 8).round().astype(int))
    assert [f.index for f in frames] == expected
    assert all(abs(f.rgb.mean() - f.index) < 4 for f in frames)  # the pixels are those of that frame
    assert all(f.time == pytest.approx(f.index / 20) for f in frames)
    # Keyframes every 10 frames: seek across every gap. Every 250: the first seek lands
    # behind where decoding was, so seeking stops.
    assert len(seeks) == (7 if name == "short_gop.mp4" else 1)


def test_more_frames_asked_than_the_video_has(grey_ramp_videos):
    info, frames, warnings = read_frames(grey_ramp_videos / "ramp.mkv", 100)
    assert [f.index for f in frames] == list(range(40)) and warnings == []
    assert info.codec == "mpeg4"


def test_broken_videos_give_clear_errors(grey_ramp_videos, tmp_path):
    good = (grey_ramp_videos / "short_gop.mp4").read_bytes()
    (tmp_path / "garbage.mp4").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "cut.mp4").write_bytes(good[: len(good) // 2])  # mp4 index (moov) is at the end: gone
    codec = good.find(b"avc1", good.find(b"stsd"))
    (tmp_path / "unknown_codec.mp4").write_bytes(good[:codec] + b"zzzz" + good[codec + 4 :])
    mdat = good.find(b"mdat")
    size = int.from_bytes(good[mdat - 4 : mdat], "big")
    (tmp_path / "zeroed.mp4").write_bytes(good[: mdat + 4] + bytes(size - 8) + good[mdat - 4 + size :])
    expect = {
        "garbage.mp4": "not a readable video",
        "empty.mp4": "not a readable video",
        "cut.mp4": "not a readable video",
        "unknown_codec.mp4": "unsupported video codec",
        "zeroed.mp4": "no frame could be decoded",
        "missing.mp4": "file not found",
    }
    for name, reason in expect.items():
        with pytest.raises(VideoReadError, match=reason):
            read_frames(tmp_path / name, 8)


def test_truncated_and_corrupt_videos_keep_the_good_frames(grey_ramp_videos, tmp_path):
    mkv = (grey_ramp_videos / "ramp.mkv").read_bytes()  # Matroska: header first, so a cut file still plays
    (tmp_path / "cut.mkv").write_bytes(mkv[: int(len(mkv) * 0.6)])
    info, frames, warnings = read_frames(tmp_path / "cut.mkv", 40)
    assert 10 < len(frames) < 40 and any("ended early" in w or "truncated" in w for w in warnings)
    mp4 = bytearray((grey_ramp_videos / "short_gop.mp4").read_bytes())
    middle = len(mp4) // 2
    mp4[middle : middle + 300] = bytes(300)  # damage a few packets in the middle
    (tmp_path / "damaged.mp4").write_bytes(bytes(mp4))
    info, frames, warnings = read_frames(tmp_path / "damaged.mp4", 200)
    assert len(frames) > 150 and frames[-1].index == 199


# ---------------------------------------------------------------- tracking and aggregation


def test_link_faces_follows_people_across_sparse_frames():
    a = [FaceBox(10, 10, 50, 50, 0.9), FaceBox(200, 10, 240, 50, 0.9)]
    moved = [FaceBox(230, 12, 270, 52, 0.9), FaceBox(45, 10, 85, 50, 0.9)]  # both moved ~35 px: no IoU overlap for one
    frames = [a, moved, [], [FaceBox(80, 10, 120, 50, 0.9)], [FaceBox(500, 300, 540, 340, 0.9)]]
    assert link_faces(frames) == [[0, 1], [1, 0], [], [0], [2]]


def test_confident_strategy_branches_by_hand():
    fakes = [0.9] * 14 + [0.3] * 18  # 14 > 32 // 2.5 = 12 confidently fake frames
    assert confident_strategy(fakes) == pytest.approx(0.9)
    assert confident_strategy([0.9] * 12 + [0.3] * 20) == pytest.approx((0.9 * 12 + 0.3 * 20) / 32)  # 12 is not > 12
    reals = [0.1] * 30 + [0.5] * 2  # 30 > 0.9 * 32 confidently real
    assert confident_strategy(reals) == pytest.approx(0.1)
    assert confident_strategy([0.1] * 28 + [0.5] * 4) == pytest.approx((0.1 * 28 + 0.5 * 4) / 32)
    assert mean_strategy([0.2, 0.4]) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        aggregate([], "mean")
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate([0.5], "median")


def test_topk_lets_a_few_strongly_fake_frames_flag_a_track():
    track = [0.1] * 9 + [0.99] * 3  # a swap that breaks in 3 of 12 frames
    assert aggregate(track, "mean") < 0.5 and aggregate(track, "confident") < 0.5  # diluted by the good frames
    assert aggregate(track, "topk") == pytest.approx(0.99)  # k = 25% of 12 = 3: exactly the broken frames
    assert aggregate([0.1] * 12, "topk") == pytest.approx(0.1)  # a real track stays real
    # logits, not probabilities, are averaged: one frame at 0.5 beside two at 0.999 keeps the track confidently fake
    assert aggregate([0.0] * 9 + [0.999, 0.999, 0.5], "topk") > (0.999 * 2 + 0.5) / 3
    assert aggregate([0.7], "topk") == pytest.approx(0.7)  # one frame: k = 1


# ---------------------------------------------------------------- the video pipeline


@pytest.fixture(scope="module")
def two_people_video(tmp_path_factory):
    """12 frames at 640x360: person A walks right (green-tinted, 'fake', in frames 0-6), person B stands
    still (real); frames 4 and 5 are blank."""
    from skimage.data import astronaut

    head = np.ascontiguousarray(astronaut()[20:230, 130:320])
    frames, expected = [], []
    for i in range(12):
        if i in (4, 5):
            frames.append(background(360, 640))
            expected.append([])
            continue
        a = tint_green(head) if i <= 6 else head
        photo, boxes = paste_heads(a, (360, 640), [(20 + 25 * i, 60, 1.0)])
        part = head
        photo[100 : 100 + part.shape[0], 420 : 420 + part.shape[1]] = part
        boxes.append((420 + 48, 100 + 43, 420 + 137, 100 + 155))
        frames.append(photo)
        expected.append(boxes)
    path = tmp_path_factory.mktemp("clips") / "two_people.mp4"
    write_video(path, frames, fps=6)
    return path, expected


def test_video_tracks_and_aggregation_match_hand_computed_values(scorer, two_people_video, tmp_path):
    path, expected = two_people_video
    result = predict_video(scorer, path, frames=12, aggregate_by="mean", annotate_video=tmp_path / "a.mp4", plot=tmp_path / "p.png")
    assert result.status == "ok" and [i for i, _ in result.sampled] == list(range(12))
    # Boxes land on the pasted faces; A is track 0, B track 1 in every frame.
    for f in result.faces:
        box = expected[f.frame][0 if f.track == 0 else 1]
        assert iou(f.box.as_ints(), box) > 0.6, (f.frame, f.track)
    a = [f for f in result.faces if f.track == 0]
    b = [f for f in result.faces if f.track == 1]
    assert len(result.tracks) == 2 and len(a) == len(b) == 10  # blank frames 4 and 5 have no face
    assert [f.prob_fake for f in a] == [GreenKeyedScorer.FAKE] * 5 + [GreenKeyedScorer.REAL] * 5  # frames 0-3, 6 tinted
    track_a, track_b = result.tracks
    assert track_a.probs_by_strategy["mean"] == pytest.approx((5 * 0.9 + 5 * 0.15) / 10)
    # confident: 5 of 10 above 0.8, and 5 > 10 // 2.5 = 4, so only those count.
    assert track_a.probs_by_strategy["confident"] == pytest.approx(0.9)
    assert track_b.probs_by_strategy == pytest.approx({"mean": 0.15, "confident": 0.15, "topk": 0.15})  # all 10 < 0.2
    assert track_a.probs_by_strategy["topk"] == pytest.approx(0.9)  # the 3 most fake of 10 frames
    # The most-fake person decides; the chosen strategy gives prob_fake and label.
    assert result.video_probs == pytest.approx({"mean": 0.525, "confident": 0.9, "topk": 0.9})
    assert result.prob_fake == pytest.approx(0.525) and result.label == "FAKE" and result.aggregate == "mean"
    rows = result.rows()
    assert len(rows) == 20 and {r["track"] for r in rows} == {0, 1}
    assert all(r["video_prob"] == pytest.approx(0.525) and r["n_tracks"] == 2 for r in rows)
    assert all(r["track_prob"] == pytest.approx(0.525 if r["track"] == 0 else 0.15) for r in rows)
    d = json.loads(json.dumps(result.to_dict()))
    assert d["n_frames_sampled"] == 12 and len(d["frames"]) == 12 and d["frames"][4]["faces"] == []
    assert [t["n_faces"] for t in d["tracks"]] == [10, 10] and d["video_verdict"] == "FAKE"
    # The annotated H.264 video has the sampled frames; the plot is a PNG.
    info, frames, _ = read_frames(tmp_path / "a.mp4", 100)
    assert info.codec == "h264" and len(frames) == 12 and (info.width, info.height) == (640, 360)
    assert Image.open(tmp_path / "p.png").format == "PNG"


def test_a_face_seen_in_one_frame_does_not_decide_the_video(scorer, tmp_path):
    from skimage.data import astronaut

    head = np.ascontiguousarray(astronaut()[20:230, 130:320])
    frames = []
    for i in range(10):
        photo, _ = paste_heads(head, (360, 640), [(40, 60, 1.0)])
        if i == 3:  # a 'fake' face flashes up once
            photo[100:310, 420:610] = tint_green(head)
        frames.append(photo)
    write_video(tmp_path / "flash.mp4", frames, fps=5)
    result = predict_video(scorer, tmp_path / "flash.mp4", frames=10, full_detect_every=1)  # search every whole frame
    assert [t.used for t in result.tracks] == [True, False] and [len(t.frames) for t in result.tracks] == [10, 1]
    assert result.prob_fake == pytest.approx(0.15) and result.label == "REAL"
    # Searching only around known faces between full searches (every 4th frame here) misses the flash.
    guided = predict_video(scorer, tmp_path / "flash.mp4", frames=10, full_detect_every=4)
    assert len(guided.tracks) == 1 and len(guided.faces) == 10


def test_guided_search_finds_the_same_faces_as_full_search(two_people_video):
    from fakelens.faces import create_face_detector
    from fakelens.faces.guided import GuidedFaceFinder

    path, _ = two_people_video
    _, frames, _ = read_frames(path, 12)
    detector = create_face_detector()
    finder = GuidedFaceFinder(detector, full_every=8)
    for frame in frames:
        guided = sorted(finder(frame.rgb), key=lambda f: f.x0)
        full = sorted(detector.detect(frame.rgb), key=lambda f: f.x0)
        assert len(guided) == len(full), frame.index
        assert all(iou(g.as_ints(), f.as_ints()) > 0.7 for g, f in zip(guided, full))
    # Whole-frame searches: frame 0, then 5 and 6 (nobody left to look around after blank frame 4).
    # Windows: two people in frames 1-4 and 7-11.
    assert finder.full_searches == 3 and finder.window_searches == 2 * 9


def test_video_without_faces_and_broken_video(scorer, tmp_path):
    write_video(tmp_path / "blank.mp4", [background(120, 160)] * 5, fps=5)
    result = predict_video(scorer, tmp_path / "blank.mp4", frames=4)
    assert result.status == "no_face" and result.prob_fake is None and len(result.sampled) == 4
    (row,) = result.rows()
    assert row["prob_fake"] is None and row["status"] == "no_face"
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    broken = predict_video(scorer, tmp_path / "broken.mp4")
    assert broken.status == "error" and "not a readable video" in broken.error and broken.rows()[0]["error"] == broken.error


def test_a_video_of_two_people_is_judged_at_the_two_face_cut(two_people_video):
    from fakelens.inference.calibration import Bands

    path, _ = two_people_video
    # FAKE from 0.5 for one face, from 0.95 for the most-fake of two
    result = predict_video(BandedScorer(Bands(0.3, 0.5, fake_from_by_faces=(0.5, 0.95))), path, frames=12, aggregate_by="confident")
    assert len([t for t in result.tracks if t.used]) == 2
    assert result.prob_fake == pytest.approx(0.9)
    assert result.tracks[0].label == "FAKE"  # one person alone reaches the one-face cut
    assert result.label == "UNCERTAIN"  # but the most-fake of two people needs 0.95
    d = result.to_dict()
    assert d["bands"] == {"real_below": 0.3, "fake_from": 0.5} and d["video_bands"] == {"real_below": 0.3, "fake_from": 0.95}
    assert {(r["marker"], r["fake_from"], r["video_fake_from"]) for r in result.rows()} == {(1, 0.5, 0.95), (2, 0.5, 0.95)}


# ---------------------------------------------------------------- orientation (phones store portrait videos sideways)


def _marked_portrait_frames(n: int = 3) -> list[np.ndarray]:
    """Upright 96x64 frames, a different grey each, with a bright block in the top-left corner (so any turn shows)."""
    frames = []
    for i in range(n):
        frame = np.full((96, 64, 3), 40 + 50 * i, np.uint8)
        frame[:24, :16] = 250
        frames.append(frame)
    return frames


def _read_back_with_pyav(path):
    """The first frame's stored size, its display-matrix angle and the stream's tags, as PyAV reports them."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        return (frame.height, frame.width), frame.rotation, {k.lower(): v for k, v in stream.metadata.items()}


@pytest.mark.parametrize("turn", [90, 180, 270])
@pytest.mark.parametrize("how", ["display matrix", "rotate tag"])
def test_rotated_videos_are_decoded_upright(tmp_path, turn, how):
    upright = _marked_portrait_frames()
    stored = [np.rot90(f, k=turn // 90) for f in upright]  # turned counter-clockwise: a player turns it back clockwise
    if how == "display matrix":
        path = tmp_path / "clip.mp4"
        write_video(path, stored, fps=4, display_rotation=-turn)  # FFmpeg's angle counts counter-clockwise
    else:
        path = tmp_path / "clip.mkv"  # Matroska keeps a rotate tag as written (MP4 muxers no longer write one)
        write_video(path, stored, fps=4, tags={"rotate": str(turn)})
    size, angle, tags = _read_back_with_pyav(path)
    assert size == stored[0].shape[:2]
    assert (angle % 360 == -turn % 360) if how == "display matrix" else (angle == 0 and tags["rotate"] == str(turn))

    info, frames, _ = read_frames(path, 3)
    assert (info.height, info.width) == (96, 64) and info.rotation == turn and not info.mirrored
    assert len(frames) == 3
    for got, want in zip(frames, upright):
        assert got.rgb.shape == want.shape and np.abs(got.rgb.astype(int) - want).mean() < 6


def test_a_mirrored_display_matrix_is_undone_too(tmp_path):
    upright = _marked_portrait_frames(2)
    # a player turns these 90 degrees clockwise, then mirrors them left-right
    stored = [np.rot90(np.fliplr(f), k=1) for f in upright]
    write_video(tmp_path / "selfie.mp4", stored, fps=4, display_rotation=-90, hflip=True)
    info, frames, _ = read_frames(tmp_path / "selfie.mp4", 2)
    assert (info.height, info.width, info.rotation, info.mirrored) == (96, 64, 90, True)
    for got, want in zip(frames, upright):
        assert np.abs(got.rgb.astype(int) - want).mean() < 6


def test_a_portrait_phone_video_finds_the_same_faces_as_the_upright_clip(scorer, head, tmp_path):
    """A clip stored sideways with a display rotation (what phones write) gives the upright clip's faces and boxes."""
    from fakelens.data.extract import extract_face
    from fakelens.faces import create_face_detector

    frames, expected = [], []
    for i in range(4):
        photo, (box,) = paste_heads(head, (480, 272), [(40, 120 + 15 * i, 1.0)])
        frames.append(photo)
        expected.append(box)
    write_video(tmp_path / "upright.mp4", frames, fps=4)
    write_video(tmp_path / "portrait.mp4", [np.rot90(f, k=1) for f in frames], fps=4, display_rotation=-90)
    assert _read_back_with_pyav(tmp_path / "portrait.mp4")[:2] == ((272, 480), -90)

    upright = predict_video(scorer, tmp_path / "upright.mp4", frames=4)
    portrait = predict_video(scorer, tmp_path / "portrait.mp4", frames=4, annotate_video=tmp_path / "annotated.mp4")
    assert upright.status == portrait.status == "ok" and len(upright.faces) == len(portrait.faces) == 4
    for mine, theirs, box in zip(portrait.faces, upright.faces, expected):
        assert iou(mine.box.as_ints(), theirs.box.as_ints()) > 0.8 and iou(mine.box.as_ints(), box) > 0.6
    d = portrait.to_dict()["info"]
    assert (d["width"], d["height"], d["rotation"]) == (272, 480, 90)
    # the annotated video is written upright (no display matrix left to honour)
    info, _, _ = read_frames(tmp_path / "annotated.mp4", 2)
    assert (info.width, info.height, info.rotation) == (272, 480, 0)
    # extract-faces reads through the same decoder: the same face region as from the upright clip
    detector = create_face_detector()
    with VideoReader(tmp_path / "portrait.mp4") as a, VideoReader(tmp_path / "upright.mp4") as b:
        (_, region_a), (_, region_b) = extract_face(a, detector, 2, 64), extract_face(b, detector, 2, 64)
    assert np.allclose(region_a, region_b, atol=4)


def test_odd_rotation_metadata_leaves_frames_as_stored():
    from fakelens.faces.videoio import Orientation

    as_stored = Orientation()
    for tag in ("abc", "nan", "inf", "1e400", "45", ""):  # an untrusted file's tag: never a crash
        assert Orientation.from_rotate_tag(tag) == as_stored, tag
    assert Orientation.from_rotate_tag("-90") == Orientation.from_rotate_tag("270") and Orientation.from_rotate_tag("450").rotation == 90
    one, half = 1 << 16, 46341  # 16.16 fixed point: 1.0, and cos 45 degrees
    assert Orientation.from_display_matrix([half, half, 0, -half, half, 0, 0, 0, 1 << 30]) == as_stored  # 45 degrees: as players do
    assert Orientation.from_display_matrix([0, one, 0, -one, 0, 0, 0, 0, 1 << 30]).rotation == 90
    frame = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert as_stored.apply(frame) is frame  # upright videos cost no copy
