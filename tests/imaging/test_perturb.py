import numpy as np
import pytest

from fakelens.data.synthetic import make_image
from fakelens.imaging.perturb import ROBUSTNESS_PERTURBATIONS, jpeg, random_degradation, social_media_chain


@pytest.mark.parametrize("name", list(ROBUSTNESS_PERTURBATIONS))
def test_perturbations_keep_shape_and_type(name):
    img = make_image(np.random.default_rng(0), 96)[0]
    out = ROBUSTNESS_PERTURBATIONS[name](img)
    assert out.shape == img.shape and out.dtype == np.uint8
    if name != "none":
        assert np.abs(out.astype(int) - img.astype(int)).mean() > 0.1


def test_stronger_jpeg_loses_more():
    img = make_image(np.random.default_rng(1), 128)[0]
    err = [np.abs(jpeg(img, q).astype(int) - img.astype(int)).mean() for q in (95, 50, 20)]
    assert err[0] < err[1] < err[2]


def test_social_chain_softens_a_large_crop():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    out = social_media_chain(img, face_fraction=0.15)
    assert out.std() < img.std()


def test_random_degradation_is_repeatable_and_off_at_zero():
    img = make_image(np.random.default_rng(3), 96)[0]
    a = random_degradation(img, np.random.default_rng(7), 1.0)
    b = random_degradation(img, np.random.default_rng(7), 1.0)
    assert np.array_equal(a, b)
    assert random_degradation(img, np.random.default_rng(7), 0.0) is img
