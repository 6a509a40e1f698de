import glob
import io
import os
import tempfile
import threading

import numpy as np
import pytest
from PIL import Image

from .conftest import astronaut_photo, blank_photo


def test_health_models_docs_and_page(make_client):
    client = make_client()
    assert client.get("/healthz").json()["status"] == "ok"
    models = client.get("/v1/models").json()["models"]
    assert models[0]["name"] == "simple_cnn" and 0 < models[0]["threshold"] < 1
    assert client.get("/docs").status_code == 404  # no Swagger UI from a CDN (issue 31)
    assert "openapi" in client.get("/openapi.json").json()
    page = client.get("/")
    assert page.status_code == 200 and "<title>fakelens" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_detect_photo_finds_the_face(make_client):
    r = make_client().post("/v1/detect", files={"file": ("a.jpg", astronaut_photo(), "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["media"] == "image" and body["n_faces"] == 1
    x0, y0, x1, y1 = body["faces"][0]["box"]
    assert 200 <= x0 < x1 <= 400 and 80 <= y0 < y1 <= 300  # inside the pasted face
    assert body["faces"][0]["verdict"] in ("REAL", "UNCERTAIN", "FAKE") and body["image_verdict"] == body["faces"][0]["verdict"]
    assert body["model"]["name"] == "simple_cnn" and body["timings"]["total_ms"] > 0


def test_detect_with_explanations(make_client):
    r = make_client(lime_samples=50).post("/v1/detect", files={"file": ("a.jpg", astronaut_photo(), "image/jpeg")}, data={"explain": "all"})
    assert r.status_code == 200, r.text
    expl = r.json()["faces"][0]["explanation"]
    assert expl["gradcam_overlay"].startswith("data:image/png;base64,")
    assert expl["lime_overlay"].startswith("data:image/png;base64,")


def test_no_face(make_client):
    body = make_client().post("/v1/detect", files={"file": ("b.png", blank_photo(), "image/png")}).json()
    assert body["status"] == "no_face" and body["image_verdict"] is None and body["faces"] == []


@pytest.mark.parametrize("payload", [b"hello, this is text, not an image at all", b"%PDF-1.4 fake pdf header......"])
def test_unsupported_type_is_415_whatever_the_name(make_client, payload):
    r = make_client().post("/v1/detect", files={"file": ("photo.jpg", payload, "image/jpeg")})
    assert r.status_code == 415 and "unsupported file type" in r.json()["detail"]


def test_too_large_is_413(make_client):
    r = make_client(max_image_bytes=10_000).post("/v1/detect", files={"file": ("a.jpg", astronaut_photo(), "image/jpeg")})
    assert r.status_code == 413


def test_decompression_bomb_is_refused(make_client, monkeypatch):
    from fakelens.imaging import imageio

    monkeypatch.setattr(imageio, "MAX_IMAGE_PIXELS", 100 * 100)
    r = make_client().post("/v1/detect", files={"file": ("a.png", blank_photo(), "image/png")})
    assert r.status_code == 413 and "pixel limit" in r.json()["detail"]


def test_corrupt_image_is_422(make_client):
    data = astronaut_photo()[:300]
    r = make_client().post("/v1/detect", files={"file": ("a.jpg", data, "image/jpeg")})
    assert r.status_code == 422


def test_bad_form_values_are_422(make_client):
    client = make_client()
    assert client.post("/v1/detect", files={"file": ("a.jpg", astronaut_photo())}, data={"explain": "shap"}).status_code == 422
    assert client.post("/v1/detect", files={"file": ("a.jpg", astronaut_photo())}, data={"frames": "0"}).status_code == 422
    assert client.post("/v1/detect").status_code == 422  # no file


def test_api_key(make_client):
    client = make_client(api_key="s3cret")
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_full_queue_answers_503_at_once(make_client, service_detector, held_detection):
    entered, release = held_detection
    client = make_client(workers=1, queue_size=0)
    first = {}
    t = threading.Thread(target=lambda: first.update(r=client.post("/v1/detect", files={"file": ("a.jpg", astronaut_photo())})))
    t.start()
    assert entered.wait(20)
    second = client.post("/v1/detect", files={"file": ("a.jpg", astronaut_photo())})
    release.set()
    t.join(30)
    assert second.status_code == 503 and second.headers["retry-after"] == "1"
    assert first["r"].status_code == 200


def _video_bytes(tmp_path) -> bytes:
    from skimage import data

    from fakelens.faces import write_video

    face = np.asarray(Image.fromarray(data.astronaut()).crop((120, 0, 320, 220)))
    frames = []
    for i in range(6):
        frame = np.full((360, 480, 3), 100, np.uint8)
        frame[60:280, 40 + 20 * i : 240 + 20 * i] = face
        frames.append(frame)
    path = tmp_path / "clip.mp4"
    write_video(path, frames, fps=4)
    return path.read_bytes()


def test_video_detect_and_temp_files_removed(make_client, tmp_path):
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "fakelens-upload-*")))
    r = make_client().post("/v1/detect", files={"file": ("clip.mp4", _video_bytes(tmp_path), "video/mp4")}, data={"frames": "4"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["media"] == "video" and body["n_frames_sampled"] == 4 and body["n_tracks"] == 1
    assert body["video_verdict"] in ("REAL", "UNCERTAIN", "FAKE")
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "fakelens-upload-*"))) == before


