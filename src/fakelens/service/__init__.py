"""The REST service and web page."""
from .app import create_app, serve
from .settings import ServiceSettings

__all__ = ["create_app", "serve", "ServiceSettings"]
