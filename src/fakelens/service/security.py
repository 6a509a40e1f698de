"""Who may call the service: API key, same-origin browser requests, trusted Host headers, CORS.

All pure ASGI middleware (no request body is touched), assembled by
:func:`middleware_stack` outermost first:

* ``TrustedHostMiddleware`` when ``trusted_hosts`` is set (``fakelens serve``
  on loopback defaults to the loopback names, which stops DNS rebinding);
* ``CORSMiddleware`` when ``cors_origins`` is set; without it browsers keep
  other origins from reading any answer (same-origin only);
* :class:`SameOriginMiddleware`: a plain HTML form on another site can POST
  here without a CORS preflight, and the upload would be processed even though
  the page cannot read the answer; such requests are refused with 403;
* :class:`ApiKeyMiddleware`: with a key, every ``/v1`` route needs it
  (``X-API-Key`` or ``Authorization: Bearer``); its SHA-256 is compared with the
  key's in constant time, so a process needs the digest only, never the key.
"""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse

from .settings import ServiceSettings

PROTECTED_PREFIX = "/v1"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class ApiKeyMiddleware:
    def __init__(self, app, key_digest: bytes | None):
        self.app = app
        self.key_digest = key_digest

    async def __call__(self, scope, receive, send):
        if self.key_digest and scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX) and scope["method"] != "OPTIONS":
            headers = Headers(scope=scope)
            given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(hashlib.sha256(given.encode("latin-1", "replace")).digest(), self.key_digest):
                response = JSONResponse({"detail": "missing or wrong API key (send X-API-Key)"}, status_code=401,
                                        headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SameOriginMiddleware:
    """403 for a state-changing request whose ``Origin`` is neither this server nor an allowed origin."""

    def __init__(self, app, allowed_origins: list[str]):
        self.app = app
        self.allow_any = "*" in allowed_origins
        self.allowed = set(allowed_origins)

    def _allowed(self, origin: str, host: str | None) -> bool:
        if self.allow_any or origin in self.allowed:
            return True
        return host is not None and urlsplit(origin).netloc.lower() == host.lower()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not self._allowed(origin, headers.get("host")):
                response = JSONResponse({"detail": "cross-origin request refused (the server allows other origins only when "
                                                   "FAKELENS_CORS_ORIGINS names them)"}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def middleware_stack(settings: ServiceSettings) -> list[Middleware]:
    stack = []
    if settings.trusted_hosts:
        stack.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts, www_redirect=False))
    if settings.cors_origins:
        stack.append(Middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                                allow_headers=["X-API-Key", "Authorization"], max_age=600))
    stack.append(Middleware(SameOriginMiddleware, allowed_origins=settings.cors_origins))
    stack.append(Middleware(ApiKeyMiddleware, key_digest=settings.api_key_digest()))
    return stack
