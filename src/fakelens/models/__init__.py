"""The model zoo: names and specs from :mod:`.registry` (no PyTorch), models built by :func:`create_model`."""

from .factory import create_model, get_submodule
from .registry import IMAGENET, INCEPTION, ModelSpec, get_model_spec, list_models, register_fusion, register_model, register_timm

__all__ = [
    "IMAGENET",
    "INCEPTION",
    "ModelSpec",
    "create_model",
    "get_model_spec",
    "get_submodule",
    "list_models",
    "register_fusion",
    "register_model",
    "register_timm",
]
