"""The builder of the transfer-learning entries (:func:`fakelens.models.registry.register_timm`): a timm model with one FAKE logit."""

from __future__ import annotations

import timm
import torch.nn as nn


def build_timm(timm_name: str, drop_rate: float) -> nn.Module:
    model = timm.create_model(timm_name, pretrained=False, num_classes=1, drop_rate=drop_rate)
    # timm scales its head init by 1/fan_out, which for a single logit gives huge
    # starting logits (loss ~4); a small init starts fine-tuning at chance instead.
    head = model.get_classifier()
    nn.init.normal_(head.weight, std=0.01)
    nn.init.zeros_(head.bias)
    return model
