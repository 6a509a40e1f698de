"""Inference: the shared detector object and batch scoring."""

from .detector import Detector, load

__all__ = ["Detector", "load"]
