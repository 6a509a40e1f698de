import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fakelens.models import create_model, get_model_spec, list_models, register_fusion
from fakelens.models.factory import logit_cam_features
from fakelens.models.fusion import LogitFusion, resize_bands, resize_matrix

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


def _photo_like(rng, side: int) -> np.ndarray:
    """A uint8 face-sized picture with smooth regions, edges and noise (what rounding differences hide in)."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    base = np.stack([120 + 90 * np.sin(6 * xx + k) * np.cos(4 * yy - k) for k in range(3)], axis=-1)
    base[side // 3 : side // 2, side // 4 : 3 * side // 4] = (30, 200, 90)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size_in, size_out", [(224, 160), (192, 128)])
def test_the_pil_shrink_gives_pils_8bit_resize_to_the_level(size_in, size_out):
    from PIL import Image

    from fakelens.imaging.preprocess import PreprocessConfig

    rng = np.random.default_rng(2)
    pictures = [_photo_like(rng, size_in), (rng.random((size_in, size_in, 3)) * 255).astype(np.uint8)]
    big, small = (PreprocessConfig(s, (0.5,) * 3, (0.5,) * 3) for s in (size_in, size_out))
    x = torch.from_numpy(big.normalize(np.stack(pictures)))
    exact = torch.from_numpy(
        small.normalize(np.stack([np.asarray(Image.fromarray(p).resize((size_out,) * 2, Image.BILINEAR)) for p in pictures]))
    )
    fusion = LogitFusion((("simple_cnn", size_out), ("simple_cnn", size_in)), shrink="pil")
    with torch.no_grad():
        ours = fusion.member_input(0, x)
    assert torch.allclose(ours, exact, atol=1e-5)  # every value the same level: one level is 0.0078
    # the float product (the default shrink) is up to a level off, and off somewhere
    float_shrink = LogitFusion((("simple_cnn", size_out), ("simple_cnn", size_in))).member_input(0, x)
    gap = (float_shrink - exact).abs()
    assert gap.max() > 1e-3 and gap.max() <= 2.0 / 255 + 1e-5
    with pytest.raises(ValueError, match="shrink must be one of"):
        LogitFusion((("simple_cnn", size_out), ("simple_cnn", size_in)), shrink="nearest")


def test_the_registered_pil_fusion_takes_the_shipped_fusions_weights():
    torch.manual_seed(0)
    plain, pil = create_model(SHIPPED).eval(), create_model(SHIPPED + "_pil").eval()
    pil.load_state_dict(plain.state_dict())  # strict: the same weights file fits both
    x = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (2, 3, 224, 224)).astype(np.float32) / 127.5 - 1)
    with torch.no_grad():
        assert torch.equal(pil.member_input(1, x), x)  # the largest member is not shrunk
        assert not torch.equal(pil.member_input(0, x), plain.member_input(0, x))


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
