"""One picture, one P(fake): every entry point goes through the one preprocessing path."""

import numpy as np
import pytest
from PIL import Image

import fakelens
from fakelens.data.synthetic import make_image
from fakelens.sources import Sample


@pytest.fixture
def large_jpeg(tmp_path):
    """A 672 px face-crop JPEG: large enough that a draft (downscaled) decode would differ from a full one."""
    rgb, _ = make_image(np.random.default_rng(11), 672, fake=True)
    path = tmp_path / "face672.jpg"
    Image.fromarray(rgb).save(path, quality=90)
    return path


def test_same_probability_through_every_entry_point(trained_run, large_jpeg, tmp_path):
    from fakelens.cli import main
    from fakelens.evaluation.evaluate import score_samples
    from fakelens.explain import explain
    from fakelens.export.quantize import _val_batches
    from fakelens.faces import predict_photo
    from fakelens.service.app import create_app

    run, _ = trained_run
    det = fakelens.load(run)
    data = large_jpeg.read_bytes()
    probs = {
        "api path": float(det.predict_proba([str(large_jpeg)])[0]),
        "api bytes": float(det.predict_proba([data])[0]),
        "api array": float(det.predict_proba([np.asarray(Image.open(large_jpeg).convert("RGB"))])[0]),
        "score_files (predict --crops)": det.score_files([str(large_jpeg)])[0]["prob_fake"],
        "photo, crop forced": predict_photo(det, str(large_jpeg), crops=True).faces[0].prob_fake,
        "evaluate / training validation": float(score_samples(det, [Sample(str(large_jpeg), 1, "g")], num_workers=0)[0][0]),
        "explain": explain(det, [str(large_jpeg)], methods="lime", lime_samples=20, faithfulness=False)[0].prob_fake,
        "quantize calibration batches": float(
            det.proba_from_logits(det.logits(_val_batches(det, [Sample(str(large_jpeg), 1, "g")])[0][0]))[0]
        ),
    }
    out = tmp_path / "cli.csv"
    assert main(["predict", str(large_jpeg), "--crops", "--run", str(run), "--output", str(out)]) == 0
    probs["CLI"] = float(out.read_text().splitlines()[1].split(",")[1])
    from fastapi.testclient import TestClient

    with TestClient(create_app(det)) as client:
        answer = client.post("/v1/detect", files={"file": ("face.jpg", data)}, data={"crop": "true"}).json()
    probs["service crop=true"] = answer["faces"][0]["prob_fake"]
    spread = max(probs.values()) - min(probs.values())
    assert spread <= 1e-4, probs


def test_training_validation_transform_is_the_predict_path(trained_run, large_jpeg):
    from fakelens.data.transforms import eval_transform

    det = fakelens.load(trained_run[0])
    x = eval_transform(det.preprocess)(str(large_jpeg)).numpy()
    assert np.array_equal(x, det.to_batch([str(large_jpeg)])[0])


def test_detector_is_thread_safe_for_predict_and_explain(trained_run):
    """Grad-CAM hooks a private copy of the model, so predictions running beside it are not disturbed."""
    from concurrent.futures import ThreadPoolExecutor

    from fakelens.explain import explain

    det = fakelens.load(trained_run[0], backend="torch")
    rng = np.random.default_rng(0)
    faces = [make_image(rng, 64, fake=i % 2 == 1)[0] for i in range(8)]
    expected = det.predict_proba(faces)

    def predict(_):
        return det.predict_proba(faces)

    def gradcam(_):
        return explain(det, faces[:2], methods="gradcam", faithfulness=False)[0].gradcam.heatmap

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(predict if i % 2 else gradcam, i) for i in range(30)]
        results = [f.result() for f in futures]  # any exception in a thread is raised here
    for i, r in enumerate(results):
        if i % 2:
            assert np.allclose(r, expected, atol=1e-6)
        else:
            assert r.shape == (64, 64) and np.isfinite(r).all()
