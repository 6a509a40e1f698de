"""``fakelens serve``: the app under uvicorn, with connection limits a slow or hostile client cannot outlast.

uvicorn bounds the request head (``h11_max_incomplete_event_size``), idle
keep-alive connections (``timeout_keep_alive``) and open connections
(``limit_concurrency``: 503 beyond), but a client that trickles its headers a
byte at a time is never timed out; :class:`HeaderDeadlineProtocol` closes a
connection whose request head has not arrived within ``header_timeout_s``.
The body has its own deadline (``body_timeout_s``, in the upload reader).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sys

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..utils.env import env_number
from .settings import ServiceSettings, host_header_name, load_settings

# The names a browser on this machine uses for a loopback server (Host headers keep IPv6 literals in brackets).
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


class HeaderDeadlineProtocol(H11Protocol):
    """h11 protocol that closes a connection whose request head is not complete ``header_timeout`` seconds after it may start."""

    header_timeout: float = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head of a request has arrived
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # the next request on this keep-alive connection

    def connection_lost(self, exc) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    @classmethod
    def with_timeout(cls, seconds: float) -> type["HeaderDeadlineProtocol"]:
        return type(cls.__name__, (cls,), {"header_timeout": float(seconds)})


class EnvHeaderDeadlineProtocol(HeaderDeadlineProtocol):
    """The same, its deadline from ``FAKELENS_HEADER_TIMEOUT_S``: uvicorn's worker processes import it by name
    (a class made by :meth:`HeaderDeadlineProtocol.with_timeout` cannot be pickled into a spawned process)."""

    header_timeout = env_number("FAKELENS_HEADER_TIMEOUT_S", HeaderDeadlineProtocol.header_timeout, float, least=0.001)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine: ``localhost``, 127.0.0.0/8 or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def uvicorn_options(host: str, port: int, settings: ServiceSettings, log_level: str = "info") -> dict:
    """uvicorn's settings for the service: the connection limits above, for one process or several."""
    return dict(
        host=host,
        port=port,
        log_level=log_level,
        http=HeaderDeadlineProtocol.with_timeout(settings.header_timeout_s),
        timeout_keep_alive=settings.keep_alive_s,
        h11_max_incomplete_event_size=settings.max_header_kb * 1024,
        limit_concurrency=settings.max_connections,
        server_header=False,
    )


def uvicorn_config(app, host: str, port: int, settings: ServiceSettings, log_level: str = "info"):
    import uvicorn

    return uvicorn.Config(app, **uvicorn_options(host, port, settings, log_level))


def apply_bind_defaults(host: str, port: int, settings: ServiceSettings) -> list[str]:
    """Safer defaults for where the server binds; returns warnings for the operator.

    On any loopback address (``127.0.0.2`` and ``::1`` too), only this machine's
    names and the bound address are accepted as Host (a web page cannot reach the
    service through DNS rebinding). Beyond loopback with neither an API key nor
    trusted hosts, anyone who reaches the port could use it: refused unless
    ``insecure_open`` (``--insecure-open``) says that is meant; with only one of
    the two, a warning.
    """
    from ..errors import FakelensError

    try:  # a name that resolves nowhere is one line here, not a traceback from uvicorn
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FakelensError(f"--host {host}: cannot resolve it ({exc.strerror or exc})") from None
    notes = []
    if not settings.trusted_hosts and is_loopback(host):
        settings.trusted_hosts = list(dict.fromkeys([*LOOPBACK_HOSTS, host_header_name(host)]))
    if not is_loopback(host) and not settings.key_required and not settings.trusted_hosts and not settings.insecure_open:
        raise FakelensError(
            f"refusing to serve on {host} with neither an API key nor trusted hosts: set FAKELENS_API_KEY_FILE "
            "(or FAKELENS_API_KEY) and FAKELENS_TRUSTED_HOSTS, or pass --insecure-open (FAKELENS_INSECURE_OPEN=1) "
            "if anyone who reaches the port may use it"
        )
    if not is_loopback(host):
        if not settings.key_required:
            notes.append(
                f"serving on {host} without an API key: anyone who can reach port {port} can use it "
                "(set FAKELENS_API_KEY or --api-key-file)"
            )
        if not settings.trusted_hosts:
            notes.append("any Host header is accepted; set FAKELENS_TRUSTED_HOSTS to the names clients use")
    return notes


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    run: str | None = None,
    api_key: str | None = None,
    backend: str = "auto",
    workers: int | None = None,
    api_key_file: str | None = None,
    settings: ServiceSettings | None = None,
    processes: int = 1,
    insecure_open: bool = False,
) -> None:
    """Run the service until interrupted; ``settings`` default to the ``FAKELENS_*`` environment variables.

    ``processes`` > 1: that many uvicorn worker processes on one port, each building its own app and
    detector with :func:`fakelens.service.app.app_from_env` from the environment (nothing is shared).
    """
    import uvicorn

    from ..inference import load
    from .app import create_app

    overrides = {"api_key": api_key, "api_key_file": api_key_file, "workers": workers, "insecure_open": insecure_open or None}
    settings = settings or load_settings(**{k: v for k, v in overrides.items() if v is not None})
    for note in apply_bind_defaults(host, port, settings):
        print(f"fakelens: warning: {note}", file=sys.stderr)
    if processes > 1:  # the worker processes read their options from the environment
        digest = settings.api_key_digest()
        exported = {
            "FAKELENS_RUN": run,
            "FAKELENS_BACKEND": backend,
            "FAKELENS_WORKERS": settings.workers,
            "FAKELENS_HEADER_TIMEOUT_S": settings.header_timeout_s,
            "FAKELENS_TRUSTED_HOSTS": ",".join(settings.trusted_hosts),
            # the workers compare digests: the key itself is in no worker's environment
            "FAKELENS_API_KEY_SHA256": digest.hex() if digest else None,
        }
        for name in ("FAKELENS_API_KEY", "FAKELENS_API_KEY_FILE"):
            os.environ.pop(name, None)
        os.environ.update({k: str(v) for k, v in exported.items() if v})
        options = dict(uvicorn_options(host, port, settings), http="fakelens.service.server:EnvHeaderDeadlineProtocol")
        uvicorn.run("fakelens.service.app:app_from_env", factory=True, workers=processes, **options)
        return
    app = create_app(load(run, backend=backend), settings)
    uvicorn.Server(uvicorn_config(app, host, port, settings)).run()
