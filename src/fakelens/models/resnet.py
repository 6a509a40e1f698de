"""ResNet-50 (He et al. 2016)."""
from ._timm import register_timm

register_timm("resnet50", "resnet50", gradcam_layer="layer4")
