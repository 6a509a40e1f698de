import shutil

import numpy as np
import pytest
import torch

import fakelens
from fakelens.cli import main
from fakelens.data.synthetic import make_image
from fakelens.export.exporter import export_onnx, export_run
from fakelens.inference.detector import Detector
from fakelens.models import create_model


@pytest.fixture
def run_copy(trained_run, tmp_path):
    run, _ = trained_run
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    (dst / "model.onnx").unlink(missing_ok=True)
    return dst


def test_export_parity_on_trained_run(run_copy):
    rng = np.random.default_rng(3)
    images = [make_image(rng, 64, fake=i % 2 == 1)[0] for i in range(16)]
    det = fakelens.load(run_copy, backend="torch")
    batch = det.to_batch(images)
    report = export_run(det, run_copy, check_batch=batch)
    assert report["max_abs_prob_diff"] <= 1e-4
    onnx_det = fakelens.load(run_copy)  # auto: the export is there now
    assert onnx_det.backend == "onnx"
    assert np.abs(onnx_det.predict_proba(images) - det.predict_proba(images)).max() <= 1e-4


@pytest.mark.parametrize("name", ["efficientnet_lite0", "meso4"])
def test_export_parity_zoo_models(name, tmp_path):
    det = Detector(create_model(name), name)
    det.preprocess = type(det.preprocess)(96, det.preprocess.mean, det.preprocess.std)
    batch = torch.randn(4, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    assert export_run(det, tmp_path, check_batch=batch)["max_abs_prob_diff"] <= 1e-4


def test_auto_is_torch_without_export_and_stale_export_is_ignored(run_copy):
    from safetensors.torch import load_file, save_file

    assert fakelens.load(run_copy).backend == "torch"
    det = fakelens.load(run_copy, backend="onnx")  # exports into the cache on demand
    assert det.backend == "onnx"
    export_run(det, run_copy)
    assert fakelens.load(run_copy).backend == "onnx"
    # New weights: the export records the hash of the weights it came from, so it no longer counts.
    state = load_file(str(run_copy / "model.safetensors"))
    first = sorted(state)[0]
    state[first] = state[first] + 0.01
    save_file(state, str(run_copy / "model.safetensors"))
    assert fakelens.load(run_copy).backend == "torch"


def test_export_parity_is_enforced(run_copy, monkeypatch):
    from fakelens.export import exporter as export

    det = fakelens.load(run_copy, backend="torch")
    real_export = export.export_onnx

    def export_other_weights(detector, path, opset=17):
        other = Detector(create_model(detector.model_name), detector.model_name, detector.preprocess)
        return real_export(other, path, opset)

    monkeypatch.setattr(export, "export_onnx", export_other_weights)
    with pytest.raises(export.ExportParityError, match="differs from PyTorch"):
        export_run(det, run_copy, tolerance=1e-4)
    assert not (run_copy / "model.onnx").exists()


def test_unknown_backend(run_copy):
    with pytest.raises(ValueError, match="unknown backend"):
        fakelens.load(run_copy, backend="tensorrt")


def test_cli_export_and_predict_with_onnx(run_copy, tmp_path):
    assert main(["export", str(run_copy), "--format", "onnx"]) == 0
    assert (run_copy / "model.onnx").is_file()
    rng = np.random.default_rng(5)
    from PIL import Image

    Image.fromarray(make_image(rng, 64, fake=True)[0]).save(tmp_path / "a.png")
    out_onnx, out_torch = tmp_path / "o.csv", tmp_path / "t.csv"
    assert main(["predict", str(tmp_path / "a.png"), "--run", str(run_copy), "--crops", "--backend", "onnx", "-o", str(out_onnx)]) == 0
    assert main(["predict", str(tmp_path / "a.png"), "--run", str(run_copy), "--crops", "--backend", "torch", "-o", str(out_torch)]) == 0
    p_onnx = float(out_onnx.read_text().splitlines()[1].split(",")[1])
    p_torch = float(out_torch.read_text().splitlines()[1].split(",")[1])
    assert abs(p_onnx - p_torch) <= 1e-4


def test_int8_quantization_is_checked_on_validation(run_copy):
    from fakelens.export.quantize import INT8_FILE, quantize_run

    det = fakelens.load(run_copy, backend="torch")
    report = quantize_run(det, run_copy, calibration_images=32)
    assert report["val_images"] > 0 and 0 <= report["int8_accuracy"] <= 1
    assert report["fp32_images_per_s"] > 0 and report["int8_images_per_s"] > 0
    assert report["kept"] == (report["drop_points"] <= 0.5 and report["speedup"] >= 1.0)
    assert (run_copy / INT8_FILE).is_file() == report["kept"]
    if report["kept"]:
        assert fakelens.load(run_copy).backend == "onnx"
    # a strict bound that no quantized model passes unless it is exactly as accurate
    strict = quantize_run(det, run_copy, calibration_images=32, max_drop=-1.0)
    assert not strict["kept"] and not (run_copy / INT8_FILE).exists()
    assert "accuracy" in strict["rejected_for"]
    # an int8 model that is accurate but not faster is not kept either: the loader would prefer it
    slow = quantize_run(det, run_copy, calibration_images=32, max_drop=1.0, min_speedup=float("inf"))
    assert slow["rejected_for"] == ["speed"] and not (run_copy / INT8_FILE).exists()


def test_export_bakes_same_padding_into_a_static_graph(tmp_path):
    """tf_efficientnet_lite's 'SAME' convs must not export as per-call shape arithmetic (it cost ~40% at batch 1)."""
    import onnx

    det = Detector(create_model("efficientnet_lite0"), "efficientnet_lite0")
    det.preprocess = type(det.preprocess)(96, det.preprocess.mean, det.preprocess.std)
    path = export_onnx(det, tmp_path / "m.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not ops & {"Shape", "Ceil", "Gather"}, ops
    from fakelens.inference.onnx_backend import OnnxRunner

    batch = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref = det.model(batch).reshape(-1).numpy()
    assert np.abs(OnnxRunner(path).run(batch.numpy()) - ref).max() < 1e-4
    assert any(type(m).__name__ == "Conv2dSame" for m in det.model.modules())  # the detector's own model is untouched


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_tta_averages_the_logits_of_each_face_and_its_mirror(run_copy, backend):
    from scipy.special import expit

    rng = np.random.default_rng(7)
    images = [make_image(rng, 64, fake=i % 2 == 1)[0] for i in range(6)]
    det = fakelens.load(run_copy, backend=backend)
    plain = det.logits(det.to_batch(images))
    mirrored = det.logits(det.to_batch([im[:, ::-1].copy() for im in images]))
    tta = fakelens.load(run_copy, backend=backend, tta=True)
    assert tta.tta and "tta=True" in repr(tta)
    got = tta.predict_proba(images)
    assert np.allclose(got, expit((plain + mirrored) / 2 / det.temperature), atol=1e-5)
    assert np.abs(got - det.predict_proba(images)).max() > 1e-4  # the mirror does change the scores
    tta.save(run_copy)  # the choice is kept with the detector
    assert fakelens.load(run_copy, backend=backend).tta


def test_export_outputs_the_pooled_features_the_classifier_reads(tmp_path):
    model = create_model("efficientnet_lite0").eval()
    det = Detector(model, "efficientnet_lite0")
    det.preprocess = type(det.preprocess)(96, det.preprocess.mean, det.preprocess.std)
    export_run(det, tmp_path, check_batch=torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0)))
    from fakelens.inference.onnx_backend import OnnxRunner, TorchRunner

    runner = OnnxRunner(tmp_path / "model.onnx")
    x = np.random.default_rng(1).standard_normal((3, 3, 96, 96)).astype(np.float32)
    logits, features = runner.run_with_features(x)
    head = model.get_classifier()
    # the logit is the classifier applied to these features: the adapter's head reads the same vector
    refit = features @ head.weight.detach().numpy().reshape(-1) + head.bias.item()
    assert features.shape == (3, head.in_features) and np.abs(refit - logits).max() < 1e-4
    torch_logits, torch_features = TorchRunner(model).run_with_features(x)
    assert np.abs(torch_features - features).max() < 1e-3 and np.abs(torch_logits - logits).max() < 1e-3


