import threading
import time

import numpy as np
import pytest

from fakelens.errors import DataError

pytest.importorskip("dlib")

from fakelens.imaging.landmarks import EYES, MOUTH, Landmarks68, predictor_path  # noqa: E402


def _dfdc_crops(folder, n):
    from fakelens.imaging.imageio import load_image

    paths = sorted((folder / "faces_224").glob("*.jpg"))[:n]
    return [load_image(p) for p in paths]


def test_a_missing_model_file_is_refused_at_once(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError, match="no such landmark model"):
        Landmarks68(tmp_path / "nope.dat")
    assert time.perf_counter() - start < 1.0


def test_the_model_comes_from_the_installed_package():
    assert predictor_path().name == "shape_predictor_68_face_landmarks.dat"


def test_bad_input_is_refused():
    with pytest.raises(DataError, match="uint8"):
        Landmarks68()(np.zeros((10, 10), np.float32), (0, 0, 5, 5))


def test_points_of_a_synthetic_face_fall_in_the_box_in_face_order():
    """Whatever the image, the predictor's shape is anchored to the box: eyes above the mouth, all points near the box."""
    rng = np.random.default_rng(0)
    img = rng.integers(90, 160, (160, 160, 3), dtype=np.uint8)
    box = (30, 40, 130, 140)
    lm = Landmarks68()(img, box)
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    margin = 0.15 * (box[2] - box[0])
    assert (lm[:, 0] > box[0] - margin).all() and (lm[:, 0] < box[2] + margin).all()
    assert (lm[:, 1] > box[1] - margin).all() and (lm[:, 1] < box[3] + margin).all()
    assert lm[EYES, 1].mean() < lm[MOUTH, 1].mean()


def test_real_crops_get_eyes_and_mouth_where_they_are(shared_dfdc):
    finder = Landmarks68()
    for rgb in _dfdc_crops(shared_dfdc, 5):
        lm = finder.for_crop(rgb)
        h, w = rgb.shape[:2]
        eyes, mouth = lm[EYES].mean(axis=0), lm[MOUTH].mean(axis=0)
        # fakelens crops are framed on the face: eyes in the upper half, mouth below them, both near the middle
        assert 0.2 * h < eyes[1] < 0.55 * h < mouth[1] < 0.9 * h
        assert 0.3 * w < eyes[0] < 0.7 * w and 0.3 * w < mouth[0] < 0.7 * w
        # the person's right eye (36-41) is on the image's left
        assert lm[36:42, 0].mean() < lm[42:48, 0].mean()


def test_threads_share_one_predictor_and_agree():
    finder = Landmarks68()
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (120, 120, 3), dtype=np.uint8) for _ in range(4)]
    expected = [finder(im, (10, 10, 110, 110)) for im in images]
    results = [None] * 16

    def work(i):
        results[i] = finder(images[i % 4], (10, 10, 110, 110))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        np.testing.assert_array_equal(r, expected[i % 4])
