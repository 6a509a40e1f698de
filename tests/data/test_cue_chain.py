"""Cue hygiene: the size-and-quality chain acts on real and fake training faces alike."""

from collections import Counter

import numpy as np
import pytest
from PIL import Image

from fakelens.data.transforms import TrainTransform
from fakelens.imaging.perturb import SizeQualityChain
from fakelens.imaging.preprocess import PreprocessConfig
from fakelens.labels import FAKE, REAL
from fakelens.sources import Sample


def checkerboard(size: int) -> np.ndarray:
    board = ((np.indices((size, size)).sum(axis=0) % 2) * 200 + 25).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def fine_detail(rgb: np.ndarray) -> float:
    """Mean difference between neighbouring pixels: what a small face cannot carry."""
    x = rgb.astype(float)
    return float(np.abs(np.diff(x, axis=1)).mean())


@pytest.mark.parametrize("size", [128, 224, 300])
def test_the_chain_keeps_the_size_and_removes_detail_finer_than_a_small_face(size):
    board = checkerboard(size)
    chain = SizeQualityChain(probability=1.0)
    for seed in range(5):
        out = chain(board, np.random.default_rng(seed))
        assert out.shape == board.shape and out.dtype == np.uint8
        assert fine_detail(out) < 0.2 * fine_detail(board)


def test_a_face_already_small_is_only_compressed():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = SizeQualityChain(probability=1.0, smallest=(80, 96))(small, rng)
    assert out.shape == small.shape and not np.array_equal(out, small)


def test_the_probability_is_how_often_it_acts():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    for p in (0.0, 0.3, 1.0):
        chain = SizeQualityChain(probability=p)
        acted = np.mean([not np.array_equal(chain(img, np.random.default_rng(s)), img) for s in range(300)])
        assert acted == pytest.approx(p, abs=0.08)


def test_real_and_fake_samples_go_through_the_chain_alike(tmp_path):
    from fakelens.data.dataset import TrainingDataset

    rng = np.random.default_rng(2)
    samples = []
    for i in range(8):
        for label, size in ((REAL, 96), (FAKE, 256)):  # the fakes are larger: the cue the chain must hide
            path = tmp_path / f"{label}_{i}.png"
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
            samples.append(Sample(str(path), label, f"g{i}"))
    transform = TrainTransform(PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3), strength=0.0, framing=0.0, cue_chain=0.5)
    chain = transform.size_quality
    acted = []

    def recording(rgb, rng):
        out = chain(rgb, rng)
        acted.append(out is not rgb)
        return out

    transform.size_quality = recording
    ds = TrainingDataset(samples * 25, transform, seed=0)
    counts = Counter()
    for i in range(len(ds)):
        x, label, _ = ds[i]
        assert tuple(x.shape) == (3, 64, 64)
        counts[(label, acted[-1])] += 1
    for label in (REAL, FAKE):
        rate = counts[(label, True)] / (counts[(label, True)] + counts[(label, False)])
        assert rate == pytest.approx(0.5, abs=0.1)


def test_the_training_option_is_a_probability():
    from fakelens.errors import ConfigError
    from fakelens.training import TrainConfig

    assert TrainConfig(data=["x"], cue_chain=0.4).cue_chain == 0.4
    with pytest.raises(ConfigError, match="cue_chain"):
        TrainConfig.from_dict({"data": ["x"], "cue_chain": 1.5})
