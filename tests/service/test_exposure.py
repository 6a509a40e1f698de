"""Issue 31: what the service exposes on the network (trusted hosts on every loopback address, the key's
copies in worker processes, response headers, the docs, binding beyond loopback).

Each test builds the hostile request or configuration and checks the refusal. Network tests talk to
loopback addresses only, with bounded loops.
"""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import astronaut_photo

SRC = str(Path(__file__).resolve().parents[2] / "src")
FOREIGN_HOSTS = ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "[::2]:8000", "localhost.evil.example:80"]


def _bound_app(service_detector, bind: str, **settings):
    """The app as ``fakelens serve --host BIND`` builds it (its bind defaults applied)."""
    from fastapi.testclient import TestClient

    from fakelens.service import ServiceSettings, create_app
    from fakelens.service.server import apply_bind_defaults

    s = ServiceSettings(**settings)
    notes = apply_bind_defaults(bind, 8000, s)
    return TestClient(create_app(service_detector, s)), notes


# ---------------------------------------------------------------------------------- 6. trusted hosts on loopback
@pytest.mark.parametrize("bind, own", [("127.0.0.1", "127.0.0.1:8000"), ("127.0.0.2", "127.0.0.2:8000"), ("127.1.2.3", "127.1.2.3"),
                                       ("localhost", "localhost:8000"), ("::1", "[::1]:8000"), ("0:0:0:0:0:0:0:1", "[::1]")])
def test_a_foreign_host_header_is_400_on_every_loopback_address(service_detector, bind, own):
    client, notes = _bound_app(service_detector, bind)
    assert notes == []
    assert client.get("/healthz", headers={"Host": own}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost:8000"}).status_code == 200
    for foreign in FOREIGN_HOSTS:
        assert client.get("/", headers={"Host": foreign}).status_code == 400, foreign
        posted = client.post("/v1/detect", headers={"Host": foreign}, files={"file": ("a.jpg", astronaut_photo())})
        assert posted.status_code == 400, foreign


def test_trusted_hosts_name_ipv6_literals_as_host_headers_do():
    from fakelens.service import ServiceSettings

    assert ServiceSettings(trusted_hosts="::1, Example.ORG, *.lan").trusted_hosts == ["[::1]", "example.org", "*.lan"]


def _serve(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "fakelens", "serve", *args]
    return subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", **(env or {})},
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _raw_answer(host: str, port: int, request: bytes, deadline_s: float = 90) -> str:
    """The whole answer to one raw HTTP request, retried until the server listens ("" if it never does)."""
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            with socket.create_connection((host, port), timeout=10) as conn:
                conn.sendall(request)
                answer = b""
                while chunk := conn.recv(4096):  # the requests say Connection: close
                    answer += chunk
                return answer.decode("latin-1")
        except OSError:
            time.sleep(0.5)
    return ""


@pytest.mark.parametrize("bind", ["127.0.0.2", "::1"])
def test_serve_on_another_loopback_address_refuses_a_foreign_host(untrained_run, tmp_path, bind):
    """The reproducer: ``fakelens serve --host ::1`` (or 127.0.0.2) served any Host header, POST included."""
    try:
        port = _free_port(bind)
    except OSError:
        pytest.skip(f"{bind} cannot be bound here")
    server = _serve(["--host", bind, "--port", str(port), "--run", str(untrained_run), "--backend", "torch"], tmp_path / "log")
    try:
        own = f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"
        ok = _raw_answer(bind, port, f"GET /healthz HTTP/1.1\r\nHost: {own}\r\nConnection: close\r\n\r\n".encode())
        assert ok.startswith("HTTP/1.1 200"), (tmp_path / "log").read_text()[-2000:]
        for request in (b"GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
                        b"POST /v1/detect HTTP/1.1\r\nHost: evil.example:80\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"):
            refused = _raw_answer(bind, port, request)
            assert refused.startswith("HTTP/1.1 400") and "Invalid host header" in refused, refused
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
