"""The memory bank: a compact, pickle-free record of what the base scored on its own validation faces."""

import numpy as np

from fakelens.adapt.bank import BANK_FILE, MemoryBank, bank_for
from fakelens.inference.detector import DEFAULT_DIR
from fakelens.inference.onnx_backend import file_weights_digest


def test_build_save_load_keeps_the_features_within_pca_error(tmp_path):
    rng = np.random.default_rng(0)
    # features on a 20-dimensional subspace of 64: 32 components keep them (up to float16 rounding)
    features = rng.standard_normal((300, 20)) @ rng.standard_normal((20, 64))
    labels = rng.integers(0, 2, 300)
    bank = MemoryBank.build(features, rng.standard_normal(300), labels, ["a"] * 150 + ["b"] * 150, "d" * 64, ("mirror",), components=32)
    bank.save(tmp_path / BANK_FILE)
    back = MemoryBank.load(tmp_path / BANK_FILE)
    assert np.abs(back.features() - features).max() < 0.05 * np.abs(features).max()
    assert back.counts() == {
        "a": {"real": int((labels[:150] == 0).sum()), "fake": int((labels[:150] == 1).sum())},
        "b": {"real": int((labels[150:] == 0).sum()), "fake": int((labels[150:] == 1).sum())},
    }
    # a bank made from other weights is not used
    assert bank_for(tmp_path, "e" * 64) is None and bank_for(tmp_path, "d" * 64) is not None


def test_the_bundled_bank_matches_the_bundled_weights_and_is_small():
    path = DEFAULT_DIR / BANK_FILE
    assert path.stat().st_size <= 3_000_000
    bank = bank_for(DEFAULT_DIR, file_weights_digest(DEFAULT_DIR / "model.safetensors"))
    assert bank is not None and len(bank) >= 1000 and "dfdc" in bank.counts()
    from sklearn.metrics import roc_auc_score

    # the logits are the shipped detector's: it separates its own validation faces
    dfdc = bank.sources == "dfdc"
    assert roc_auc_score(bank.labels[dfdc], bank.base_logits[dfdc]) > 0.9
