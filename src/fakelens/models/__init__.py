"""The model zoo. Importing this package registers every model."""
from . import efficientnet, mesonet, mobilenetv3, resnet, simple_cnn, xception  # noqa: F401  (registration)
from .registry import ModelSpec, create_model, get_model_spec, get_submodule, list_models, register_model

__all__ = ["ModelSpec", "create_model", "get_model_spec", "get_submodule", "list_models", "register_model"]
