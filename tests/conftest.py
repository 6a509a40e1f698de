import os
from pathlib import Path

import pytest

from tiny_runs import tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FAKELENS_CACHE", str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "fakelens"))

SHARED_DFDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "dfdc-faces"


@pytest.fixture(scope="session")
def kaggle_dataset(tmp_path_factory):
    from fakelens.data.synthetic import make_kaggle_dataset

    return make_kaggle_dataset(tmp_path_factory.mktemp("kaggle"), per_class=120, size=64, seed=0)


@pytest.fixture(scope="session")
def folder_dataset(tmp_path_factory):
    from fakelens.data.synthetic import make_folder_dataset

    return make_folder_dataset(tmp_path_factory.mktemp("folders"), per_class=20, size=64)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, kaggle_dataset):
    """A small simple_cnn run on synthetic data, shared by the prediction/evaluation tests."""
    from fakelens.training import train

    out = tmp_path_factory.mktemp("runs") / "simple"
    metrics = train(tiny_config(kaggle_dataset, out, epochs=8), quiet=True)
    return out, metrics


@pytest.fixture
def crops_with_bad_items(tmp_path):
    """``make(n, seed)`` -> (folder of n synthetic crops plus an unreadable ``broken.jpg``, a ``notes.txt`` beside it)."""
    import numpy as np
    from PIL import Image

    from fakelens.data.synthetic import make_image

    def make(n: int, seed: int):
        rng = np.random.default_rng(seed)
        folder = tmp_path / "crops"
        folder.mkdir()
        for i in range(n):
            Image.fromarray(make_image(rng, 64, fake=i % 2 == 1)[0]).save(folder / f"face{i}.jpg")
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
        notes = tmp_path / "notes.txt"
        notes.write_text("not an image")
        return folder, notes

    return make


@pytest.fixture
def shared_dfdc():
    """The shared DFDC crops: a skip on a machine without them, a failure in CI (which always has ``../shared``)."""
    if not (SHARED_DFDC / "metadata.csv").is_file():
        message = f"{SHARED_DFDC} is not present"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run with ../shared beside the checkout")
        pytest.skip(message)
    return SHARED_DFDC


@pytest.fixture(scope="session")
def untrained_run(tmp_path_factory):
    """An untrained 64 px simple_cnn saved as a run: real weights and preprocessing, instant to make and to load."""
    import torch

    from fakelens import Detector, create_model
    from fakelens.imaging.preprocess import PreprocessConfig

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("untrained-run")
    Detector(create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3)).save(out)
    return out
