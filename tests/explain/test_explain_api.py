"""The Python API: arrays out, the same numbers as predict, clear errors for bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from fakelens.data.synthetic import make_image
from fakelens.errors import ImageReadError
from fakelens.explain import Explanation, explain, explain_faces, resolve_methods
from fakelens.explain.faithfulness import deletion_faithfulness, random_segment_masks, shifted_masks, top_fraction_mask
from fakelens.explain.figures import explanation_figure, explanation_grid
from fakelens.imaging.preprocess import PreprocessConfig
from fakelens.inference.detector import Detector
from fakelens.models import create_model
from fakelens.utils.atomic import save_figure


@pytest.fixture(scope="module")
def detector():
    return Detector(create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3))


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(3)
    return [make_image(rng, 64, fake=i % 2 == 0)[0] for i in range(3)]


@pytest.fixture(scope="module")
def explained(detector, faces):
    return explain(detector, faces, methods="all", lime_samples=100, top_k=4)


def test_explain_returns_arrays_and_the_detectors_own_numbers(detector, faces, explained):
    assert len(explained) == 3 and all(isinstance(e, Explanation) for e in explained)
    probs = detector.predict_proba(faces)
    for e, face, p in zip(explained, faces, probs):
        assert e.rgb.shape == (64, 64, 3) and e.rgb.dtype == np.uint8 and np.array_equal(e.rgb, face)
        assert e.prob_fake == pytest.approx(p, abs=1e-6) and e.label == detector.label(p)
        heat = e.gradcam.heatmap
        assert heat.shape == (64, 64) and heat.dtype == np.float32 and 0 <= heat.min() and heat.max() <= 1 + 1e-6
        assert e.gradcam.overlay.shape == (64, 64, 3) and e.gradcam.overlay.dtype == np.uint8
        assert (e.gradcam.method, e.gradcam.layer) == ("gradcam", "features.3")
        lime = e.lime
        n_segments = lime.segments.max() + 1
        assert lime.segments.shape == (64, 64) and set(np.unique(lime.segments)) == set(range(n_segments))
        assert lime.weights.shape == (n_segments,) and len(lime.top_segments) == 4
        # the mask marks exactly the top-k superpixels, red (+1) where they push toward FAKE
        assert set(np.unique(lime.segments[lime.mask != 0])) == set(lime.top_segments.tolist())
        for seg in lime.top_segments:
            assert np.all(lime.mask[lime.segments == seg] == (1 if lime.weights[seg] > 0 else -1))
        red = lime.mask == 1
        if red.any():
            assert lime.overlay[red, 0].mean() > face[red, 0].mean() - 1
        assert lime.overlay.shape == (64, 64, 3) and lime.overlay.dtype == np.uint8
        assert "lime" in e.faithfulness
        json.dumps(e.to_dict())  # the summary is plain JSON


def test_results_do_not_depend_on_the_batch(detector, faces, explained):
    (alone,) = explain(detector, faces[1:2], methods="all", lime_samples=100, top_k=4)
    np.testing.assert_allclose(alone.gradcam.heatmap, explained[1].gradcam.heatmap, atol=1e-5)
    np.testing.assert_allclose(alone.lime.weights, explained[1].lime.weights, atol=1e-9)  # LIME is seeded
    assert alone.faithfulness["lime"] == explained[1].faithfulness["lime"]


def test_one_method_only(detector, faces):
    (e,) = explain(detector, faces[:1], methods="lime", lime_samples=50, faithfulness=False)
    assert e.gradcam is None and e.lime is not None and e.faithfulness == {}
    (e,) = explain(detector, faces[:1], methods=["GradCAM"], cam="gradcam++")
    assert e.lime is None and e.gradcam.method == "gradcam++"


def test_quickshift_superpixels_work_too(detector, faces):
    (e,) = explain(detector, faces[:1], methods="lime", lime_samples=50, segmentation="quickshift", top_k=3)
    n_segments = e.lime.segments.max() + 1
    assert n_segments > 3 and set(np.unique(e.lime.segments)) == set(range(n_segments))
    assert e.lime.weights.shape == (n_segments,)


def test_method_names():
    assert resolve_methods("all") == ("gradcam", "lime")
    assert resolve_methods(["lime", "gradcam"]) == ("gradcam", "lime")
    with pytest.raises(ValueError, match="unknown explanation method 'shap'; choose one of: gradcam, lime, all"):
        resolve_methods("shap")
    with pytest.raises(ValueError, match="no explanation method"):
        resolve_methods([])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cam": "gradcam+++"}, "unknown Grad-CAM variant"),
        ({"lime_samples": 0}, "lime_samples must be at least 10"),
        ({"top_k": 0}, "top_k must be at least 1"),
        ({"segmentation": "watershed"}, "unknown segmentation 'watershed'; choose one of: slic, quickshift"),
    ],
)
def test_bad_options_fail_before_any_image_is_read(detector, options, message):
    with pytest.raises(ValueError, match=message):
        explain(detector, ["/no/such/face.jpg"], **options)


def test_unreadable_images_raise_a_clear_error(detector, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageReadError, match="broken.jpg: .*image"):
        explain(detector, [broken], methods="gradcam")
    with pytest.raises(ImageReadError, match="missing.png: file not found"):
        explain(detector, [tmp_path / "missing.png"], methods="gradcam")


def test_files_and_arrays_give_the_same_explanation(detector, faces, explained, tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(faces[0]).save(path)
    (e,) = explain(detector, [str(path)], methods="gradcam")
    assert e.source == str(path)
    np.testing.assert_allclose(e.gradcam.heatmap, explained[0].gradcam.heatmap, atol=1e-5)


def test_explain_faces_keeps_each_face_box(detector, faces):
    boxes = [(10, 20, 74, 84), (100, 20, 164, 84)]
    results = explain_faces(detector, faces[:2], boxes=boxes, source="photo.jpg", methods="gradcam")
    assert [e.face_box for e in results] == boxes and {e.source for e in results} == {"photo.jpg"}
    assert results[0].to_dict()["face_box"] == [10, 20, 74, 84]
    with pytest.raises(ValueError, match="got 1 boxes for 2 face crops"):
        explain_faces(detector, faces[:2], boxes=boxes[:1])


def test_gradcam_uses_torch_while_scoring_runs_on_onnx(detector, faces):
    onnx_det = Detector(detector.model, detector.model_name, detector.preprocess).set_backend("onnx")
    assert onnx_det.backend == "onnx"
    (e,) = explain(onnx_det, faces[:1], methods="all", lime_samples=50)
    (ref,) = explain(detector, faces[:1], methods="all", lime_samples=50)
    assert e.prob_fake == pytest.approx(ref.prob_fake, abs=1e-4)
    np.testing.assert_allclose(e.gradcam.heatmap, ref.gradcam.heatmap, atol=1e-5)


def test_figures_show_each_panel_and_the_verdict(explained, tmp_path):
    fig = explanation_figure(explained[0])
    assert len(fig.axes) == 3
    title, edges = fig._suptitle.get_text(), explained[0].bands
    assert title.startswith(f"{explained[0].label}: fake-likeness") and f"FAKE from {edges['fake_from']:.2f}" in title and "%" not in title
    assert "faithfulness" in fig.axes[2].get_xlabel()
    save_figure(fig, tmp_path / "one.png")
    grid = explanation_grid(explained)
    assert len(grid.axes) == 9
    save_figure(grid, tmp_path / "grid.png")
    for name in ("one.png", "grid.png"):
        with Image.open(tmp_path / name) as im:
            assert im.size[0] > 300
    with pytest.raises(ValueError, match="no explanations"):
        explanation_grid([])


# --- the faithfulness check on its own, with a scorer whose answer is known ---------------------


def _top_left_scorer(faces: np.ndarray) -> np.ndarray:
    """'P(fake)' = how much high-frequency texture there is in the top-left quadrant."""
    q = faces[:, :32, :32].astype(np.float64)
    return np.abs(np.diff(q, axis=2)).mean(axis=(1, 2, 3)) / 128.0


def test_deletion_faithfulness_rewards_the_region_the_scorer_uses():
    rng = np.random.default_rng(0)
    face = np.full((64, 64, 3), 128, np.uint8)
    face[:32, :32] = rng.integers(0, 255, (32, 32, 3))
    heat = np.zeros((64, 64), np.float32)
    heat[:32, :32] = 1.0
    region = top_fraction_mask(heat, 0.25)
    assert region.sum() == 1024 and region[:32, :32].all()
    randoms = shifted_masks(region, 8, rng)
    assert all(m.sum() == 1024 for m in randoms)
    check = deletion_faithfulness(_top_left_scorer, face, region, randoms)
    assert check.drop_top > 0.5 * check.prob_fake  # blurring the texture away removes most of the 'evidence'
    assert check.score > 0.2 and check.drop_random < check.drop_top
    wrong = deletion_faithfulness(_top_left_scorer, face, np.roll(region, 32, axis=(0, 1)), randoms)
    assert wrong.drop_top == pytest.approx(0.0, abs=1e-9) and wrong.score < 0  # pointing elsewhere scores below chance
    assert check.to_dict()["score"] == pytest.approx(check.score, abs=1e-6)


def test_random_superpixel_regions_have_k_segments():
    segments = np.arange(16).repeat(16).reshape(16, 16)
    masks = random_segment_masks(segments, 3, 5, np.random.default_rng(0))
    assert all(len(np.unique(segments[m])) == 3 for m in masks)
    with pytest.raises(ValueError, match="region fraction"):
        top_fraction_mask(np.zeros((4, 4)), 1.5)
