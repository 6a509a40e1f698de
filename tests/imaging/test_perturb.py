import numpy as np
import pytest

from fakelens.data.synthetic import make_image
from fakelens.imaging.perturb import ROBUSTNESS_PERTURBATIONS, gaussian_blur, jpeg, random_degradation, skin_smoothing, social_media_chain


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


def test_skin_smoothing_takes_the_texture_off_flat_areas_and_keeps_edges():
    # a grainy dark half and a grainy light half: texture on both sides of one sharp edge
    rng = np.random.default_rng(4)
    img = np.zeros((128, 128, 3), np.float32)
    img[:, 64:] = 160
    img = np.clip(img + 60 + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    out = skin_smoothing(img)
    blurred = gaussian_blur(img, 3.0)
    flat = (slice(16, 112), slice(8, 48))
    assert out[flat].astype(float).std() < 0.5 * img[flat].astype(float).std()  # the grain is mostly gone
    step = lambda x: float(x[:, 66:70].astype(float).mean() - x[:, 58:62].astype(float).mean())  # noqa: E731
    # across the edge the step stays nearly as it was, where a plain blur of the same width loses more of it
    assert step(out) > 0.9 * step(img) and step(out) > step(blurred) + 5
    assert np.array_equal(skin_smoothing(img, strength=0.0), img)
