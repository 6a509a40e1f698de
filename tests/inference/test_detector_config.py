"""Bad run folders: refused with exit 2 and one clear line, never a traceback, never failing open."""

import json
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

import fakelens
from fakelens.cli import main
from fakelens.errors import RunDirError
from fakelens.inference.detector import DEFAULT_DIR
from fakelens.inference.detector_config import DetectorConfig
from fakelens.models import list_models


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    import torch

    from fakelens import Detector, create_model
    from fakelens.imaging.preprocess import PreprocessConfig

    torch.manual_seed(0)
    det = Detector(
        create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), threshold=0.4, temperature=1.2
    )
    out = tmp_path_factory.mktemp("good_run")
    det.save(out)
    return out


@pytest.fixture
def run_copy(good_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(good_run, out)
    return out


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    path = tmp_path_factory.mktemp("crop") / "face.png"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(path)
    return path


def _edit(run, change):
    path = run / "detector.json"
    cfg = json.loads(path.read_text())
    change(cfg)
    path.write_text(json.dumps(cfg))  # json.dumps writes NaN/Infinity as Python's json reads them


def _set(key, value):
    def change(cfg):
        target = cfg
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value

    return change


def _drop(key):
    return lambda cfg: cfg.pop(key)


BAD_CONFIGS = [
    ("threshold NaN labels everything REAL", _set("threshold", float("nan")), "threshold: Input should be a finite number"),
    ("threshold 1", _set("threshold", 1.0), "threshold: Input should be less than 1"),
    ("temperature -1 inverts verdicts", _set("temperature", -1.0), "temperature: Input should be greater than or equal to 0.01"),
    ("temperature 0 gives 1.0 everywhere", _set("temperature", 0.0), "temperature: Input should be greater than or equal to 0.01"),
    ("infinite temperature", _set("temperature", float("inf")), "temperature: Input should be a finite number"),
    ("std 0 gives NaN", _set("preprocess.std", [0.5, 0.0, 0.5]), "preprocess.std.1: Input should be greater than 0"),
    ("two std values", _set("preprocess.std", [0.5, 0.5]), "preprocess.std"),
    (
        "image_size 100000 costs 12 GB",
        _set("preprocess.image_size", 100000),
        "preprocess.image_size: Input should be less than or equal to 1024",
    ),
    ("missing model", _drop("model"), "model: Field required"),
    ("missing preprocess", _drop("preprocess"), "preprocess: Field required"),
    ("nested threshold", _set("threshold", {"value": 0.5}), "threshold: Input should be a valid number"),
    ("threshold as text", _set("threshold", "0.5"), "threshold: Input should be a valid number"),
    ("tta as text", _set("tta", "yes"), "tta: Input should be a valid boolean"),
    ("unknown test-time view", _set("tta_views", ["mirror", "rotate"]), "tta_views: unknown test-time view 'rotate'"),
    ("a view twice", _set("tta_views", ["zoom", "zoom"]), "each once"),
    ("no views", _set("tta_views", []), "each once"),
    ("unknown architecture", _set("model", "resnet9000"), "model: unknown model 'resnet9000'"),
]


@pytest.mark.parametrize("why, change, message", BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_detector_json_is_one_clear_error(run_copy, crop, capsys, why, change, message):
    _edit(run_copy, change)
    with pytest.raises(RunDirError, match="invalid detector config") as info:
        fakelens.load(run_copy)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert main(["predict", str(crop), "--crops", "--run", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ("[1, 2, 3]", "must be a JSON object"),
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_detector_json_that_is_not_an_object(run_copy, content, message):
    (run_copy / "detector.json").write_text(content)
    with pytest.raises(RunDirError, match=message):
        fakelens.load(run_copy)


def test_wrong_architecture_for_the_weights(run_copy):
    _edit(run_copy, _set("model", "meso4"))
    with pytest.raises(RunDirError, match="these weights do not fit a meso4 model"):
        fakelens.load(run_copy)


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage"])
def test_broken_weights_file(run_copy, crop, capsys, how):
    weights = run_copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"\x00" * 64}[how])
    with pytest.raises(RunDirError, match="unreadable weights|do not fit"):
        fakelens.load(run_copy)
    assert main(["predict", str(crop), "--crops", "--run", str(run_copy)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_corrupt_onnx_file_falls_back_to_torch_or_is_refused(run_copy):
    onnx = run_copy / "model.onnx"
    onnx.write_bytes(b"not a protobuf" * 10)
    with pytest.warns(UserWarning, match="the ONNX model cannot be loaded .*using PyTorch"):
        det = fakelens.load(run_copy, backend="auto")
    assert det.backend == "torch"
    with pytest.raises(RunDirError, match="the ONNX model cannot be loaded"):
        fakelens.load(run_copy, backend="onnx")


def test_good_configs_load_unchanged(good_run):
    cfg = DetectorConfig.load(good_run / "detector.json")
    assert cfg.model == "simple_cnn" and cfg.threshold == pytest.approx(0.4) and cfg.temperature == pytest.approx(1.2)
    det = fakelens.load(good_run, backend="torch")
    assert det.threshold == pytest.approx(0.4) and det.preprocess.image_size == 64 and det.preprocess.std == (0.5, 0.5, 0.5)
    bundled = DetectorConfig.load(DEFAULT_DIR / "detector.json")  # the shipped detector passes its own check
    assert bundled.model in list_models() and 0 < bundled.threshold < 1  # whichever backbone ships
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DetectorConfig.load(good_run / "detector.json")
