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


def test_roll_turns_the_face_and_fills_the_corners_black_or_mirrored():
    from fakelens.data.transforms import roll

    rng = np.random.default_rng(0)
    white = np.full((96, 96, 3), 255, np.uint8)
    turned = roll(white, rng, mirrored=False)
    corners = turned[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 0).all() and (turned[48, 48] == 255).all()  # the corners black, the centre kept
    assert (roll(white, rng, mirrored=True) == 255).all()  # mirrored in: a white crop stays white
    assert (roll(white, rng, max_degrees=0.0) == white).all()
    cfg = PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3)
    # always on: every output has a black corner; off (the default): none has (strength 0: no other change)
    on = [TrainTransform(cfg, strength=0.0, framing=0.0, roll=1.0)(white, rng) for _ in range(40)]
    off = [TrainTransform(cfg, strength=0.0, framing=0.0)(white, rng) for _ in range(20)]
    black = [x[:, 0, 0].max() < -0.5 or x[:, -1, -1].max() < -0.5 for x in on]
    assert 10 <= sum(black) <= 30  # about half the turns leave black corners, the others mirror the face in
    assert all(x.min() > 0.99 for x in off)


def test_the_roll_option_is_a_probability():
    from fakelens.errors import ConfigError
    from fakelens.training import TrainConfig

    assert TrainConfig(data=["x"]).roll == 0.0 and TrainConfig(data=["x"], roll=0.3).roll == 0.3
    with pytest.raises(ConfigError, match="roll"):
        TrainConfig.from_dict({"data": ["x"], "roll": -0.1})


def test_skin_smoothing_in_training_is_a_label_blind_probability():
    from fakelens.errors import ConfigError
    from fakelens.training import TrainConfig

    rng = np.random.default_rng(3)
    grainy = np.clip(128 + rng.normal(0, 14, (96, 96, 3)), 0, 255).astype(np.uint8)
    cfg = PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3)
    # strength 0, framing 0: the smoothing is the only change; the texture left is the image's spread
    on = [TrainTransform(cfg, strength=0.0, framing=0.0, smoothing=1.0)(grainy, rng).std() for _ in range(10)]
    off = [TrainTransform(cfg, strength=0.0, framing=0.0)(grainy, rng).std() for _ in range(10)]
    half = [TrainTransform(cfg, strength=0.0, framing=0.0, smoothing=0.5)(grainy, rng).std() for _ in range(60)]
    assert max(on) < 0.8 * min(off)
    assert 15 <= sum(s < 0.9 * min(off) for s in half) <= 45  # about half of the faces smoothed
    assert TrainConfig(data=["x"]).skin_smoothing == 0.0
    with pytest.raises(ConfigError, match="skin_smoothing"):
        TrainConfig.from_dict({"data": ["x"], "skin_smoothing": 1.5})


def test_level_noise_is_faint_comes_after_the_resize_and_is_a_probability():
    from fakelens.errors import ConfigError
    from fakelens.training import TrainConfig

    rng = np.random.default_rng(4)
    flat = np.full((96, 96, 3), 128, dtype=np.uint8)  # a flat face: whatever varies was added at the model's size
    cfg = PreprocessConfig(64, (0.5,) * 3, (0.5,) * 3)
    level = 2 / 255  # one grey level on the [-1, 1] scale
    on = [TrainTransform(cfg, strength=0.0, framing=0.0, level_noise=1.0)(flat, rng) for _ in range(10)]
    assert all(x.shape == (3, 64, 64) for x in on)
    # sd 0.5-2 levels, whole levels: nonzero, never beyond a few levels, and not smoothed by a resize after it
    assert all(0.4 * level < x.std() < 2.5 * level for x in on)
    assert all(np.allclose(np.round((x + 1) / level), (x + 1) / level, atol=1e-3) for x in on)
    assert all(np.abs(np.diff(x, axis=-1)).mean() > 0.4 * level for x in on)
    off = TrainTransform(cfg, strength=0.0, framing=0.0)(flat, rng)
    assert off.std() == 0
    half = [TrainTransform(cfg, strength=0.0, framing=0.0, level_noise=0.5)(flat, rng).std() > 0 for _ in range(60)]
    assert 15 <= sum(half) <= 45
    assert TrainConfig(data=["x"]).level_noise == 0.0
    with pytest.raises(ConfigError, match="level_noise"):
        TrainConfig.from_dict({"data": ["x"], "level_noise": 2})
