"""Do the explanations point at the manipulation? Synthetic fakes whose pasted patch is known.

The model is ``patch_run`` (simple_cnn trained on 96 px synthetic faces); the
images are fresh ones, made with a seed the model never saw.
"""

import numpy as np
import pytest

import fakelens
from fakelens.data.synthetic import make_image
from fakelens.explain import explain

# Share of Grad-CAM mass inside the patch box, averaged over the fakes. The box
# covers ~12 % of the face, so a map blind to the patch puts ~0.12 inside; the
# fixture model puts ~0.57 there (0.52-0.66 over four initial seeds). 0.4 is
# more than three times chance.
MIN_MASS_INSIDE = 0.4


@pytest.fixture(scope="module")
def detector(patch_run):
    return fakelens.load(patch_run, backend="torch")


@pytest.fixture(scope="module")
def fakes():
    rng = np.random.default_rng(2024)
    return [make_image(rng, 96, fake=True) for _ in range(12)]


def _box_mask(shape, box):
    x0, y0, x1, y1 = box
    inside = np.zeros(shape, dtype=bool)
    inside[y0:y1, x0:x1] = True
    return inside


def test_gradcam_mass_lies_inside_the_manipulated_region(detector, fakes):
    results = explain(detector, [im for im, _ in fakes], methods="gradcam")
    mass, area = [], []
    for e, (_, box) in zip(results, fakes):
        heat, inside = e.gradcam.heatmap, _box_mask(e.gradcam.heatmap.shape, box)
        mass.append(heat[inside].sum() / heat.sum() if heat.sum() > 0 else 0.0)
        area.append(inside.mean())
    print(
        f"\nGrad-CAM mass inside the patch: mean {np.mean(mass):.3f}, median {np.median(mass):.3f}, "
        f"min {np.min(mass):.3f}; patch area fraction {np.mean(area):.3f}"
    )
    assert np.mean(area) < 0.15
    assert np.mean(mass) > MIN_MASS_INSIDE
    assert np.median(mass) > MIN_MASS_INSIDE
    # removing the hottest pixels costs more P(fake) than removing the same area elsewhere
    scores = np.array([e.faithfulness["gradcam"].score for e in results if "gradcam" in e.faithfulness])
    print(f"Grad-CAM faithfulness: mean {scores.mean():+.4f}, positive for {(scores > 0).mean():.0%}")
    assert len(scores) >= 10 and scores.mean() > 0 and (scores > 0).mean() >= 0.75


def test_removing_top_lime_superpixels_lowers_p_fake_more_than_random_ones(detector, fakes):
    results = explain(detector, [im for im, _ in fakes[:5]], methods="lime", lime_samples=150, top_k=5)
    top = np.array([e.faithfulness["lime"].drop_top for e in results])
    rand = np.array([e.faithfulness["lime"].drop_random for e in results])
    print(f"\nLIME: P(fake) drop with the top-5 superpixels removed {top.mean():.4f} vs 5 random ones {rand.mean():.4f}")
    assert top.mean() > 2 * max(rand.mean(), 0.0) and top.mean() > 0
    assert (top > rand).mean() >= 0.8
    # the superpixels pushing toward FAKE sit on the patch far more than chance (~0.12) would have them
    on_patch = [_box_mask(e.rgb.shape[:2], box)[e.lime.fake_region()].mean() for e, (_, box) in zip(results, fakes)]
    print(f"LIME: share of the top-5 FAKE superpixels' area on the patch {np.mean(on_patch):.3f}")
    assert np.mean(on_patch) > 0.4