def test_a_batch_split_across_threads_scores_as_one_call_would(tmp_path):
    from fakelens.inference.onnx_backend import OnnxRunner

    det = Detector(create_model("efficientnet_lite0").eval(), "efficientnet_lite0")
    det.preprocess = type(det.preprocess)(96, det.preprocess.mean, det.preprocess.std)
    export_run(det, tmp_path, check_batch=torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0)))
    whole = OnnxRunner(tmp_path / "model.onnx", threads=2, chunk=0)
    split = OnnxRunner(tmp_path / "model.onnx", threads=2, chunk=2)
    assert split._splits(7) and not split._splits(3) and not whole._splits(7)
    assert not OnnxRunner(tmp_path / "model.onnx", threads=1, chunk=2)._splits(7)  # one thread: nothing to split across
    x = np.random.default_rng(3).standard_normal((7, 3, 96, 96)).astype(np.float32)  # 7: the last chunk is short
    ref = whole.run(x)
    assert np.ptp(ref) > 1e-3  # distinct faces, so the order of the pieces is checked
    assert np.abs(split.run(x) - ref).max() < 1e-5
    assert np.abs(split.run(x[::-1]) - ref[::-1]).max() < 1e-5
    for method in ("run_with_cam", "run_with_features"):
        for a, b in zip(getattr(whole, method)(x), getattr(split, method)(x)):
            assert a.shape == b.shape and a.shape[0] == 7 and np.abs(a - b).max() < 1e-4
    with pytest.raises(ValueError, match="chunk"):
        OnnxRunner(tmp_path / "model.onnx", chunk=-1)


def test_the_bundled_export_has_the_features_output_and_an_old_export_says_to_re_export(tmp_path):
    from fakelens.inference.detector import DEFAULT_DIR
    from fakelens.inference.onnx_backend import NoFeaturesError, OnnxRunner

    assert OnnxRunner(DEFAULT_DIR / "model.onnx").has_features
    model = create_model("meso4").eval()  # no pooling + linear head: the export has the logit only
    det = Detector(model, "meso4")
    det.preprocess = type(det.preprocess)(64, det.preprocess.mean, det.preprocess.std)
    export_run(det, tmp_path, check_batch=torch.randn(2, 3, 64, 64))
    with pytest.raises(NoFeaturesError, match="re-export"):
        OnnxRunner(tmp_path / "model.onnx").run_with_features(np.zeros((1, 3, 64, 64), np.float32))
