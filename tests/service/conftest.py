import io
import threading

import numpy as np
import pytest
from PIL import Image


def astronaut_photo(width: int = 640, height: int = 400) -> bytes:
    """The real face photo from scikit-image, pasted into a larger grey scene."""
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((120, 0, 320, 220))
    scene = Image.new("RGB", (width, height), (128, 128, 128))
    scene.paste(face, (200, 80))
    buf = io.BytesIO()
    scene.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def blank_photo() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def service_detector(trained_run):
    import fakelens

    run, _ = trained_run
    return fakelens.load(run, backend="torch")


@pytest.fixture
def make_client(service_detector):
    from fastapi.testclient import TestClient

    from fakelens.service import ServiceSettings, create_app

    def factory(**settings):
        return TestClient(create_app(service_detector, ServiceSettings(**settings)))

    return factory


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(service_detector):
    """``start(**settings) -> "http://127.0.0.1:PORT"``: the app under uvicorn as ``fakelens serve`` runs it, in a thread."""
    import threading
    import time

    import uvicorn

    from fakelens.service import ServiceSettings, create_app
    from fakelens.service.server import uvicorn_config

    servers = []

    def start(**settings) -> str:
        port = _free_port()
        s = ServiceSettings(**settings)
        server = uvicorn.Server(uvicorn_config(create_app(service_detector, s), "127.0.0.1", port, s, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        assert server.started, "the server did not start"
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def multipart_body(parts, boundary: str = "fakelens-test-boundary") -> tuple[bytes, str]:
    """``parts``: ``(name, filename or None, bytes)``; returns the body and its Content-Type."""
    out = bytearray()
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode("latin-1") + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def held_detection(monkeypatch):
    """Face detection that blocks until released: ``(entered, release)`` events, so a test can fill the workers."""
    from fakelens.faces import FacePipeline

    release, entered = threading.Event(), threading.Event()
    original = FacePipeline.detect

    def slow_detect(self, rgb):
        entered.set()
        release.wait(20)
        return original(self, rgb)

    monkeypatch.setattr(FacePipeline, "detect", slow_detect)
    yield entered, release
    release.set()
