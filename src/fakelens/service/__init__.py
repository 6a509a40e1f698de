"""The REST service and web page."""

from .app import create_app
from .inference_service import InferenceService
from .server import serve
from .settings import ServiceSettings

__all__ = ["create_app", "serve", "InferenceService", "ServiceSettings"]
