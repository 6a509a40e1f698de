"""Face alignment (fakelens.imaging.align): geometry on made points, and on a real face photo turned by hand."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("dlib")
pytest.importorskip("yuface")

from fakelens.imaging import align as A  # noqa: E402
from fakelens.imaging.landmarks import CROP_BOX  # noqa: E402
from fakelens.imaging.preprocess import PreprocessConfig  # noqa: E402


def _apply(matrix, points):
    points = np.asarray(points, dtype=np.float64)
    return (matrix @ np.c_[points, np.ones(len(points))].T).T


def _face_points(side=224.0, roll=0.0, scale=1.0, centre=(112.0, 118.0)):
    """Eye, eye, mouth centres of an upright face, turned by ``roll`` degrees (screen, y down) about ``centre``."""
    em = A.CANONICAL_EYE_MOUTH * side / scale
    cx, cy = centre
    upright = np.array([[cx - 0.45 * em, cy - em / 2], [cx + 0.45 * em, cy - em / 2], [cx, cy + em / 2]])
    turn = A.rotation_about(centre, -roll)  # -roll counter-clockwise = roll clockwise: the right eye goes down
    return _apply(turn, upright)


@pytest.mark.parametrize("roll", [-35.0, -12.0, 0.0, 7.5, 25.0])
def test_alignment_levels_the_eyes_and_puts_the_face_where_the_training_crops_have_it(roll):
    points = _face_points(roll=roll)
    alignment = A.alignment_for(points, 224)
    assert alignment.roll_degrees == pytest.approx(roll, abs=1e-6)
    aligned = _apply(alignment.matrix, points)
    assert aligned[0, 1] == pytest.approx(aligned[1, 1], abs=1e-6), "the eyes are not level"
    eye_mid = aligned[:2].mean(axis=0)
    assert np.linalg.norm(aligned[2] - eye_mid) == pytest.approx(A.CANONICAL_EYE_MOUTH * 224, rel=1e-6)
    centre = (eye_mid + aligned[2]) / 2
    assert centre == pytest.approx(np.asarray(A.CANONICAL_CENTRE) * 224, abs=1e-6)


def test_scale_and_shift_are_bounded_and_absurd_rolls_refused():
    points = _face_points(scale=3.0, centre=(60.0, 60.0))  # a small face far off the centre
    small = A.alignment_for(points, 224)
    assert small.scale == pytest.approx(A.SCALE_RANGE[1])  # would zoom 3x in: bounded
    centre = (points[:2].mean(axis=0) + points[2]) / 2
    moved = _apply(small.matrix, [centre])[0] - centre
    assert np.abs(moved).max() == pytest.approx(A.MAX_SHIFT * 224)  # moved toward the canonical place, by at most this
    assert A.alignment_for(_face_points(roll=80.0), 224) is None
    assert A.alignment_for(np.full((3, 2), np.nan), 224) is None


def test_a_crop_without_a_face_passes_unchanged():
    noise = np.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=np.uint8)
    out, alignment = A.align_face(noise)
    assert alignment is None and out is noise
    with pytest.raises(ValueError, match="square"):
        A.align_face(noise[:, :80])


@pytest.fixture(scope="module")
def face_crop():
    """The astronaut's face (a real photo in scikit-image), cropped as fakelens crops faces: 224 px."""
    from skimage.data import astronaut

    from fakelens.faces.cropping import crop_face
    from fakelens.faces.detectors import create_face_detector

    photo = astronaut()
    detector = create_face_detector("yuface")
    return crop_face(photo, detector.detect(photo)[0], detector.framing)


def test_the_largest_face_of_a_crop_comes_in_the_crops_pixels(face_crop):
    side = face_crop.shape[0]
    box, points = A.largest_face(face_crop, canvas_side=None)  # the padding is taken off again
    x0, y0, x1, y1 = box
    assert -0.1 * side < x0 < x1 < 1.1 * side and -0.1 * side < y0 < y1 < 1.1 * side
    assert x1 - x0 > 0.4 * side, "a face crop is mostly face"
    assert ((points >= (x0, y0)) & (points <= (x1, y1))).all(), "the five points lie in the box"
    assert points[:2, 1].max() < points[2, 1] < points[3:5, 1].min(), "eyes, then nose, then mouth"
    fast = A.largest_face(face_crop)  # the aligner's small canvas: the same face, coarser
    assert np.abs(np.subtract(fast[0], box)).max() < 0.1 * side
    assert A.face_box(face_crop) == fast[0]


