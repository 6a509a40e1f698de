"""ExplainConfig, the method classes and their registry: the options checked once, each method its own part,
and the config form of explain() giving the very results of the keyword form."""

import json

import numpy as np
import pytest
from PIL import Image

from fakelens.data.synthetic import make_image
from fakelens.errors import ConfigError
from fakelens.explain import (
    EXPLAIN_METHODS,
    METHODS,
    CamMethod,
    ExplainConfig,
    ExplainMethod,
    Explanation,
    LimeMethod,
    explain,
    explain_faces,
    explain_files,
    make_methods,
)
from fakelens.imaging.preprocess import PreprocessConfig
from fakelens.inference.detector import Detector
from fakelens.models import create_model

LIME = {"lime_samples": 40, "top_k": 3}  # small enough to be quick, enough for LIME's linear fit


@pytest.fixture(scope="module")
def detector():
    import torch

    with torch.random.fork_rng():  # the same untrained weights whatever ran before
        torch.manual_seed(0)
        return Detector(create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3))


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(11)
    return [make_image(rng, 64, fake=i % 2 == 0)[0] for i in range(2)]


def _assert_same(a: list[Explanation], b: list[Explanation]) -> None:
    """Bit for bit: the same arrays, the same numbers, the same faithfulness checks."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x.source, x.prob_fake, x.label, x.face_box) == (y.source, y.prob_fake, y.label, y.face_box)
        assert np.array_equal(x.rgb, y.rgb)
        assert (x.gradcam is None) == (y.gradcam is None) and (x.lime is None) == (y.lime is None)
        if x.gradcam is not None:
            assert (x.gradcam.method, x.gradcam.layer) == (y.gradcam.method, y.gradcam.layer)
            assert np.array_equal(x.gradcam.heatmap, y.gradcam.heatmap) and np.array_equal(x.gradcam.overlay, y.gradcam.overlay)
        if x.lime is not None:
            for field in ("segments", "weights", "top_segments", "mask", "overlay"):
                assert np.array_equal(getattr(x.lime, field), getattr(y.lime, field)), field
            assert x.lime.fit_r2 == y.lime.fit_r2
        assert x.faithfulness == y.faithfulness and list(x.faithfulness) == list(y.faithfulness)
        assert x.to_dict() == y.to_dict()


# ------------------------------------------------------------------------------------ the config
def test_defaults_are_the_explain_defaults_and_all_expands():
    cfg = ExplainConfig()
    assert cfg.methods == METHODS == ("gradcam", "lime")
    assert (cfg.cam, cfg.target_layer, cfg.lime_samples, cfg.top_k, cfg.segmentation) == ("gradcam", None, 1000, 5, "slic")
    assert (cfg.faithfulness, cfg.cam_region_fraction, cfg.n_random, cfg.random_state) == (True, 0.15, 8, 0)
    assert ExplainConfig(methods="all").methods == ("gradcam", "lime")
    assert ExplainConfig(methods=["LIME", "gradcam"]).methods == ("gradcam", "lime")  # any case, the registry's order
    assert ExplainConfig(methods="lime").methods == ("lime",)
    assert ExplainConfig(cam="GradCAM++", segmentation="QuickShift").model_dump(include={"cam", "segmentation"}) == {
        "cam": "gradcam++",
        "segmentation": "quickshift",
    }


@pytest.mark.parametrize(
    "options, message",
    [
        ({"methods": "shap"}, "unknown explanation method 'shap'; choose one of: gradcam, lime, all"),
        ({"methods": []}, "no explanation method given"),
        ({"cam": "gradcam+++"}, r"unknown Grad-CAM variant 'gradcam\+\+\+'; choose one of: gradcam, gradcam\+\+"),
        ({"lime_samples": 0}, r"lime_samples must be at least 10 \(got 0\)"),
        ({"lime_samples": "many"}, "lime_samples: Input should be a valid integer"),
        ({"top_k": 0}, r"top_k must be at least 1 \(got 0\)"),
        ({"segmentation": "watershed"}, "unknown segmentation 'watershed'; choose one of: slic, quickshift"),
        ({"cam_region_fraction": 1.5}, r"cam_region_fraction must be in \(0, 1\), got 1.5"),
        ({"cam_region_fraction": float("nan")}, r"cam_region_fraction must be in \(0, 1\), got nan"),
        ({"n_random": 0}, r"n_random must be at least 1 \(got 0\)"),
        ({"random_state": -1}, r"random_state must be from 0 to 2\*\*32 - 1 \(got -1\)"),
        ({"target_layer": ""}, "target_layer must name a layer"),
        ({"faithfulness": "maybe"}, "faithfulness: Input should be a valid boolean"),
        ({"lime_sample": 100}, "unknown explanation option 'lime_sample'; the options are: methods, cam, "),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(options, message):
    with pytest.raises(ConfigError, match=message) as caught:
        ExplainConfig(**options)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)  # one line, exit code 2 in the CLI
    assert "Value error," not in str(caught.value)
    with pytest.raises(ConfigError, match=message):
        ExplainConfig.model_validate(options)


def test_every_problem_is_named_at_once():
    with pytest.raises(ConfigError) as caught:
        ExplainConfig(top_k=0, n_random=0, cam="nope")
    assert all(part in str(caught.value) for part in ("top_k must", "n_random must", "unknown Grad-CAM variant 'nope'"))


def test_a_config_is_frozen_and_of_gives_a_checked_copy():
    cfg = ExplainConfig(methods="lime", lime_samples=200)
    with pytest.raises(ValueError):
        cfg.top_k = 3
    assert ExplainConfig.of(cfg) is cfg
    changed = ExplainConfig.of(cfg, top_k=3)
    assert (changed.methods, changed.lime_samples, changed.top_k, cfg.top_k) == (("lime",), 200, 3, 5)
    assert changed.set_options() == {"methods": ("lime",), "lime_samples": 200, "top_k": 3}
    assert ExplainConfig.of(None, top_k=2) == ExplainConfig(top_k=2)
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        ExplainConfig.of(cfg, top_k=0)
    with pytest.raises(TypeError, match="must be an ExplainConfig"):
        ExplainConfig.of({"top_k": 2})


# ------------------------------------------------------------------------------------ the registry
def test_the_registry_lists_one_class_per_method():
    assert tuple(EXPLAIN_METHODS) == METHODS
    assert EXPLAIN_METHODS == {"gradcam": CamMethod, "lime": LimeMethod}
    for name, cls in EXPLAIN_METHODS.items():
        assert issubclass(cls, ExplainMethod) and cls.name == name


def test_make_methods_builds_what_the_config_names_and_refuses_unknown_ones(detector):
    assert [type(m) for m in make_methods(detector, ExplainConfig())] == [CamMethod, LimeMethod]
    assert [type(m) for m in make_methods(detector, ExplainConfig(methods="lime"))] == [LimeMethod]
    with pytest.raises(ValueError, match="unknown explanation method 'shap'"):
        make_methods(detector, ExplainConfig.model_construct(methods=("shap",)))  # past the config's own check
    with pytest.raises(ConfigError, match="unknown explanation method 'shap'"):
        explain(detector, ["/no/such/face.jpg"], methods="shap")


def _bare(detector, faces) -> list[Explanation]:
    probs = detector.predict_proba(faces)
    return [Explanation(None, face, float(p), detector.verdict(p)) for face, p in zip(faces, probs)]


@pytest.mark.parametrize("name", list(EXPLAIN_METHODS))
def test_each_method_fills_its_own_part_as_explain_does(detector, faces, name):
    cfg = ExplainConfig(methods=name, **LIME)
    method = EXPLAIN_METHODS[name](detector, cfg)
    explanations = _bare(detector, faces)
    method.fill(explanations)
    for e in explanations:
        # a Grad-CAM map that is zero everywhere ranks nothing, so it gets no faithfulness check
        checked = name == "lime" or e.gradcam.heatmap.max() > 0
        assert list(e.faithfulness) == ([name] if checked else [])
        assert (e.gradcam is not None, e.lime is not None) == (name == "gradcam", name == "lime")
    assert any(e.faithfulness for e in explanations)
    _assert_same(explanations, explain(detector, faces, cfg))


def test_methods_sharing_the_generators_give_what_explain_gives(detector, faces):
    """explain() hands each face's generator to the methods in turn: Grad-CAM's random regions come first."""
    cfg = ExplainConfig(**LIME)
    explanations = _bare(detector, faces)
    rngs = [np.random.default_rng(cfg.random_state) for _ in explanations]
    for method in make_methods(detector, cfg):
        method.fill(explanations, rngs)
    _assert_same(explanations, explain(detector, faces, cfg))
    with pytest.raises(ValueError, match="got 1 random generators for 2 explanations"):
        LimeMethod(detector, cfg).fill(_bare(detector, faces), rngs[:1])


def test_a_method_without_a_config_uses_the_defaults(detector, faces):
    method = CamMethod(detector)
    assert method.config == ExplainConfig()
    explanations = _bare(detector, faces[:1])
    method.fill(explanations)
    assert explanations[0].gradcam.method == "gradcam" and explanations[0].lime is None
    method.fill([])  # nothing to do


def test_cam_method_averages_the_face_and_its_mirror_under_tta(detector, faces):
    tta = Detector(detector.model, detector.model_name, detector.preprocess, tta=True)
    method = CamMethod(tta, ExplainConfig(methods="gradcam"))
    face = faces[0]
    heat, heat_of_mirror = method.heatmaps(np.stack([face])), method.heatmaps(np.stack([face[:, ::-1]]))
    np.testing.assert_allclose(heat_of_mirror[0], heat[0][:, ::-1], atol=1e-6)  # the TTA map is mirror-symmetric
    plain = CamMethod(detector, ExplainConfig(methods="gradcam")).explainer
    batch = detector.arrays_to_batch(np.stack([face]))
    expected = (plain(batch) + plain(np.ascontiguousarray(batch[..., ::-1]))[..., ::-1]) / 2
    np.testing.assert_array_equal(heat, expected)


def test_cam_method_maps_a_zoomed_view_back_onto_the_face(detector, faces):
    from fakelens.inference.tta import ZOOM, apply_view, undo_view

    zoomed = Detector(detector.model, detector.model_name, detector.preprocess, tta=True, tta_views=("mirror-zoom",))
    two = np.stack(faces[:2])
    heat = CamMethod(zoomed, ExplainConfig(methods="gradcam")).heatmaps(two)
    plain = CamMethod(detector, ExplainConfig(methods="gradcam")).explainer
    batch = detector.arrays_to_batch(two)
    back, covered = undo_view("mirror-zoom", plain(apply_view("mirror-zoom", batch)))
    np.testing.assert_allclose(heat, (plain(batch) + back) / (1 + covered), atol=1e-6)
    # where the zoomed view did not see the face (its cut-away border) the map is the face's own map alone
    size = two.shape[1]
    border = (size - round(size * ZOOM)) // 2
    np.testing.assert_allclose(heat[:, :border], plain(batch)[:, :border], atol=1e-6)
    assert 0 <= heat.min() and heat.max() <= 1


# ------------------------------------------------------------------------------------ explain(config=...) == explain(**options)
OPTIONS = {
    "methods": "all",
    "cam": "gradcam++",
    "segmentation": "quickshift",
    "faithfulness": True,
    "cam_region_fraction": 0.3,
    "n_random": 3,
    "random_state": 7,
    **LIME,
}


def test_the_config_and_the_keyword_forms_give_identical_results(detector, faces):
    by_keywords = explain(detector, faces, **OPTIONS)
    cfg = ExplainConfig(**OPTIONS)
    _assert_same(explain(detector, faces, config=cfg), by_keywords)
    _assert_same(explain(detector, faces, cfg), by_keywords)
    # keywords change a given config
    _assert_same(explain(detector, faces, ExplainConfig(**{**OPTIONS, "top_k": 5}), top_k=3), by_keywords)
    # the third argument was ``methods`` before there was a config
    _assert_same(explain(detector, faces, "gradcam"), explain(detector, faces, methods="gradcam"))
    with pytest.raises(TypeError, match="methods given twice"):
        explain(detector, faces, "gradcam", methods="lime")


def test_explain_faces_takes_a_config_too(detector, faces):
    boxes = [(0, 0, 64, 64), (64, 0, 128, 64)]
    cfg = ExplainConfig(methods="lime", **LIME)
    with_config = explain_faces(detector, faces, boxes=boxes, source="photo.jpg", config=cfg)
    _assert_same(with_config, explain_faces(detector, faces, boxes=boxes, source="photo.jpg", methods="lime", **LIME))
    assert [e.face_box for e in with_config] == boxes
    # what the service's tests do: a config, and methods changed on top of it
    (e,) = explain_faces(detector, faces[:1], boxes=boxes[:1], config=cfg, methods=("gradcam",))
    assert e.lime is None and e.gradcam is not None


def test_explain_files_takes_a_config_and_records_the_options_given(detector, faces, tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(faces[0]).save(path)
    options = {"methods": "gradcam", "cam": "xgradcam", "faithfulness": False}
    reports = {}
    for form, kwargs in (("config", {"config": ExplainConfig(**options)}), ("keywords", options)):
        out = tmp_path / form
        explain_files(detector, [str(path)], out, **kwargs)
        reports[form] = json.loads((out / "explanations.json").read_text())
    assert reports["config"] == reports["keywords"]
    assert reports["config"]["methods"] == ["gradcam"]
    assert reports["config"]["options"] == {"cam": "xgradcam", "faithfulness": False}
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        explain_files(detector, [str(path)], tmp_path / "never", top_k=0)
    assert not (tmp_path / "never").exists()
