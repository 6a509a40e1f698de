"""MobileNetV3-Large (Howard et al. 2019).

timm applies its ``conv_head`` after global pooling, so Grad-CAM must look at
the last block, which still has a spatial map.
"""
from ._timm import register_timm

register_timm("mobilenetv3_large", "mobilenetv3_large_100", gradcam_layer="blocks.6")