@pytest.mark.parametrize("degrees", [-20, 20])
def test_a_turned_face_is_turned_back(face_crop, degrees):
    upright_roll = A.align_face(face_crop)[1].roll_degrees
    turned = A.warp(face_crop, A.rotation_about((112, 112), degrees), 224)
    aligned, alignment = A.align_face(turned)
    # turning the picture counter-clockwise by d turns the head's roll by -d
    assert alignment.roll_degrees - upright_roll == pytest.approx(-degrees, abs=3.0)
    upright_aligned = A.align_face(face_crop)[0]
    centre = slice(56, 168)
    before = np.abs(turned[centre, centre].astype(int) - face_crop[centre, centre]).mean()
    after = np.abs(aligned[centre, centre].astype(int) - upright_aligned[centre, centre]).mean()
    assert after < 0.5 * before, f"aligned faces differ by {after:.1f} grey levels, turned ones by {before:.1f}"


def test_a_map_on_the_aligned_face_comes_back_onto_the_face_as_given(face_crop):
    turned = A.warp(face_crop, A.rotation_about((112, 112), 20), 224)
    _, alignment = A.align_face(turned)
    # a ramp over the crop as given, carried into the aligned view and back
    ramp = np.add.outer(np.arange(224), np.arange(224)).astype(np.float32) / 446 * 255
    forward = A.warp(np.repeat(ramp.astype(np.uint8)[..., None], 3, axis=2), alignment.matrix, 224)[..., 0]
    back = A.unalign_map(forward.astype(np.float32), alignment)
    centre = slice(64, 160)
    assert np.abs(back[centre, centre] - ramp[centre, centre]).mean() < 2.0
    # at another map size too (Grad-CAM maps are at the model's input size)
    small = A.unalign_map(forward[::2, ::2].astype(np.float32), alignment)
    assert np.abs(small[32:80, 32:80] - ramp[::2, ::2][32:80, 32:80]).mean() < 3.0
    labels = A.unalign_map(np.arange(224 * 224).reshape(224, 224), alignment, nearest=True)
    assert labels.dtype.kind == "i"


def test_the_one_preprocessing_path_aligns_only_when_asked(face_crop):
    turned = A.warp(face_crop, A.rotation_about((112, 112), 20), 224)
    plain = PreprocessConfig(160)
    aligned = dataclasses.replace(plain, align=True)
    face, alignment = aligned.load_face_aligned(turned)
    assert face.shape == (160, 160, 3) and alignment is not None
    assert np.array_equal(plain.load_face(turned), plain.load_face_aligned(turned)[0])
    assert plain.load_face_aligned(turned)[1] is None
    assert not np.array_equal(face, plain.load_face(turned))
    assert PreprocessConfig.from_dict(aligned.to_dict()) == aligned
    assert PreprocessConfig.from_dict({"image_size": 160, "mean": [0.5] * 3, "std": [0.5] * 3}).align is False


def test_training_aligns_first_when_the_model_aligns(monkeypatch, face_crop):
    from fakelens.data import transforms

    seen = []

    def recording(rgb):
        seen.append(rgb.shape)
        return rgb, None

    monkeypatch.setattr(A, "align_face", recording)  # the one aligner, which TrainTransform reaches through PreprocessConfig
    rng = np.random.default_rng(0)
    transforms.TrainTransform(PreprocessConfig(96), cue_chain=0.0)(face_crop, rng)
    assert seen == []
    transforms.TrainTransform(PreprocessConfig(96, align=True), cue_chain=0.0)(face_crop, rng)
    assert seen == [(192, 192, 3)]  # aligned at twice the model's size at most, before any augmentation


@pytest.mark.parametrize("degrees", [-30, 30])
def test_a_face_turned_by_thirty_degrees_is_read_from_the_crops_fixed_box(face_crop, degrees):
    upright = A.measure(face_crop)
    turned = A.warp(face_crop, A.rotation_about((112, 112), degrees), 224)
    assert A.landmark_box(turned) == pytest.approx(tuple(np.asarray(CROP_BOX) * 224))
    assert A.eye_roll(A.measure(turned)) - A.eye_roll(upright) == pytest.approx(-degrees, abs=3.0)


def test_a_loose_or_off_centre_face_keeps_yufaces_box(face_crop):
    from PIL import Image

    small = np.asarray(Image.fromarray(face_crop).resize((96, 96), Image.BILINEAR))
    loose = np.full((224, 224, 3), 40, dtype=np.uint8)
    loose[8:104, 120:216] = small  # the face in the top right corner, at less than half the side
    box = A.landmark_box(loose)
    x0, y0, x1, y1 = box
    assert 110 < (x0 + x1) / 2 < 226 and (y0 + y1) / 2 < 110, f"{box} is not the corner's face"
    points = A.measure(loose)
    assert (points[:, 0] > 120).all() and (points[:, 1] < 104).all(), "the eyes and mouth are placed on the small face"
    noise = np.random.default_rng(1).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    assert A.landmark_box(noise) is None and A.measure(noise) is None
