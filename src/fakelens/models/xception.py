"""Xception (Chollet 2017), the reference study's winner; timm's ``legacy_xception``."""
from ._timm import INCEPTION, register_timm

register_timm("xception", "legacy_xception", gradcam_layer="conv4", norm=INCEPTION)
