"""``fakelens explain`` end to end on a trained run.

The run is ``patch_run`` (tests/explain/conftest.py), the model the trust tests
train anyway, so that explaining needs one training run, not two.
"""

import json

import numpy as np
import pytest
from PIL import Image

import fakelens
from fakelens.cli import main


@pytest.fixture
def crops(crops_with_bad_items):
    return crops_with_bad_items(4, seed=5)


def test_cli_explain_writes_figures_grid_and_json_and_reports_bad_items(patch_run, crops, tmp_path, capsys):
    run = patch_run
    folder, notes = crops
    out = tmp_path / "explained"
    code = main(
        [
            "explain",
            str(folder),
            str(notes),
            "--run",
            str(run),
            "--method",
            "all",
            "--cam",
            "gradcam++",
            "--lime-samples",
            "100",
            "--top-k",
            "4",
            "--out",
            str(out),
            "--backend",
            "torch",
            "--crops",
        ]
    )
    assert code == 3  # two items could not be read; the others were explained
    err = capsys.readouterr().err
    assert "2 of 6 item(s) failed" in err and "broken.jpg" in err and "notes.txt" in err

    report = json.loads((out / "explanations.json").read_text())
    assert report["model"] == "simple_cnn" and report["methods"] == ["gradcam", "lime"] and report["grid"] == "grid.png"
    rows = report["images"]
    assert len(rows) == 6
    assert {r["path"].rsplit("/", 1)[-1] for r in rows if r["error"]} == {"broken.jpg", "notes.txt"}
    good = [r for r in rows if not r["error"]]
    scores = {r["path"]: r["prob_fake"] for r in fakelens.load(run, backend="torch").score_files([r["path"] for r in good])}
    for r in good:
        assert r["prob_fake"] == pytest.approx(scores[r["path"]], abs=1e-5)  # the same number `predict` gives
        assert r["verdict"] in ("REAL", "UNCERTAIN", "FAKE") and r["gradcam"]["method"] == "gradcam++"
        assert len(r["lime"]["top_segments"]) == 4
        assert {"drop_top", "drop_random", "score"} <= set(r["lime"]["faithfulness"])
        with Image.open(out / r["figure"]) as im:
            assert im.size[0] > im.size[1] > 100  # three panels side by side
    with Image.open(out / "grid.png") as im:
        assert im.size[1] > im.size[0]  # four rows of three panels
    assert sorted(p.name for p in out.iterdir()) == sorted([r["figure"] for r in good] + ["grid.png", "explanations.json"])


def test_cli_explain_bad_options_are_usage_errors(patch_run, crops, tmp_path, capsys):
    run = patch_run
    folder, _ = crops
    out = tmp_path / "never"
    assert main(["explain", str(folder), "--run", str(run), "--cam", "gradcam+++", "--out", str(out)]) == 2
    assert "unknown Grad-CAM variant 'gradcam+++'; choose one of: gradcam, gradcam++" in capsys.readouterr().err
    assert main(["explain", str(folder), "--run", str(run), "--method", "shap", "--out", str(out)]) == 2
    assert "choose one of: gradcam, lime, all" in capsys.readouterr().err
    assert not out.exists()


def test_cli_explain_without_a_run_uses_the_bundled_detector_or_says_why_not(crops, tmp_path, monkeypatch, capsys):
    import fakelens.inference.detector as detector_module

    monkeypatch.setattr(detector_module, "DEFAULT_DIR", tmp_path / "no-weights-here")
    folder, _ = crops
    assert main(["explain", str(folder / "face0.jpg"), "--out", str(tmp_path / "out")]) == 2
    assert "no default detector is bundled" in capsys.readouterr().err


def test_cli_explain_whole_photo_explains_each_face_once_with_its_box(patch_run, tmp_path, capsys):
    from skimage.data import astronaut

    from fakelens.faces import predict_photo

    head = astronaut()[20:230, 130:320]  # the astronaut's head with some margin
    photo = np.full((400, 720, 3), 90, np.uint8)
    photo[30:240, 40:230] = head
    photo[150:360, 460:650] = head[:, ::-1]
    Image.fromarray(photo).save(tmp_path / "group.jpg", quality=92)
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(tmp_path / "empty.png")
    out = tmp_path / "explained"
    code = main(
        [
            "explain",
            str(tmp_path / "group.jpg"),
            str(tmp_path / "empty.png"),
            "--run",
            str(patch_run),
            "--method",
            "gradcam",
            "--out",
            str(out),
            "--backend",
            "torch",
        ]
    )
    assert code == 0
    assert "empty.png: no face found" in capsys.readouterr().err
    rows = json.loads((out / "explanations.json").read_text())["images"]
    faces = [r for r in rows if r["path"].endswith("group.jpg")]
    assert [r["status"] for r in rows if r["path"].endswith("empty.png")] == ["no_face"]
    assert len(faces) == 2 and len({r["figure"] for r in faces}) == 2
    found = predict_photo(fakelens.load(patch_run, backend="torch"), tmp_path / "group.jpg")
    # one explanation per detected face, pointing back into the photo, with the verdict predict gives
    assert sorted(tuple(r["face_box"]) for r in faces) == sorted(f.box for f in found.faces)
    by_box = {tuple(r["face_box"]): r for r in faces}
    for f in found.faces:
        assert by_box[f.box]["prob_fake"] == pytest.approx(f.prob_fake, abs=1e-4)
        assert (out / by_box[f.box]["figure"]).is_file()


def test_cli_explain_writes_only_inside_out_whatever_the_input_names(untrained_run, tmp_path):
    from fakelens.data.synthetic import make_image

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    face = make_image(np.random.default_rng(0), 64, fake=False)[0]
    for name in ("..jpg", "...jpg", "a\nb.jpg"):
        Image.fromarray(face).save(inputs / name, format="JPEG")
    out = tmp_path / "explained"
    assert (
        main(
            ["explain", str(inputs), "--run", str(untrained_run), "--method", "gradcam", "--backend", "torch", "--crops", "--out", str(out)]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explained", "inputs"]
    rows = json.loads((out / "explanations.json").read_text())["images"]
    assert len(rows) == 3 and all((out / r["figure"]).is_file() and "/" not in r["figure"] and "\n" not in r["figure"] for r in rows)
