"""The service's readiness contract and its multi-process mode (what a load balancer sees)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_readyz_is_200_with_a_loaded_model_and_503_once_shutting_down(untrained_run, monkeypatch):
    from fastapi.testclient import TestClient

    from fakelens.service.app import app_from_env

    monkeypatch.setenv("FAKELENS_RUN", str(untrained_run))
    monkeypatch.setenv("FAKELENS_BACKEND", "torch")
    monkeypatch.setenv("FAKELENS_MAX_IMAGE_MB", "3")
    app = app_from_env()  # the factory uvicorn's worker processes call
    assert app.state.settings.max_image_bytes == 3 * 2**20 and app.state.detector.source == str(untrained_run)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model"] == "simple_cnn"
        assert client.get("/healthz").status_code == 200
    assert app.state.ready is False  # after shutdown a load balancer is told to stop sending requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_two_worker_processes_answers_on_one_port(untrained_run, tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "fakelens",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--run",
        str(untrained_run),
        "--backend",
        "torch",
        "--processes",
        "2",
    ]
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and status != 200:
            time.sleep(1)
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).status
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
        assert status == 200, (tmp_path / "serve.log").read_text()[-2000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert text.count("Started server process") >= 2, text[-2000:]  # two uvicorn workers


def test_worker_processes_get_the_key_digest_and_the_loopback_hosts(untrained_run, monkeypatch):
    """serve --processes exports its options for the worker processes: the key's SHA-256, never the key."""
    import hashlib

    import uvicorn

    from fakelens.service import server

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(app=app, **options))
    # serve() exports into os.environ: give it a copy, so nothing leaks into the other tests
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("FAKELENS_") or k == "FAKELENS_CACHE"})
    server.serve("127.0.0.1", 8765, run=str(untrained_run), api_key="s3cret-key", backend="torch", processes=2)
    assert seen["app"] == "fakelens.service.app:app_from_env" and seen["workers"] == 2 and seen["factory"] is True
    assert seen["http"] == "fakelens.service.server:EnvHeaderDeadlineProtocol"  # importable in a spawned process
    assert os.environ["FAKELENS_API_KEY_SHA256"] == hashlib.sha256(b"s3cret-key").hexdigest()
    assert "FAKELENS_API_KEY" not in os.environ and os.environ["FAKELENS_RUN"] == str(untrained_run)
    assert os.environ["FAKELENS_TRUSTED_HOSTS"] == "127.0.0.1,localhost,[::1]"
