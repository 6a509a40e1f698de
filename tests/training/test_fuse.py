import csv
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import fakelens
from fakelens.errors import ConfigError, RunDirError
from fakelens.models import get_model_spec, list_models, register_fusion
from tiny_runs import tiny_config

#: Two small runs of the tests' recipe at two input sizes, fused the way the shipped fusion is.
FUSION = "test_fusion_cnn_48_64"


@pytest.fixture(autouse=True)
def registered_fusion(monkeypatch):
    """The test fusion, in a copy of the registry that each test's end puts back (other tests see only the zoo)."""
    from fakelens.models import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_fusion(FUSION, (("simple_cnn", 48), ("simple_cnn", 64)))
    register_fusion(FUSION + "_pil", (("simple_cnn", 48), ("simple_cnn", 64)), shrink="pil")
    assert FUSION in list_models()


@pytest.fixture(scope="module")
def member_runs(trained_run, kaggle_dataset, tmp_path_factory):
    from fakelens.training import train

    small = tmp_path_factory.mktemp("fuse") / "small"
    train(tiny_config(kaggle_dataset, small, image_size=48, epochs=8), quiet=True)
    return small, trained_run[0]


def _test_auc(detector, run):
    from fakelens.data.split import read_split_csv

    samples, sides = read_split_csv(run / "split.csv")
    test = [s for s, side in zip(samples, sides) if side == "test"]
    probs = detector.predict_proba([s.path for s in test])
    return roc_auc_score([s.label for s in test], probs)


def test_a_fused_run_is_calibrated_scored_and_exported_like_any_run(member_runs, tmp_path):
    from safetensors import safe_open

    from fakelens.export.exporter import export_run
    from fakelens.training.calibrate import calibrate_run
    from fakelens.training.fuse import fuse_runs

    small, large = member_runs
    out = fuse_runs([small, large], tmp_path / "fused", weights=[0.25, 0.75])
    det = fakelens.load(out, backend="torch")
    assert det.model_name == FUSION and det.preprocess.image_size == 64
    # each member's raw logit is weighted by its share over its temperature: a mix of calibrated logits
    temps = [fakelens.load(r, backend="torch").temperature for r in member_runs]
    assert det.model.coef.tolist() == pytest.approx([0.25 / temps[0], 0.75 / temps[1]], rel=1e-3)  # stored in float16
    with safe_open(str(out / "model.safetensors"), "numpy") as fh:
        dtypes = {fh.get_slice(k).get_dtype() for k in fh.keys()}
    assert {d for d in dtypes if d.startswith("F")} == {"F16"}  # (batch-norm step counts stay integers)

    fitted = calibrate_run(out, max_views=0)
    assert fitted["val"]["roc_auc"] > 0.85
    det = fakelens.load(out, backend="torch")
    assert _test_auc(det, large) > 0.85  # the members' unseen test faces

    # the export stores the half-precision weights as they are: half the size of a float32 export, same scores
    export_run(det, out)
    full = fuse_runs([small, large], tmp_path / "full", weights=[0.25, 0.75], half=False)
    shutil.copy(out / "detector.json", full / "detector.json")
    export_run(fakelens.load(full, backend="torch"), full)
    assert (out / "model.onnx").stat().st_size < 0.6 * (full / "model.onnx").stat().st_size
    onnx = fakelens.load(out)
    assert onnx.backend == "onnx"  # the export's weights hash matches the stored file
    faces = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    assert np.allclose(onnx.score_arrays(faces), det.score_arrays(faces), atol=1e-5)


def test_with_the_pil_shrink_a_member_scores_a_face_as_its_own_run_does(member_runs, tmp_path):
    import torch

    from fakelens.export.exporter import export_run
    from fakelens.training.fuse import fuse_runs

    small, large = member_runs
    out = fuse_runs([small, large], tmp_path / "fused", shrink="pil", half=False)
    det = fakelens.load(out, backend="torch")
    assert det.model_name == FUSION + "_pil"
    own = fakelens.load(small, backend="torch")
    # photo-like faces at the fusion's size: the small member gets exactly what its own preprocessing makes of them
    rng = np.random.default_rng(4)
    faces = np.clip(rng.normal(128, 50, (3, 8, 8, 3)).repeat(8, 1).repeat(8, 2) + rng.normal(0, 6, (3, 64, 64, 3)), 0, 255).astype(np.uint8)
    x = torch.from_numpy(det.preprocess.normalize(faces))
    with torch.no_grad():
        inside = det.model.members[0](det.model.member_input(0, x)).reshape(-1)
        alone = own.model(torch.from_numpy(own.to_batch(list(faces)))).reshape(-1)
    assert torch.allclose(inside, alone, atol=1e-4)
    export_run(det, out)
    assert np.allclose(fakelens.load(out).score_arrays(faces), det.score_arrays(faces), atol=1e-5)
    with pytest.raises(ConfigError, match="with shrink 'nearest'"):
        fuse_runs([small, large], tmp_path / "never", shrink="nearest")


