"""Fixtures for the face pipeline tests; the helpers are in facekit.py."""

from __future__ import annotations

import numpy as np
import pytest
from facekit import HEAD_REGION, GreenKeyedScorer


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage.data import astronaut as load

    return np.ascontiguousarray(load())


@pytest.fixture(scope="session")
def head(astronaut) -> np.ndarray:
    x0, y0, x1, y1 = HEAD_REGION
    return np.ascontiguousarray(astronaut[y0:y1, x0:x1])


@pytest.fixture
def scorer() -> GreenKeyedScorer:
    return GreenKeyedScorer()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder holding an untrained 64 px simple_cnn: real weights and preprocessing, instant to make."""
    import torch

    from fakelens import Detector, create_model
    from fakelens.imaging.preprocess import PreprocessConfig

    torch.manual_seed(0)
    det = Detector(create_model("simple_cnn"), "simple_cnn", PreprocessConfig(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    out = tmp_path_factory.mktemp("tiny_run")
    det.save(out)
    return out
