"""Every surface shows the evidence and follows the policy: CLI CSV (a short evidence column), CLI JSON and the API
(the full list), crop mode, videos, and the explain figure's title line. The model's score is pinned where the
verdict depends on it, so the test checks the policy, not the model."""

import csv
import json

import numpy as np
import provkit as kit
import pytest

import fakelens
from fakelens.cli import main
from fakelens.inference.detector import Detector

AI_CASES = {  # file -> the short evidence the CSV must show
    "c2pa.jpg": "c2pa:ai_generated(ExampleImageGen,unverified)",
    "c2pa.png": "c2pa:ai_generated(ExampleImageGen,unverified)",
    "a1111.png": "png-text:ai_generated(AUTOMATIC1111)",
    "xmp.jpg": "xmp:ai_generated(trainedAlgorithmicMedia)",
    "exif.jpg": "exif:ai_generated(Midjourney)",
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("provenance_cases")
    rgb = kit.face_rgb()
    files = {
        "c2pa.jpg": kit.signed_jpeg(rgb=rgb),
        "c2pa.png": kit.signed_png(rgb=rgb),
        "a1111.png": kit.a1111_png(rgb),
        "xmp.jpg": kit.xmp_jpeg(rgb=rgb),
        "exif.jpg": kit.exif_jpeg("Midjourney v6", rgb=rgb),
        "edited.jpg": kit.edit_signed_jpeg(kit.signed_jpeg(rgb=rgb)),
        "capture.jpg": kit.signed_jpeg("digitalCapture", rgb=rgb),
        "plain.jpg": kit.encode(rgb, "JPEG", quality=92),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def model_says(monkeypatch):
    """``model_says(p)``: every face gets P(fake) = p from the (bundled) detector."""

    def pin(p: float):
        monkeypatch.setattr(Detector, "score_arrays", lambda self, faces, batch_size=32: np.full(len(faces), p))

    return pin


def by_name(rows, key="path"):
    out = {}
    for r in rows:
        out.setdefault(str(r[key]).rsplit("/", 1)[-1], []).append(r)
    return out


def test_cli_csv_and_json(cases, tmp_path, model_says):
    model_says(0.01)  # the model calls every face REAL: only the evidence can make an image FAKE
    out = tmp_path / "p.csv"
    assert main(["predict", str(cases), "--output", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = by_name(csv.DictReader(fh))
    for name, short in AI_CASES.items():
        assert {r["image_verdict"] for r in rows[name]} == {"FAKE"}, name
        assert rows[name][0]["evidence"] == short
    assert {r["image_verdict"] for r in rows["edited.jpg"]} == {"REAL"}  # an invalid manifest is not trusted
    assert rows["edited.jpg"][0]["evidence"] == "c2pa:ai_generated(ExampleImageGen,invalid)"
    assert rows["capture.jpg"][0]["evidence"] == "c2pa:camera_capture(ExampleImageGen,unverified)"
    assert rows["plain.jpg"][0]["evidence"] == "" and rows["plain.jpg"][0]["image_verdict"] == "REAL"

    out_json = tmp_path / "p.json"
    assert main(["predict", str(cases), "--output", str(out_json)]) == 0
    results = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(out_json.read_text())}
    for name in AI_CASES:
        r = results[name]
        assert r["image_verdict"] == "FAKE" and r["reasons"], name
        assert all(set(e) == {"source", "claim", "detail", "valid"} for e in r["evidence"])
        assert [e["source"] for e in r["evidence"]][-1] == "model"  # the model's face score is an item too
    assert "ExampleImageGen" in results["c2pa.jpg"]["reasons"][0]
    c2pa_item = results["c2pa.jpg"]["evidence"][0]
    assert c2pa_item["claim"] == "ai_generated" and c2pa_item["valid"] is None and "ExampleImageGen Diffusion 2" in c2pa_item["detail"]
    edited = results["edited.jpg"]
    assert edited["image_verdict"] == "REAL" and edited["reasons"] == [] and any("not trusted" in w for w in edited["warnings"])
    assert edited["evidence"][0]["valid"] is False


def test_a_capture_claim_does_not_override_a_fake_face(cases, tmp_path, model_says):
    model_says(0.999)
    out = tmp_path / "p.json"
    assert main(["predict", str(cases / "capture.jpg"), str(cases / "plain.jpg"), "--output", str(out)]) == 0
    results = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(out.read_text())}
    assert results["capture.jpg"]["image_verdict"] == "FAKE" == results["plain.jpg"]["image_verdict"]
    assert results["capture.jpg"]["evidence"][0]["claim"] == "camera_capture"
    assert results["capture.jpg"]["evidence"][-1] == {
        "source": "model",
        "claim": "ai_edited",
        "valid": None,
        "detail": results["capture.jpg"]["evidence"][-1]["detail"],
    }


def test_cli_crop_mode_rows(cases, tmp_path, model_says):
    model_says(0.01)
    out = tmp_path / "crops.csv"
    assert main(["predict", *[str(cases / n) for n in (*AI_CASES, "edited.jpg", "plain.jpg")], "--crops", "--output", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(fh)}
    for name, short in AI_CASES.items():
        assert rows[name]["verdict"] == "FAKE" and rows[name]["evidence"] == short, name
    assert rows["edited.jpg"]["verdict"] == "REAL" and rows["plain.jpg"]["verdict"] == "REAL" and rows["plain.jpg"]["evidence"] == ""


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from fakelens.service import ServiceSettings, create_app

    with TestClient(create_app(fakelens.load(), ServiceSettings())) as c:
        yield c


def test_api(cases, client, model_says):
    model_says(0.01)
    for name in AI_CASES:
        r = client.post("/v1/detect", files={"file": (name, (cases / name).read_bytes())})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["image_verdict"] == "FAKE" and body["reasons"], name
        assert body["evidence"][0]["source"] == AI_CASES[name].split(":")[0]
        assert all(set(e) == {"source", "claim", "detail", "valid"} for e in body["evidence"])
    body = client.post("/v1/detect", files={"file": ("edited.jpg", (cases / "edited.jpg").read_bytes())}).json()
    assert body["image_verdict"] == "REAL" and body["evidence"][0]["valid"] is False and any("not trusted" in w for w in body["warnings"])
    model_says(0.999)
    body = client.post("/v1/detect", files={"file": ("capture.jpg", (cases / "capture.jpg").read_bytes())}).json()
    assert body["image_verdict"] == "FAKE" and body["evidence"][0]["claim"] == "camera_capture"


def test_api_video_with_a_c2pa_manifest(client):
    body = client.post("/v1/detect", files={"file": ("clip.mp4", kit.sign(kit.mp4(), "video/mp4"))}).json()
    assert body["status"] == "no_face" and body["video_verdict"] == "FAKE"  # no face, but the manifest says AI-generated
    assert body["evidence"][0]["source"] == "c2pa" and body["evidence"][0]["claim"] == "ai_generated" and body["reasons"]


def test_explain_figure_title_line(cases, tmp_path):
    from fakelens.explain import explain_files
    from fakelens.explain.figures import evidence_text

    rows = explain_files(fakelens.load(), [str(cases / "c2pa.jpg"), str(cases / "plain.jpg")], tmp_path, crops=True, methods=("gradcam",))
    by_file = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    assert by_file["c2pa.jpg"]["evidence"][0]["claim"] == "ai_generated" and "evidence" not in by_file["plain.jpg"]
    assert (tmp_path / by_file["c2pa.jpg"]["figure"]).is_file()
    from fakelens.explain.results import Explanation
    from fakelens.provenance import read_provenance

    e = Explanation(None, np.zeros((8, 8, 3), np.uint8), 0.1, "REAL", evidence=read_provenance(cases / "c2pa.jpg")[0])
    assert evidence_text(e) == "evidence: c2pa:ai_generated(ExampleImageGen,unverified)  ->  image FAKE"
    e.evidence = read_provenance(cases / "edited.jpg")[0]
    assert "not trusted" in evidence_text(e)
    e.evidence = []
    assert evidence_text(e) == ""


def test_cli_video_with_a_c2pa_manifest(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(kit.sign(kit.mp4(), "video/mp4"))
    out = tmp_path / "v.csv"
    assert main(["predict", str(clip), "--frames", "2", "--output", str(out)]) == 0
    with open(out, newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["video_verdict"] == "FAKE" and row["evidence"] == "c2pa:ai_generated(ExampleImageGen,unverified)"
    (full,) = json.loads(out.with_suffix(".json").read_text())
    assert full["reasons"] and full["evidence"][0]["claim"] == "ai_generated"
