"""A real browser (Debian's Chromium driven by Playwright) uploads a photo and sees the verdict."""
import shutil
import socket
import threading
import time

import pytest

from .conftest import astronaut_photo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(service_detector):
    import uvicorn

    from fakelens.service import ServiceSettings, create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service_detector, ServiceSettings(lime_samples=50)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_uploads_a_photo_and_shows_the_verdict(live_server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    photo = tmp_path / "person.jpg"
    photo.write_bytes(astronaut_photo())
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                                          "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page()
        page.goto(live_server + "/")
        assert "fakelens" in page.title()
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#verdict:has-text('Image verdict')", timeout=60_000)
        verdict = page.inner_text("#verdict")
        assert "REAL" in verdict or "FAKE" in verdict
        assert page.locator("#faces li").count() == 1
        assert "1 face(s) found" in page.inner_text("#status")
        page.check("input[name=overlay][value=gradcam]")
        assert page.locator("#faces li img.face").count() == 1
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        # a rejected file shows a clear message
        bad = tmp_path / "notes.jpg"
        bad.write_text("this is not an image, whatever its name says")
        page.set_input_files("#file", str(bad))
        page.wait_for_selector("#status.error", timeout=30_000)
        assert "Unsupported file type" in page.inner_text("#status")
        browser.close()
