"""The CLI refuses bad outputs and arguments before any work, in one line with exit 2."""

import os

import numpy as np
import pytest
from PIL import Image

from fakelens.cli import main


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    path = tmp_path_factory.mktemp("crop") / "face.png"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import torch

    from fakelens import Detector, create_model
    from fakelens.imaging.preprocess import PreprocessConfig

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny_run")
    Detector(create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))).save(out)
    return out


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_output_that_is_a_folder_is_refused_before_any_work(crop, tmp_path, capsys):
    # the run folder does not exist either: the output is checked first, before the detector is loaded
    assert main(["predict", str(crop), "--crops", "--run", str(tmp_path / "no-run"), "--output", str(tmp_path)]) == 2
    err = _one_line_error(capsys)
    assert "is a folder; give a file name" in err and "no such run folder" not in err


def test_output_under_a_file_is_refused(crop, tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    assert main(["predict", str(crop), "--crops", "--run", str(tmp_path / "no-run"), "--output", str(blocker / "out.csv")]) == 2
    assert "notes.txt is a file, not a folder" in _one_line_error(capsys)


def test_output_in_a_new_folder_is_fine(crop, tiny_run, tmp_path):
    out = tmp_path / "new" / "deeper" / "rows.csv"
    assert main(["predict", str(crop), "--crops", "--run", str(tiny_run), "--output", str(out)]) == 0
    assert out.read_text().startswith("path,prob_fake,verdict,error")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_output_in_a_read_only_folder_is_refused(crop, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    assert main(["predict", str(crop), "--crops", "--output", str(locked / "rows.csv")]) == 2
    assert "permission denied" in _one_line_error(capsys)


def test_annotate_and_explain_folders_that_are_files(crop, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["predict", str(crop), "--annotate", str(blocker), "--run", str(tmp_path / "no-run")]) == 2
    assert "--annotate" in _one_line_error(capsys)
    assert main(["explain", str(crop), "--crops", "--out", str(blocker), "--run", str(tmp_path / "no-run")]) == 2
    assert "is a file, not a folder" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "x.jpg", "--batch-size", "0"],
        ["predict", "x.jpg", "--batch-size", "-3"],
        ["predict", "x.jpg", "--frames", "0"],
        ["train", "--out", "o", "--batch-size", "0"],
    ],
)
def test_counts_below_one_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_a_negative_bootstrap_count_is_a_usage_error_and_zero_is_allowed(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", "b.yaml", "--out", "o", "--bootstrap", "-1"])
    assert exit_info.value.code == 2 and "must be at least 0" in capsys.readouterr().err
    from fakelens.cli import _non_negative_int

    assert _non_negative_int("0") == 0


def test_unreadable_inputs_are_named_not_called_corrupt(crop, tiny_run, tmp_path, capsys):
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    out = tmp_path / "rows.csv"
    assert main(["predict", str(crop), str(loop), "--crops", "--run", str(tiny_run), "--output", str(out)]) == 3
    rows = out.read_text()
    assert "symbolic links" in rows and "corrupt" not in rows


def test_serve_with_a_missing_key_file_is_one_line(tmp_path, capsys):
    assert main(["serve", "--api-key-file", str(tmp_path / "missing-key")]) == 2
    assert "cannot read the API key file" in _one_line_error(capsys)


# ---------------------------------------------------------------- issue 31, row 12: settings, configs and run folders
def test_a_bad_numeric_setting_is_one_line_and_other_commands_still_work(monkeypatch, capsys):
    monkeypatch.setenv("FAKELENS_PROCESSES", "abc")
    assert main(["models"]) == 0  # the variable only matters to serve: it no longer breaks every command's parsing
    capsys.readouterr()
    assert main(["serve", "--port", "1"]) == 2
    assert "FAKELENS_PROCESSES='abc' is not a whole number" in _one_line_error(capsys)
    monkeypatch.setenv("FAKELENS_PROCESSES", "0")
    assert main(["serve", "--port", "1"]) == 2
    assert "FAKELENS_PROCESSES='0' must be at least 1" in _one_line_error(capsys)


def test_a_bad_header_timeout_setting_is_one_line_when_serving(tmp_path):
    import subprocess
    import sys

    # a fresh process: the variable is read when the server module is imported
    env = {**os.environ, "FAKELENS_HEADER_TIMEOUT_S": "soon"}
    done = subprocess.run(
        [sys.executable, "-m", "fakelens.cli", "serve", "--port", "1"], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["fakelens: error: FAKELENS_HEADER_TIMEOUT_S='soon' is not a number"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("epochs: [1, 2\nlr: 0.1\n", "not valid YAML: expected ',' or ']'"),
        ("- a\n- list\n", "a config is a mapping of training options"),
        ("epochs: 1\n\tlr: 2\n", "not valid YAML: found character '\\t'"),
    ],
)
def test_a_bad_yaml_config_is_one_line(tmp_path, capsys, text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    for argv in (
        ["train", "--config", str(config), "--out", str(tmp_path / "run")],
        ["tune", "--config", str(config), "--data", str(tmp_path), "--out", str(tmp_path / "tune")],
    ):
        assert main(argv) == 2
        err = _one_line_error(capsys)
        assert "bad.yaml" in err and expected in err, err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def resumable_run(tmp_path_factory, kaggle_dataset):
    """A one-epoch run whose checkpoint the tests below damage (each on its own copy)."""
    out = tmp_path_factory.mktemp("resumable") / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(kaggle_dataset),
                "--model",
                "simple_cnn",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--image-size",
                "32",
                "--max-steps-per-epoch",
                "2",
                "--max-val-batches",
                "1",
                "--num-workers",
                "0",
                "--patience",
                "0",
            ]
        )
        == 0
    )
    return out


def _copy_run(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def test_a_corrupt_checkpoint_state_is_one_line_on_resume(resumable_run, tmp_path, capsys):
    run = _copy_run(resumable_run, tmp_path)
    folder = run / "checkpoints" / (run / "checkpoints" / "LATEST").read_text().strip()
    capsys.readouterr()
    for damage in (os.urandom(2000), b"", b"PK\x03\x04" + os.urandom(300)):
        (folder / "state.pt").write_bytes(damage)
        assert main(["train", "--out", str(run), "--resume", "--epochs", "2"]) == 2
        err = _one_line_error(capsys)
        assert "state.pt: corrupt or not a checkpoint state" in err, err
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2"]) == 2
    assert "model.safetensors: not loadable weights" in _one_line_error(capsys)


def test_a_latest_pointer_outside_the_run_is_refused(resumable_run, tmp_path, capsys):
    import shutil

    run = _copy_run(resumable_run, tmp_path)
    root = run / "checkpoints"
    real = root / (root / "LATEST").read_text().strip()
    elsewhere = tmp_path / "elsewhere"  # a complete checkpoint, but outside the run
    shutil.copytree(real, elsewhere)
    capsys.readouterr()
    for pointer in ("../../elsewhere", str(elsewhere), "..", "."):
        (root / "LATEST").write_text(pointer + "\n")
        assert main(["train", "--out", str(run), "--resume", "--epochs", "2"]) == 2
        err = _one_line_error(capsys)
        assert "LATEST names" in err and "not a checkpoint inside" in err, (pointer, err)
