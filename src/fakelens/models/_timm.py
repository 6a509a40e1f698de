"""Shared helper for the transfer-learning entries: a timm model with one FAKE logit."""
from __future__ import annotations

import functools

import timm
import torch.nn as nn

from ..data.transforms import PreprocessConfig
from .registry import ModelSpec, register_model

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
INCEPTION = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def _build(timm_name: str, drop_rate: float) -> nn.Module:
    model = timm.create_model(timm_name, pretrained=False, num_classes=1, drop_rate=drop_rate)
    # timm scales its head init by 1/fan_out, which for a single logit gives huge
    # starting logits (loss ~4); a small init starts fine-tuning at chance instead.
    head = model.get_classifier()
    nn.init.normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    return model


def register_timm(
    name: str,
    timm_name: str,
    gradcam_layer: str,
    norm: tuple = IMAGENET,
    image_size: int = 224,
    weights_wheel: tuple[str, str] | None = None,
    drop_rate: float = 0.2,
    description: str = "",
) -> ModelSpec:
    return register_model(
        ModelSpec(
            name=name,
            builder=functools.partial(_build, timm_name, drop_rate),
            preprocess=PreprocessConfig(image_size, *norm),
            gradcam_layer=gradcam_layer,
            family="transfer",
            timm_name=timm_name,
            weights_wheel=weights_wheel,
            description=description or f"timm {timm_name}, ImageNet-pretrained, fine-tuned.",
        )
    )