def _edited_split(run, out, extra=None, to_train=None):
    """A copy of ``run`` whose split.csv lists one image ``extra`` more (val side), as after its source grew, and/or
    has its ``to_train``-th validation image moved to train (a member that trained on it)."""
    shutil.copytree(run, out)
    rows = list(csv.DictReader(open(out / "split.csv")))
    if extra:
        rows.append({**rows[0], "path": str(out / extra), "group": extra, "split": "val", "key": extra})
    if to_train is not None:
        rows[[i for i, r in enumerate(rows) if r["split"] == "val"][to_train]]["split"] = "train"
    with open(out / "split.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def test_a_member_continued_on_a_grown_source_fuses_with_one_that_never_saw_its_new_images(member_runs, tmp_path):
    from fakelens.data.multisource import read_earlier_sides
    from fakelens.training.fuse import fuse_runs

    small, large = member_runs
    # the grown member lists a new image, and trained on a face the other member was validated on (a new near-copy
    # joined its group to a training group): the fusion keeps that face out of validation
    grown = _edited_split(small, tmp_path / "grown", extra="new.png", to_train=0)
    fused = fuse_runs([grown, large], tmp_path / "fused")
    sides, before = read_earlier_sides(fused / "split.csv", []), read_earlier_sides(large / "split.csv", [])
    assert sides == read_earlier_sides(grown / "split.csv", []) and len(sides) == len(before) + 1
    assert [key for key in before if before[key] != sides[key]] == [next(k for k in before if before[k] == "val")]


def test_fuse_refuses_what_it_cannot_fuse(member_runs, tmp_path, capsys):
    from fakelens.cli import main
    from fakelens.training.fuse import fuse_runs

    small, large = member_runs
    with pytest.raises(ConfigError, match="no registered fusion"):
        fuse_runs([large, small], tmp_path / "a")  # the members in another order
    with pytest.raises(ConfigError, match="non-negative weight per run"):
        fuse_runs([small, large], tmp_path / "b", weights=[1.0, -0.5])
    # each member trained on a face the other was validated on: no member's split keeps both out of validation
    crossed = [_edited_split(small, tmp_path / "s0", to_train=0), _edited_split(large, tmp_path / "l1", to_train=1)]
    with pytest.raises(RunDirError, match="different sides"):
        fuse_runs(crossed, tmp_path / "c")
    # each member lists an image the other does not: neither split holds all the fusion's faces
    extra = [_edited_split(small, tmp_path / "sx", extra="x.png"), _edited_split(large, tmp_path / "ly", extra="y.png")]
    with pytest.raises(RunDirError, match="different sides"):
        fuse_runs(extra, tmp_path / "e")
    assert main(["fuse", str(large), str(small), "--out", str(tmp_path / "d")]) == 2
    assert "no registered fusion" in capsys.readouterr().err
    assert not (tmp_path / "d").exists() and get_model_spec(FUSION).family == "fusion"


def test_unfuse_gives_back_members_that_score_continue_and_fuse_as_before(member_runs, kaggle_dataset, tmp_path, capsys):
    from fakelens.cli import main
    from fakelens.training import train
    from fakelens.training.fuse import fuse_runs, unfuse_run
    from tiny_runs import tiny_config

    small, large = member_runs
    fused = fuse_runs([small, large], tmp_path / "fused", weights=[0.25, 0.75])
    members = unfuse_run(fused, tmp_path / "members")
    assert [m.name for m in members] == ["0-simple_cnn-48", "1-simple_cnn-64"]
    faces = np.random.default_rng(1).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    for member, original in zip(members, member_runs):
        got, want = fakelens.load(member, backend="torch"), fakelens.load(original, backend="torch")
        assert got.preprocess.image_size == want.preprocess.image_size
        assert got.temperature == pytest.approx(want.temperature)
        # the fusion stored the weights in float16: the same scores up to that rounding
        assert np.allclose(got.score_arrays(faces), want.score_arrays(faces), atol=2e-3)
        assert (member / "split.csv").read_bytes() == (original / "split.csv").read_bytes()

    # fused anew, the members mix as the fusion did
    again = fuse_runs(members, tmp_path / "again", weights=[0.25, 0.75])
    assert np.allclose(fakelens.load(again, backend="torch").model.coef, fakelens.load(fused, backend="torch").model.coef, rtol=1e-3)
    # the fusion itself is no start for one member: the message says how to get one
    with pytest.raises(ConfigError, match="is a fusion; `fakelens unfuse"):
        train(tiny_config(kaggle_dataset, tmp_path / "wrong", image_size=48, epochs=1, init_weights=str(fused)), quiet=True)
    # a member continues like any run: it keeps the fusion's sides
    cont = tmp_path / "cont"
    train(tiny_config(kaggle_dataset, cont, image_size=48, epochs=1, seed=5, init_weights=str(members[0])), quiet=True)
    assert (cont / "split.csv").read_text().count(",val,") == (small / "split.csv").read_text().count(",val,")

    with pytest.raises(ConfigError, match="not a fusion"):
        unfuse_run(small, tmp_path / "x")
    assert main(["unfuse", str(large), "--out", str(tmp_path / "y")]) == 2
    assert "not a fusion" in capsys.readouterr().err and not (tmp_path / "y").exists()
