import json
import shutil

import numpy as np
import pytest
from PIL import Image

import fakelens
from fakelens.data.synthetic import make_image
from fakelens.inference.tta import VIEWS, ZOOM, apply_view, check_views, undo_view


def _smooth(rng, n=2, size=64):
    """Smooth NCHW float32 batches: low-frequency patterns that bilinear resampling keeps."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.stack([np.stack([np.sin(2 * np.pi * (a * xx + b * yy) + c) for a, b, c in rng.uniform(0.3, 1.5, (3, 3))]) for _ in range(n)])
    return out.astype(np.float32)


def test_the_zoomed_view_is_the_centre_of_the_crop_resized_back():
    x = _smooth(np.random.default_rng(0))
    size = x.shape[-1]
    side = size * ZOOM
    box = ((size - side) / 2, (size - side) / 2, (size + side) / 2, (size + side) / 2)
    # PIL resizes the same float box of each channel (bilinear; enlarging, so a plain two-tap filter)
    expected = np.stack(
        [np.stack([np.asarray(Image.fromarray(ch, "F").resize((size, size), Image.BILINEAR, box=box)) for ch in img]) for img in x]
    )
    got = apply_view("zoom", x)
    assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == x.shape
    assert np.abs(got - expected)[..., 2:-2, 2:-2].max() < 2e-3
    assert np.abs(got - x).max() > 0.05  # it is a different view, not the face again


def test_mirror_views_flip_left_to_right():
    x = _smooth(np.random.default_rng(1))
    np.testing.assert_array_equal(apply_view("mirror", x), x[..., ::-1])
    np.testing.assert_allclose(apply_view("mirror-zoom", x), apply_view("zoom", x)[..., ::-1], atol=1e-6)


@pytest.mark.parametrize("view", VIEWS)
def test_undo_view_puts_a_map_back_on_the_face(view):
    rng = np.random.default_rng(2)
    maps = _smooth(rng, n=3)[:, 0]
    seen_by_view = apply_view(view, maps[:, None])[:, 0]
    back, covered = undo_view(view, seen_by_view)
    assert back.shape == covered.shape == maps.shape
    inside = covered[0] > 0
    assert np.abs(back - maps)[:, inside].max() < 0.02
    if "zoom" in view:  # the border the zoomed view cut away is marked unseen and left at zero
        side = round(maps.shape[-1] * ZOOM)
        assert inside.sum() == side * side and not inside[0].any() and inside[32, 32]
        assert (back[:, ~inside] == 0).all()
    else:
        assert inside.all()


@pytest.mark.parametrize(
    "views, message", [(["mirror", "rotate"], "unknown test-time view 'rotate'"), (["zoom", "zoom"], "each once"), ([], "each once")]
)
def test_check_views_refuses_unknown_repeated_or_no_views(views, message):
    with pytest.raises(ValueError, match=message):
        check_views(views)
    with pytest.raises(ValueError, match="unknown test-time view"):
        apply_view("rotate", np.zeros((1, 3, 8, 8), np.float32))


@pytest.fixture
def run_copy(trained_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained_run[0], dst)
    return dst


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_detector_averages_the_logits_of_the_face_and_its_saved_views(run_copy, backend):
    from scipy.special import expit

    from fakelens.inference.detector import CONFIG_FILE

    config = json.loads((run_copy / CONFIG_FILE).read_text())
    (run_copy / CONFIG_FILE).write_text(json.dumps({**config, "tta": True, "tta_views": ["mirror", "mirror-zoom"]}))
    rng = np.random.default_rng(7)
    images = [make_image(rng, 64, fake=i % 2 == 1)[0] for i in range(6)]
    det = fakelens.load(run_copy, backend=backend)
    assert det.views == ("mirror", "mirror-zoom") and "mirror-zoom" in repr(det)
    x = det.to_batch(images)
    run = det.runner.run
    expected = (run(x) + run(apply_view("mirror", x)) + run(apply_view("mirror-zoom", x))) / 3
    got = det.predict_proba(images)
    assert np.allclose(got, expit(expected / det.temperature), atol=1e-5)
    mirror_only = fakelens.load(run_copy, backend=backend)
    mirror_only.calibration = mirror_only.calibration.__class__(det.temperature, det.threshold, True, None, ("mirror",))
    assert np.abs(got - mirror_only.predict_proba(images)).max() > 1e-4  # the zoomed view does change the scores
    off = fakelens.load(run_copy, backend=backend, tta=False)
    assert off.views == () and np.allclose(off.logits(x), run(x))
    det.save(run_copy)  # views are kept with the detector
    assert fakelens.load(run_copy, backend=backend).views == ("mirror", "mirror-zoom")


def test_a_detector_json_from_before_named_views_averages_the_mirror_image(run_copy):
    from fakelens.inference.detector import CONFIG_FILE

    config = json.loads((run_copy / CONFIG_FILE).read_text())
    config.pop("tta_views", None)
    (run_copy / CONFIG_FILE).write_text(json.dumps({**config, "tta": True}))
    assert fakelens.load(run_copy).views == ("mirror",)
