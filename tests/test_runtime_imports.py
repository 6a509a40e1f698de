"""The runtime install's promise: scoring, explaining, annotating and serving with the bundled detector need
neither PyTorch nor OpenCV. Checked in a fresh interpreter where importing either one fails."""

import subprocess
import sys

import pytest
from PIL import Image

BLOCKED = ("torch", "torchvision", "timm", "cv2", "onnx")

SCRIPT = """
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):  # "import torch" (or cv2, ...) now raises ImportError
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not in the runtime install")

sys.meta_path.insert(0, Blocked())
from fakelens.cli import main
photo, crop, out = sys.argv[1:4]
assert main(["predict", photo, crop, "--output", out + "/p.csv", "--annotate", out + "/ann"]) == 0
assert main(["explain", crop, "--crops", "--method", "all", "--lime-samples", "64", "--out", out + "/ex"]) == 0
import fakelens
from fastapi.testclient import TestClient
from fakelens.service import ServiceSettings, create_app
with TestClient(create_app(fakelens.load(), ServiceSettings())) as client:
    r = client.post("/v1/detect", files={{"file": ("photo.jpg", open(photo, "rb").read())}}, data={{"explain": "gradcam"}})
    assert r.status_code == 200 and r.json()["faces"], r.text
loaded = sorted(n for n in {blocked!r} if n in sys.modules)
assert not loaded, loaded
"""


@pytest.fixture(scope="module")
def photo_and_crop(tmp_path_factory):
    from skimage import data

    folder = tmp_path_factory.mktemp("runtime")
    rgb = data.astronaut()  # a real photo with one face
    Image.fromarray(rgb).save(folder / "photo.jpg", quality=92)
    Image.fromarray(rgb[30:230, 140:340]).save(folder / "crop.jpg", quality=92)
    return folder / "photo.jpg", folder / "crop.jpg"


def test_predict_annotate_and_explain_run_without_torch_and_opencv(photo_and_crop, tmp_path):
    photo, crop = photo_and_crop
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(blocked=BLOCKED), str(photo), str(crop), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert len(rows) >= 3 and all(",error," not in r for r in rows[1:]), rows
    assert list((tmp_path / "ann").iterdir()), "no annotated photo written"
    assert (tmp_path / "ex" / "explanations.json").is_file()


def test_loading_the_bundled_detector_does_not_import_pytorch_even_where_it_is_installed():
    code = (
        "import sys, fakelens; d = fakelens.load(); d.predict_proba([__import__('numpy').zeros((64, 64, 3), 'uint8')]); "
        "assert d.backend == 'onnx'; assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
