"""Who may call the service: API key, same-origin browser requests, trusted Host headers, CORS.

All pure ASGI middleware (no request body is touched), assembled by
:func:`middleware_stack` outermost first:

* :class:`SecurityHeadersMiddleware`: every answer, refusals included, carries a
  Content-Security-Policy (the page's own scripts and styles only, no framing),
  ``X-Frame-Options``, ``X-Content-Type-Options`` and ``Referrer-Policy``;
* ``TrustedHostMiddleware`` when ``trusted_hosts`` is set (``fakelens serve``
  on loopback defaults to the loopback names, which stops DNS rebinding);
* ``CORSMiddleware`` when ``cors_origins`` is set; without it browsers keep
  other origins from reading any answer (same-origin only);
* :class:`SameOriginMiddleware`: a plain HTML form on another site can POST
  here without a CORS preflight, and the upload would be processed even though
  the page cannot read the answer; such requests are refused with 403;
* :class:`ApiKeyMiddleware`: with a key, every ``/v1`` route, ``/openapi.json``
  and ``/readyz`` need it (``/healthz`` and the page say nothing but whether a key
  is needed) (``X-API-Key`` or ``Authorization: Bearer``); its SHA-256 is compared with the
  key's in constant time, so a process needs the digest only, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse

from .settings import ServiceSettings

PROTECTED_PREFIX = "/v1"
# Also behind the key: the API's schema (what to attack) and readiness (which model and backend serve).
PROTECTED_PATHS = {"/openapi.json", "/readyz"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# The page loads /static/app.js and style.css and shows the upload (a blob: URL) and the
# explanations (data: PNGs); nothing else, from nowhere else, and no page may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _needs_key(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIX) or path in PROTECTED_PATHS


class SecurityHeadersMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiKeyMiddleware:
    def __init__(self, app, key_digest: bytes | None):
        self.app = app
        self.key_digest = key_digest

    async def __call__(self, scope, receive, send):
        if self.key_digest and scope["type"] == "http" and _needs_key(scope["path"]) and scope["method"] != "OPTIONS":
            headers = Headers(scope=scope)
            given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(hashlib.sha256(given.encode("latin-1", "replace")).digest(), self.key_digest):
                response = JSONResponse(
                    {"detail": "missing or wrong API key (send X-API-Key)"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
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
                response = JSONResponse(
                    {"detail": "cross-origin request refused (the server allows other origins only when FAKELENS_CORS_ORIGINS names them)"},
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def middleware_stack(settings: ServiceSettings) -> list[Middleware]:
    stack = [Middleware(SecurityHeadersMiddleware)]
    if settings.trusted_hosts:
        stack.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts, www_redirect=False))
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["X-API-Key", "Authorization"],
                max_age=600,
            )
        )
    stack.append(Middleware(SameOriginMiddleware, allowed_origins=settings.cors_origins))
    stack.append(Middleware(ApiKeyMiddleware, key_digest=settings.api_key_digest()))
    return stack
