"""Video-level bands: clips built from faces, pooled scores through the video path, bands fitted on them."""

import json

import numpy as np
import pytest
from PIL import Image
from skimage.data import astronaut

from fakelens.data.clips import FRAME_SIZE, clip_frames, head_roll, part_fake_faces, write_clip
from fakelens.faces.cropping import crop_face
from fakelens.faces.detectors import create_face_detector
from fakelens.faces.video import predict_video
from fakelens.imaging.align import measure
from fakelens.inference.calibration import Bands, Calibration
from fakelens.inference.detector_config import DetectorConfig
from fakelens.sources import Sample
from fakelens.training.video_calibration import fit_video_bands, pick_videos


@pytest.fixture(scope="module")
def face():
    photo = astronaut()
    detector = create_face_detector("yuface")
    return crop_face(photo, detector.detect(photo)[0], detector.framing)


class TintScorer:
    """A stand-in detector: P(fake) rises with how much greener than red a face is (tinted faces are the fakes)."""

    model_name = "tint"

    def __init__(self):
        self.calibration = Calibration(threshold=0.5, bands=Bands(0.3, 0.7))

    @property
    def threshold(self):
        return self.calibration.threshold

    def predict_proba(self, images, batch_size: int = 32) -> np.ndarray:
        a = np.stack([np.asarray(im, dtype=np.float32) for im in images])
        d = a[..., 1].mean(axis=(1, 2)) - a[..., 0].mean(axis=(1, 2))
        return 1 / (1 + np.exp(-(d - 10) / 6))

    def verdict(self, p: float) -> str:
        return self.calibration.verdict(p)

    label = verdict


def _tint(rgb, amount):
    out = rgb.astype(np.float32)
    out[..., 1] = np.minimum(255, out[..., 1] + amount)
    return out.astype(np.uint8)


@pytest.fixture(scope="module")
def val_faces(tmp_path_factory, face):
    folder = tmp_path_factory.mktemp("val")
    rng = np.random.default_rng(0)
    samples = []
    for i in range(16):
        fake = i % 2 == 1
        amount = rng.uniform(10, 45) if fake else rng.uniform(-25, 12)
        path = folder / f"{i}.jpg"
        Image.fromarray(_tint(face, amount)).save(path, quality=92)
        samples.append(Sample(str(path), int(fake), f"g{i}", "made"))
    return samples


def test_clips_show_the_face_in_every_frame_and_move(face):
    frames = clip_frames(face, np.random.default_rng(1), n_frames=8)
    assert len(frames) == 8 and frames[0].shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    detector = create_face_detector("yuface")
    assert all(detector.detect(f) for f in frames)
    assert not np.array_equal(frames[0], frames[-1])


def _eye_line_degrees(frame, detector):
    crop = crop_face(frame, detector.detect(frame)[0], detector.framing)
    points = measure(crop)
    (x0, y0), (x1, y1) = points[0], points[1]
    return np.degrees(np.arctan2(y1 - y0, x1 - x0))


def test_clip_heads_sway_as_asked():
    rolls = head_roll(np.random.default_rng(3), 12, max_roll=10.0)
    assert np.abs(rolls).max() <= 10.0 and np.ptp(rolls) > 1.0
    assert np.ptp(head_roll(np.random.default_rng(3), 12, max_roll=0.0)) == 0.0


def test_the_face_itself_rolls_in_a_clip(face):
    detector = create_face_detector("yuface")
    rolls = np.linspace(-10, 10, 5)
    swaying = clip_frames(face, np.random.default_rng(2), n_frames=5, rolls=rolls)
    still = clip_frames(face, np.random.default_rng(2), n_frames=5, rolls=np.zeros(5))
    level = np.array([_eye_line_degrees(f, detector) for f in still])
    sway = np.array([_eye_line_degrees(f, detector) for f in swaying])
    assert np.ptp(level) < 2
    # a counter-clockwise turn on screen lifts the eye on the right: the eye line falls by the roll
    assert np.abs(sway - (level - rolls)).max() < 2.5


def test_pick_videos_balances_sources_and_classes(val_faces):
    picked = pick_videos(val_faces, per_source=3)
    assert sum(s.label == 1 for s in picked) == 3 and sum(s.label == 0 for s in picked) == 3


def test_video_bands_are_fitted_on_pooled_clip_scores_and_drive_the_video_verdict(tmp_path, val_faces):
    scorer = TintScorer()
    report = fit_video_bands(scorer, val_faces, per_source=8, n_frames=6, aggregate="topk", precision=0.8, progress=False)
    assert report["videos"] == 16 and report["no_face"] == 0
    cal = scorer.calibration
    assert cal.video_aggregate == "topk" and cal.video_bands is not None
    assert report["val_videos"]["real_called_fake"] <= 0.03 + 1e-9
    assert report["val_videos"]["roc_auc"] > 0.9  # the tint survives the clip, the codec and the pooling
    # a clip of a tinted face is judged by the video bands, pooled by their pooling unless asked otherwise
    from fakelens.imaging.imageio import load_image

    fake = next(s for s in val_faces if s.label == 1)
    clip = tmp_path / "v.mp4"
    write_clip(clip, load_image(fake.path), np.random.default_rng(5), 6)
    result = predict_video(scorer, clip, frames=6)
    assert result.aggregate == "topk"
    assert result.video_bands == {"real_below": round(cal.video_bands.real_below, 6), "fake_from": round(cal.video_bands.fake_from, 6)}
    assert result.label == cal.video_bands.verdict(result.prob_fake)
    other = predict_video(scorer, clip, frames=6, aggregate_by="mean")
    assert other.video_bands == {"real_below": 0.3, "fake_from": 0.7}  # another pooling keeps the face bands


