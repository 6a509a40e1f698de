"""A real browser (Debian's Chromium driven by Playwright) uploads a photo and sees the verdict."""

import contextlib
import shutil

import pytest

from .conftest import astronaut_photo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _launch(playwright):
    """Debian's Chromium, headless, with the flags that keep it off this machine's closed network."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    )


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
            page.add_init_script(
                "window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
                "(e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
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
        assert page.evaluate("document.querySelector('#faces .scale .tick').style.left").endswith("%")  # styled from the script (CSP)
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


def _neighbours_photo() -> bytes:
    """Two small faces side by side, so close that captions written beside their boxes would overlap."""
    import io

    from PIL import Image
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((160, 40, 290, 190)).resize((78, 90))
    scene = Image.new("RGB", (420, 260), (128, 128, 128))
    scene.paste(face, (130, 80))
    scene.paste(face, (212, 80))
    buf = io.BytesIO()
    scene.save(buf, "JPEG", quality=95)
    return buf.getvalue()


# Provenance evidence as the API reports it, one item carrying markup that must stay text.
_EVIDENCE = [
    {"source": "c2pa", "claim": "ai_generated", "detail": "ExampleImageGen <img src=x id=injected>", "valid": True},
    {"source": "xmp", "claim": "none", "detail": "no DigitalSourceType", "valid": None},
    {"source": "model", "claim": "none", "detail": "face 1: fake-likeness 0.42", "valid": None},
]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_numbers_neighbouring_faces_and_says_why(live_server, tmp_path):
    """Numbered markers that never overlap, verdicts worded with their score and band edges, and a "Why" section."""
    photo = tmp_path / "two.jpg"
    photo.write_bytes(_neighbours_photo())
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(live_server() + "/")
            page.uncheck("#want-explain")
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("#verdict:has-text('Image verdict')", timeout=60_000)
            body = page.evaluate("last.body")
            assert body["n_faces"] == 2 and {e["source"] for e in body["evidence"]} == {"model"}  # no metadata in this photo
            assert page.locator("#evidence").is_hidden()  # no claim of the file's own to list
            assert "proves nothing" in page.inner_text("#evidence-note")  # missing metadata is never called evidence of a real photo

            # the three verdicts are explained, and no score is a bare percentage
            help_text = page.inner_text("#verdict-help")
            assert all(word in help_text for word in ("REAL", "UNCERTAIN", "FAKE"))
            text = page.inner_text("body")
            assert "Each face gets a verdict: REAL or FAKE" not in text and "P(fake)" not in text and "%" not in text
            bands, image_bands = body["bands"], body["image_bands"]
            assert f"FAKE from {image_bands['fake_from']:.2f}" in page.inner_text("#verdict-score")
            faces = page.locator("#faces li")
            assert faces.count() == 2
            for i in range(2):
                item = faces.nth(i).inner_text()
                assert item.startswith(f"{i + 1}") and f"Face {i + 1}: {body['faces'][i]['verdict']}" in item
                assert "fake-likeness" in item and f"FAKE from {bands['fake_from']:.2f}" in item

            # one marker per face, inside the picture, none overlapping another
            rects = page.eval_on_selector_all(
                "#markers .marker",
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, e.textContent]; })",
            )
            photo_rect = page.eval_on_selector(
                "#photo", "e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"
            )
            assert [r[4] for r in rects] == ["1", "2"]
            for left, top, right, bottom, _ in rects:
                assert right - left >= 10 and bottom - top >= 10
                assert photo_rect[0] <= left and right <= photo_rect[2] + 0.5 and photo_rect[1] <= top and bottom <= photo_rect[3] + 0.5
            a, b = rects
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], rects

            # the "Why" section lists the model's face scores
            assert page.locator("#why h3").inner_text() == "Why"
            scores = page.locator("#model-scores li")
            assert scores.count() == 2 and "Face 1" in scores.nth(0).inner_text() and "fake-likeness" in scores.nth(1).inner_text()

            # with provenance evidence in the response (the same answer, evidence added), every item is listed, as text
            answer = {**body, "evidence": _EVIDENCE, "reasons": ["c2pa: <b>AI</b> generated"]}
            page.route("**/v1/detect", lambda route: route.fulfill(json=answer))
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("#evidence-block:not([hidden])", timeout=60_000)
            rows = page.locator("#evidence tbody tr")
            assert rows.count() == 2  # the file's own claims; the model's item is under its scores
            first = [rows.nth(0).locator("td").nth(k).inner_text() for k in range(4)]
            assert first == ["C2PA manifest", "made by an AI generator", "ExampleImageGen <img src=x id=injected>", "valid"]
            assert "not verifiable" in rows.nth(1).inner_text()
            assert page.locator("#injected").count() == 0 and page.locator("#reasons b").count() == 0
            assert page.inner_text("#reasons") == "c2pa: <b>AI</b> generated"
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()
