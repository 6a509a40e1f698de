"""The detector bundled with fakelens works right after install."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

import fakelens
from fakelens.cli import main
from fakelens.inference.detector import DEFAULT_DIR


def test_bundled_weights_are_small_and_documented():
    weights = DEFAULT_DIR / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size <= 25 * 2**20
    cfg = json.loads((DEFAULT_DIR / "detector.json").read_text())
    assert cfg["model"] in fakelens.list_models() and 0 < cfg["threshold"] < 1 and cfg["temperature"] > 0
    assert 0 <= cfg["bands"]["real_below"] <= cfg["bands"]["fake_from"] <= 1  # the verdict admits doubt
    card = (DEFAULT_DIR / "MODEL_CARD.md").read_text()
    for section in (
        "## Training sources",
        "## Validation",
        "## Benchmark",
        "## Robustness",
        "## Per-group figures",
        "## What it still cannot do",
    ):
        assert section in card
    for source in cfg["info"]["trained_on"]:  # every training source is named in the card
        assert f"| {source['name']} |" in card


def test_bundled_onnx_export_matches_the_weights_and_explains_without_pytorch():
    from fakelens.inference.onnx_backend import open_matching_onnx

    runner = open_matching_onnx(DEFAULT_DIR, on_error="raise")
    assert runner is not None and runner.has_cam


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_load_without_a_run_scores_images(backend):
    det = fakelens.load(backend=backend)
    assert det.backend == backend
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (224, 224, 3), dtype=np.uint8) for _ in range(3)]
    p = det.predict_proba(images)
    assert p.shape == (3,) and np.all((p > 0) & (p < 1))


def test_backends_agree_on_the_default():
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (200, 200, 3), dtype=np.uint8) for _ in range(4)]
    a = fakelens.load(backend="torch").predict_proba(images)
    b = fakelens.load(backend="onnx").predict_proba(images)
    assert np.abs(a - b).max() <= 1e-4


def test_cli_predict_without_run(tmp_path):
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)).save(tmp_path / "face.jpg")
    out = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "face.jpg"), "--crops", "-o", str(out)]) == 0
    row = next(csv.DictReader(open(out)))
    assert row["verdict"] in ("REAL", "UNCERTAIN", "FAKE") and 0 < float(row["prob_fake"]) < 1
