import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fakelens.models import create_model, get_model_spec, list_models, register_fusion
from fakelens.models.factory import logit_cam_features
from fakelens.models.fusion import resize_bands, resize_matrix

SHIPPED = "fusion_lite0_160_lite2_224"


def test_the_resize_matrix_is_pils_antialiased_bilinear_shrink():
    from PIL import Image

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((2, 3, 224, 224), dtype=np.float32))
    r = resize_matrix(224, 160)
    assert torch.allclose(r @ x @ r.T, F.interpolate(x, size=(160, 160), mode="bilinear", align_corners=False, antialias=True), atol=1e-5)
    # what the members were trained on: PIL's bilinear resize (to within 8-bit rounding)
    img = (rng.random((224, 224)) * 255).astype(np.uint8)
    pil = np.asarray(Image.fromarray(img).resize((160, 160), Image.BILINEAR), dtype=np.float32)
    ours = (r @ torch.from_numpy(img.astype(np.float32)) @ r.T).numpy()
    assert np.abs(ours - pil).max() <= 1.0


@pytest.mark.parametrize("size_in, size_out, rows", [(224, 160, 20), (224, 160, 7), (192, 128, 40), (100, 99, 1000)])
def test_the_resize_in_bands_is_the_full_matrix_product_without_its_zeros(size_in, size_out, rows):
    r = resize_matrix(size_in, size_out)
    bands = resize_bands(r, rows)
    assert [band.shape[0] for _, _, band in bands][:-1] == [rows] * (len(bands) - 1) and sum(b.shape[0] for _, _, b in bands) == size_out
    x = torch.from_numpy(np.random.default_rng(1).random((2, 3, size_in, size_in), dtype=np.float32))
    rows_out = torch.cat([band @ x[..., first:end, :] for first, end, band in bands], dim=-2)
    assert torch.allclose(rows_out, r @ x, atol=1e-6)
    if len(bands) > 1:  # each band reads the few input rows it needs, not the whole side
        assert sum(band.numel() for _, _, band in bands) < r.numel() / 2
    with pytest.raises(ValueError, match="rows must be >= 1"):
        resize_bands(r, 0)


def test_the_fused_logit_mixes_each_members_logit_on_its_own_size():
    torch.manual_seed(0)
    model = create_model(SHIPPED).eval()
    assert model.sizes == (160, 224) and model.input_size == 224
    x = torch.randn(2, 3, 224, 224)
    model.coef.copy_(torch.tensor([0.3, 1.7]))
    model.bias.fill_(0.25)
    with torch.no_grad():
        small = F.interpolate(x, size=(160, 160), mode="bilinear", align_corners=False, antialias=True)
        expected = 0.3 * model.members[0](small).reshape(-1) + 1.7 * model.members[1](x).reshape(-1) + 0.25
        fused = model(x)
        logit, cam, features = logit_cam_features(model, x)
    assert fused.shape == (2, 1)
    assert torch.allclose(fused.reshape(-1), expected, atol=1e-4)
    assert torch.allclose(logit, fused.reshape(-1), atol=1e-5)
    r = resize_matrix(224, 160)
    assert torch.allclose(model.member_input(0, x), r @ x @ r.T, atol=1e-5) and model.member_input(1, x) is x
    # the maps meet at the larger member's size; the pooled features sit side by side
    assert cam.shape == (2, 7, 7)
    widths = [m.num_features for m in model.members]
    assert features.shape == (2, sum(widths))
    # the mixing coefficients are part of the weights file, the resize matrices are not
    assert {"coef", "bias"} <= set(model.state_dict()) and not any(k.startswith("resize") for k in model.state_dict())
    with pytest.raises(ValueError, match="takes 224 px faces"):
        model(torch.randn(1, 3, 160, 160))


def test_a_fusion_is_registered_with_its_members_sizes_and_a_layer_of_its_largest_member():
    spec = get_model_spec(SHIPPED)
    assert spec.family == "fusion" and spec.preprocess.image_size == 224
    assert spec.gradcam_layer == "members.1.bn2" and not spec.pretrainable
    model = create_model(SHIPPED)
    assert model.get_submodule(spec.gradcam_layer) is model.members[1].bn2


def test_members_that_normalise_differently_cannot_be_fused():
    assert get_model_spec("efficientnet_b0").preprocess.mean != get_model_spec("efficientnet_lite0").preprocess.mean
    with pytest.raises(ValueError, match="normalise their input differently"):
        register_fusion("test_mixed_norms", (("efficientnet_b0", 128), ("efficientnet_lite0", 160)))
    assert "test_mixed_norms" not in list_models()
