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


@pytest.fixture(scope="module")
def detector(untrained_run):
    """An untrained detector: these tests are about access, not verdicts."""
    import fakelens

    return fakelens.load(untrained_run, backend="torch")


def _client(detector, **settings):
    from fastapi.testclient import TestClient

    from fakelens.service import ServiceSettings, create_app

    return TestClient(create_app(detector, ServiceSettings(**settings)))


def _bound_app(service_detector, bind: str, **settings):
    """The app as ``fakelens serve --host BIND`` builds it (its bind defaults applied)."""
    from fastapi.testclient import TestClient

    from fakelens.service import ServiceSettings, create_app
    from fakelens.service.server import apply_bind_defaults

    s = ServiceSettings(**settings)
    notes = apply_bind_defaults(bind, 8000, s)
    return TestClient(create_app(service_detector, s)), notes


# ---------------------------------------------------------------------------------- 6. trusted hosts on loopback
@pytest.mark.parametrize(
    "bind, own",
    [
        ("127.0.0.1", "127.0.0.1:8000"),
        ("127.0.0.2", "127.0.0.2:8000"),
        ("127.1.2.3", "127.1.2.3"),
        ("localhost", "localhost:8000"),
        ("::1", "[::1]:8000"),
        ("0:0:0:0:0:0:0:1", "[::1]"),
    ],
)
def test_a_foreign_host_header_is_400_on_every_loopback_address(detector, bind, own):
    client, notes = _bound_app(detector, bind)
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
    return subprocess.Popen(
        cmd,
        env={**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


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
        for request in (
            b"GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
            b"POST /v1/detect HTTP/1.1\r\nHost: evil.example:80\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ):
            refused = _raw_answer(bind, port, request)
            assert refused.startswith("HTTP/1.1 400") and "Invalid host header" in refused, refused
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


# ---------------------------------------------------------------------------------- 7. the key and worker processes
def test_a_key_file_is_not_copied_into_the_worker_processes_environment(untrained_run, tmp_path, monkeypatch):
    """The reproducer: FAKELENS_API_KEY_FILE + ``serve --processes 2`` put the key in clear in every worker's environment."""
    import uvicorn
    from fastapi.testclient import TestClient

    from fakelens.service import server
    from fakelens.service.app import app_from_env

    key = "k3y-from-a-file-0123456789"
    (tmp_path / "key").write_text(key + "\n")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("FAKELENS_") or k == "FAKELENS_CACHE"})
    os.environ["FAKELENS_API_KEY_FILE"] = str(tmp_path / "key")
    server.serve("127.0.0.1", 8765, run=str(untrained_run), backend="torch", processes=2)
    worker_env = dict(os.environ)  # what the spawned workers inherit
    assert not [name for name, value in worker_env.items() if key in value], "the key is in the workers' environment"
    assert "FAKELENS_API_KEY_FILE" not in worker_env and "FAKELENS_API_KEY_SHA256" in worker_env
    with TestClient(app_from_env(), base_url="http://127.0.0.1:8765") as client:  # a worker's app, built from that environment
        assert client.get("/v1/models", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/v1/models", headers={"X-API-Key": key + "x"}).status_code == 401
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/v1/models").status_code == 401
        assert client.get("/healthz").json()["api_key_required"] is True


def test_a_malformed_key_digest_is_one_clear_line(monkeypatch):
    from fakelens.errors import FakelensError
    from fakelens.service.settings import load_settings

    monkeypatch.setenv("FAKELENS_API_KEY_SHA256", "not-a-digest")
    with pytest.raises(FakelensError, match=r"^invalid service settings .*api_key_sha256: must be 64 hex digits[^\n]*$"):
        load_settings()


# ---------------------------------------------------------------------------------- 9. headers, docs, readiness
def test_every_answer_carries_the_security_headers(detector):
    from fakelens.service.security import SECURITY_HEADERS

    client = _client(detector, api_key="s3cret", trusted_hosts=["testserver"])
    answers = {
        "page": client.get("/"),
        "script": client.get("/static/app.js"),
        "liveness": client.get("/healthz"),
        "no key": client.get("/v1/models"),
        "missing": client.get("/nothing-here", headers={"X-API-Key": "s3cret"}),
        "foreign host": client.get("/", headers={"Host": "evil.example"}),
        "cross-origin": client.post("/v1/detect", headers={"Origin": "https://evil.example", "X-API-Key": "s3cret"}),
    }
    assert [a.status_code for a in answers.values()] == [200, 200, 200, 401, 404, 400, 403]
    for what, answer in answers.items():
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (what, name)
    csp = answers["page"].headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "'unsafe-inline'" not in csp


def test_the_page_needs_nothing_the_policy_refuses(detector):
    """No inline script, style attribute or event handler in the page, none written by its script, nothing from elsewhere."""
    import re

    client = _client(detector)
    page, script = client.get("/").text, client.get("/static/app.js").text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert not re.search(r"\sstyle=|\son[a-z]+=", page + script)
    assert not re.search(r"(src|href)=\"(https?:)?//", page + script)


def test_docs_are_not_served_and_the_schema_and_readiness_need_the_key(detector):
    keyed = _client(detector, api_key="s3cret")
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert keyed.get(path, headers={"X-API-Key": "s3cret"}).status_code == 404, path
    for path in ("/openapi.json", "/readyz"):
        assert keyed.get(path).status_code == 401, path
        assert keyed.get(path, headers={"X-API-Key": "wrong"}).status_code == 401, path
        assert keyed.get(path, headers={"X-API-Key": "s3cret"}).status_code == 200, path
    assert keyed.get("/healthz").json() == {"status": "ok", "api_key_required": True}  # liveness says nothing more
    open_client = _client(detector)
    assert open_client.get("/openapi.json").status_code == 200 and open_client.get("/readyz").status_code == 200


# ---------------------------------------------------------------------------------- 10. binding beyond loopback, the image
def _serve_fails(args: list[str], env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FAKELENS_") or k == "FAKELENS_CACHE"}
    return subprocess.run(
        [sys.executable, "-m", "fakelens", "serve", *args],
        env={**clean, "PYTHONPATH": SRC, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_on_all_interfaces_with_no_key_and_no_trusted_hosts_refuses_to_start():
    """The reproducer: ``serve --host 0.0.0.0`` (the Dockerfile's command) with nothing configured only warned."""
    done = _serve_fails(["--host", "0.0.0.0", "--port", "0"], {})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve on 0.0.0.0 with neither an API key nor trusted hosts" in lines[0]
    assert "--insecure-open" in lines[0] and "Traceback" not in done.stderr


def test_the_refusal_is_lifted_by_a_key_trusted_hosts_or_on_purpose():
    from fakelens.errors import FakelensError
    from fakelens.service import ServiceSettings
    from fakelens.service.server import apply_bind_defaults

    for bind in ("0.0.0.0", "::", "192.0.2.10"):
        with pytest.raises(FakelensError, match="refusing to serve"):
            apply_bind_defaults(bind, 8000, ServiceSettings())
    hosts_only = apply_bind_defaults("0.0.0.0", 8000, ServiceSettings(trusted_hosts=["fakelens.example"]))
    assert any("without an API key" in n for n in hosts_only)
    key_only = apply_bind_defaults("0.0.0.0", 8000, ServiceSettings(api_key="k"))
    assert any("FAKELENS_TRUSTED_HOSTS" in n for n in key_only)
    assert apply_bind_defaults("0.0.0.0", 8000, ServiceSettings(api_key_sha256="ab" * 32, trusted_hosts=["a.example"])) == []
    on_purpose = apply_bind_defaults("0.0.0.0", 8000, ServiceSettings(insecure_open=True))
    assert len(on_purpose) == 2  # allowed, with both warnings


def test_serve_settings_errors_are_one_line(tmp_path):
    for args, env, says in (
        (["--host", "no-such-host.invalid"], {}, "--host no-such-host.invalid: cannot resolve it"),
        (["--api-key-file", str(tmp_path / "missing")], {}, "cannot read the API key file"),
        ([], {"FAKELENS_API_KEY_FILE": str(tmp_path)}, "cannot read the API key file"),
        ([], {"FAKELENS_INSECURE_OPEN": "maybe"}, "insecure_open: Input should be a valid boolean"),
    ):
        done = _serve_fails(args, env)
        assert done.returncode == 2 and says in done.stderr, (args, env, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    usage = _serve_fails(["--port", "70000"], {})
    assert usage.returncode == 2 and "a port is at most 65535" in usage.stderr


def test_the_image_command_passes_a_run_folder_with_spaces_and_shell_characters_as_one_argument(tmp_path):
    """The Dockerfile's CMD, run by sh with a stand-in ``fakelens`` that prints its arguments."""
    import json

    cmd = [line for line in (Path(__file__).resolve().parents[2] / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    shell, flag, script = json.loads(cmd[0].removeprefix("CMD "))
    stand_in = tmp_path / "bin" / "fakelens"
    stand_in.parent.mkdir()
    stand_in.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stand_in.chmod(0o755)
    env = {"PATH": f"{stand_in.parent}:/usr/bin:/bin", "FAKELENS_PROCESSES": "2", "FAKELENS_BACKEND": "auto"}
    hostile = "/models/my run;touch pwned/*"
    args = subprocess.run(
        [shell, flag, script], env={**env, "FAKELENS_RUN": hostile}, cwd=tmp_path, capture_output=True, text=True, timeout=30
    ).stdout.splitlines()
    assert args[-2:] == ["--run", hostile] and not (tmp_path / "pwned").exists()
    plain = subprocess.run([shell, flag, script], env=env, capture_output=True, text=True, timeout=30).stdout.splitlines()
    assert "--run" not in plain and plain[:2] == ["serve", "--host"]