def test_video_verdicts_fall_back_to_face_bands_for_another_pooling():
    cal = Calibration(bands=Bands(0.3, 0.7), video_bands=Bands(0.5, 0.9), video_aggregate="topk")
    assert cal.video_verdict(0.8, 1, "topk") == "UNCERTAIN"
    assert cal.video_verdict(0.8, 1, "mean") == "FAKE"
    assert cal.video_edges(1, "topk") == {"real_below": 0.5, "fake_from": 0.9}


def test_detector_json_keeps_video_bands_with_their_pooling(tmp_path):
    base = {"model": "simple_cnn", "preprocess": {"image_size": 64, "mean": [0.5] * 3, "std": [0.5] * 3}}
    bands = {"real_below": 0.2, "fake_from": 0.8}
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({**base, "video_bands": bands, "video_aggregate": "topk"}))
    assert DetectorConfig.load(ok).video_aggregate == "topk"
    from fakelens.errors import RunDirError

    for broken in ({"video_bands": bands}, {"video_bands": bands, "video_aggregate": "max"}):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**base, **broken}))
        with pytest.raises(RunDirError, match="video_"):
            DetectorConfig.load(bad)


def test_a_saved_detector_brings_its_video_bands_back(tmp_path):
    import dataclasses

    from fakelens.imaging.preprocess import PreprocessConfig
    from fakelens.inference.detector import Detector
    from fakelens.models import create_model

    det = Detector(create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3), bands=Bands(0.2, 0.8))
    det.calibration = dataclasses.replace(det.calibration, video_bands=Bands(0.4, 0.9, {"n": 10}), video_aggregate="topk")
    det.save(tmp_path / "run")
    again = Detector.from_dir(tmp_path / "run", backend="torch")
    assert again.calibration.video_bands == Bands(0.4, 0.9) and again.calibration.video_aggregate == "topk"
    assert again.calibration.bands == Bands(0.2, 0.8)


def test_calibrate_videos_without_validation_data_is_a_clear_usage_error(tmp_path, capsys):
    from fakelens.cli import main

    assert main(["calibrate-videos", str(tmp_path), "--split", str(tmp_path / "nope.csv")]) == 2
    assert "no such split.csv" in capsys.readouterr().err
    assert main(["calibrate-videos", str(tmp_path)]) == 2
    assert "no split.csv (nor a bundled split.csv.gz)" in capsys.readouterr().err


def test_a_bundled_detector_finds_its_validation_faces_in_its_training_sources(folder_dataset, tmp_path):
    """``split.csv.gz`` holds sides by key only; the faces come from the sources ``detector.json`` lists, where present."""
    import csv
    import gzip
    import os

    from fakelens.sources import load_samples
    from fakelens.training.calibrate import validation_faces

    samples = load_samples(folder_dataset)
    sides = ["val" if i % 3 == 0 else "train" for i in range(len(samples))]
    split = tmp_path / "split.csv.gz"
    with gzip.open(split, "wt", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["source", "key", "split"])
        rows.writerows(["made", os.path.relpath(s.path, folder_dataset), side] for s, side in zip(samples, sides))
    trained_on = [
        {"name": "made", "path": str(folder_dataset)},
        {"name": "elsewhere", "path": str(tmp_path / "not-imported")},  # absent here: skipped
        {"name": "made-sbi", "type": "pseudo_fake", "family": "sbi", "real_from": "made"},  # no images of its own
    ]
    found = validation_faces(split, trained_on)
    assert sorted(s.path for s in found) == sorted(s.path for s, side in zip(samples, sides) if side == "val")
    assert {s.source for s in found} == {"made"} and {s.label for s in found} == {0, 1}


def test_a_part_fake_clip_shows_the_fake_in_one_stretch(face):
    fake = _tint(face, 40)
    faces = part_fake_faces(face, fake, 12, 3, np.random.default_rng(0))
    marks = np.array([f is fake for f in faces])
    assert marks.sum() == 3 and np.ptp(np.flatnonzero(marks)) == 2  # three frames, one after another
    assert all(f is face for f in part_fake_faces(face, fake, 12, 0, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="11 faces for 12 frames"):
        clip_frames(faces[:11], np.random.default_rng(0), n_frames=12)


def test_topk_pooling_lets_a_fake_stretch_count_where_the_mean_does_not(tmp_path, face):
    scorer = TintScorer()
    fake = _tint(face, 80)
    clips = {}
    for name, n_fake in (("real", 0), ("part", 3)):
        clips[name] = tmp_path / f"{name}.mp4"
        write_clip(clips[name], part_fake_faces(face, fake, 12, n_fake, np.random.default_rng(1)), np.random.default_rng(2), 12)
    pooled = {
        (name, how): predict_video(scorer, clip, frames=12, aggregate_by=how).prob_fake
        for name, clip in clips.items()
        for how in ("mean", "topk")
    }
    assert pooled[("part", "topk")] > 0.7 > pooled[("part", "mean")], pooled  # 3 of 12 frames: FAKE by topk, not by the mean
    assert pooled[("real", "topk")] < 0.3, pooled
