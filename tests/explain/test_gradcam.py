"""Grad-CAM on every zoo model, and the ways it must refuse clearly."""

import numpy as np
import pytest
import torch

import fakelens
from fakelens.data.synthetic import make_image
from fakelens.explain import CAM_VARIANTS, GradCam, explain
from fakelens.imaging.preprocess import PreprocessConfig
from fakelens.inference.detector import Detector
from fakelens.models import create_model, get_model_spec


def _small_detector(name: str, size: int = 64) -> Detector:
    spec = get_model_spec(name)
    if spec.family == "fusion":  # its members' sizes are part of the model
        size = spec.preprocess.image_size
    return Detector(create_model(name), name, PreprocessConfig(size, spec.preprocess.mean, spec.preprocess.std))


def _faces(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([make_image(rng, size, fake=i % 2 == 0)[0] for i in range(n)])


@pytest.mark.parametrize("name", fakelens.list_models())
def test_gradcam_runs_on_every_zoo_model_at_its_registry_layer(name):
    det = _small_detector(name)
    before = {k: v.clone() for k, v in det.model.state_dict().items()}
    flags = [p.requires_grad for p in det.model.parameters()]
    cam = GradCam.for_detector(det)
    assert cam.layer_name == get_model_spec(name).gradcam_layer
    size = det.preprocess.image_size
    maps = cam(det.arrays_to_batch(_faces(2, size)))
    assert maps.shape == (2, size, size) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0 + 1e-6
    # the shared model comes back as it was: eval mode, same weights, same flags, no gradients left behind
    assert not det.model.training
    assert [p.requires_grad for p in det.model.parameters()] == flags
    assert all(p.grad is None for p in det.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in det.model.state_dict().items())


@pytest.mark.parametrize("variant", [v for v in CAM_VARIANTS if v != "scorecam"] + ["GradCAM++"])
def test_every_cam_variant_is_selectable(variant):
    det = _small_detector("simple_cnn")
    maps = GradCam.for_detector(det, method=variant)(det.arrays_to_batch(_faces(2)))
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all()


def test_scorecam_runs_without_printing_progress_bars(capsys):
    det = _small_detector("meso4")  # 16 channels at the target layer: 16 masked forward passes
    maps = GradCam.for_detector(det, method="scorecam")(det.arrays_to_batch(_faces(1)))
    assert maps.shape == (1, 64, 64)
    assert capsys.readouterr().err == ""


def test_unknown_cam_variant_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown Grad-CAM variant 'gradcam\+'.*gradcam\+\+.*scorecam"):
        GradCam.for_detector(_small_detector("simple_cnn"), method="gradcam+")


def test_model_without_the_target_layer_is_a_clear_error():
    det = _small_detector("simple_cnn")
    with pytest.raises(ValueError, match=r"simple_cnn: model has no layer 'features\.9'.*target_layer="):
        GradCam.for_detector(det, target_layer="features.9")
    # a model the registry does not know has no layer to look at unless one is named
    det.model_name = "my_own_net"
    with pytest.raises(ValueError, match=r"unknown model 'my_own_net'.*target_layer="):
        explain(det, _faces(1), methods="gradcam")
    assert GradCam.for_detector(det, target_layer="features.3").layer_name == "features.3"


def test_a_layer_that_is_not_a_feature_map_is_refused_plainly():
    det = _small_detector("simple_cnn")
    with pytest.raises(ValueError, match=r"'head' outputs \(2, 1\); it needs a 4-D"):
        GradCam.for_detector(det, target_layer="head")(det.arrays_to_batch(_faces(2)))
    # the refusal left no hooks behind: scoring still works
    assert det.predict_proba(list(_faces(2))).shape == (2,)


def test_gradcam_works_with_a_frozen_backbone():
    det = _small_detector("simple_cnn")
    det.model.requires_grad_(False)
    maps = GradCam.for_detector(det)(det.arrays_to_batch(_faces(2)))
    assert maps.shape == (2, 64, 64)
    assert not any(p.requires_grad for p in det.model.parameters())
