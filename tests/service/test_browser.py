"""A real browser (Debian's Chromium driven by Playwright) uploads a photo and sees the verdict."""
import contextlib
import shutil

import pytest

from .conftest import astronaut_photo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _launch(playwright):
    """Debian's Chromium, headless, with the flags that keep it off this machine's closed network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                                            "--disable-sync", "--no-first-run", "--disable-quic"])


@contextlib.contextmanager
def _open_page(url, tmp_path):
    """The page at url in a fresh browser, and a real photo to upload to it."""
    playwright = pytest.importorskip("playwright.sync_api")
    photo = tmp_path / "person.jpg"
    photo.write_bytes(astronaut_photo())
    with playwright.sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page()
            # the Content-Security-Policy's refusals, as the page itself sees them
            page.add_init_script("window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
                                 "(e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
            page.goto(url + "/")
            yield page, photo
            assert page.evaluate("window.cspViolations") == []
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_uploads_a_photo_and_shows_the_verdict(live_server, tmp_path):
    with _open_page(live_server(lime_samples=50), tmp_path) as (page, photo):
        assert "fakelens" in page.title()
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#verdict:has-text('Image verdict')", timeout=60_000)
        verdict = page.inner_text("#verdict")
        assert any(word in verdict for word in ("REAL", "UNCERTAIN", "FAKE"))
        assert page.locator("#faces li").count() == 1
        assert "1 face(s) found" in page.inner_text("#status")
        assert page.evaluate("document.getElementById('photo').naturalWidth") == 640  # the upload's blob: URL loaded
        assert page.evaluate("document.querySelector('#faces .bar span').style.width").endswith("%")
        page.check("input[name=overlay][value=gradcam]")
        assert page.locator("#faces li img.face").count() == 1
        page.wait_for_function("document.querySelector('#faces li img.face').naturalWidth > 0")  # a data: PNG
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        # a rejected file shows a clear message
        bad = tmp_path / "notes.jpg"
        bad.write_text("this is not an image, whatever its name says")
        page.set_input_files("#file", str(bad))
        page.wait_for_selector("#status.error", timeout=30_000)
        assert "Unsupported file type" in page.inner_text("#status")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_asks_for_the_api_key_and_sends_it(live_server, tmp_path):
    """With an API key the page shows a key field, keeps the key in sessionStorage and sends it as X-API-Key."""
    with _open_page(live_server(api_key="s3cret", lime_samples=50), tmp_path) as (page, photo):
        page.wait_for_selector("#key-row:not([hidden])", timeout=30_000)
        page.uncheck("#want-explain")
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#status.error", timeout=30_000)
        assert "API key" in page.inner_text("#status")
        page.fill("#api-key", "s3cret")
        page.dispatch_event("#api-key", "change")
        assert page.evaluate("sessionStorage.getItem('fakelens-api-key')") == "s3cret"
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#verdict:has-text('Image verdict')", timeout=60_000)
