"""fakelens: tell real face images and videos from deepfakes, and show why.

Importing fakelens is cheap: the detector's modules load on first use, and
PyTorch only where something needs it (training, the model zoo, export).
"""

from ._version import __version__

__all__ = ["Detector", "load", "create_model", "list_models", "__version__"]


def __getattr__(name: str):
    if name in ("Detector", "load"):
        from .inference import detector

        return getattr(detector, name)
    if name in ("create_model", "list_models"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'fakelens' has no attribute {name!r}")