def test_a_portrait_phone_video_is_judged_upright(make_client, tmp_path):
    """Stored sideways with a display rotation, as phones write portrait videos: faces found, boxes upright."""
    import av
    from skimage import data

    face = np.asarray(Image.fromarray(data.astronaut()).crop((120, 0, 320, 220)))
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 480, 272, "yuv420p"  # stored landscape ...
        stream.set_display_rotation(-90)  # ... shown turned 90 degrees clockwise: 272 wide, 480 tall
        for i in range(4):
            upright = np.full((480, 272, 3), 100, np.uint8)
            upright[100 + 20 * i : 320 + 20 * i, 36:236] = face
            stored = np.ascontiguousarray(np.rot90(upright, k=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        container.mux(stream.encode())
    r = make_client().post("/v1/detect", files={"file": ("portrait.mp4", path.read_bytes(), "video/mp4")}, data={"frames": "4"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["n_tracks"] == 1
    assert (body["info"]["width"], body["info"]["height"], body["info"]["rotation"]) == (272, 480, 90)
    faces = [f for frame in body["frames"] for f in frame["faces"]]
    assert len(faces) == 4
    # the face moves down the upright picture, inside its 272 px width
    assert all(0 <= f["box"][0] < f["box"][2] <= 272 for f in faces)
    tops = [f["box"][1] for f in faces]
    assert tops == sorted(tops) and tops[-1] - tops[0] > 40


def test_corrupt_video_is_422_and_cleaned(make_client, tmp_path):
    data = _video_bytes(tmp_path)
    r = make_client().post("/v1/detect", files={"file": ("clip.mp4", data[:200], "video/mp4")})
    assert r.status_code == 422
    assert not glob.glob(os.path.join(tempfile.gettempdir(), "fakelens-upload-*"))


def test_crop_mode_scores_the_whole_image_without_detection(make_client, service_detector):
    from fakelens.data.synthetic import make_image

    rng = np.random.default_rng(4)
    image, _ = make_image(rng, 64, fake=True)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    client = make_client()
    plain = client.post("/v1/detect", files={"file": ("c.png", buf.getvalue())}).json()
    crop = client.post("/v1/detect", files={"file": ("c.png", buf.getvalue())}, data={"crop": "true"}).json()
    assert plain["status"] == "no_face"  # a synthetic 64 px blob is no face to the detector
    assert crop["status"] == "ok" and crop["kind"] == "crop" and crop["n_faces"] == 1
    assert crop["faces"][0]["box"] == [0, 0, 64, 64]
