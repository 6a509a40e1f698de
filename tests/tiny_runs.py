"""The recipe of the tests' small training runs, in one place.

simple_cnn on synthetic faces, seeded, without augmentation, early stopping
or loader workers: small and deterministic enough to learn the synthetic
task in seconds. A test states only what it changes.
"""

from __future__ import annotations

TINY_RUN = dict(
    model="simple_cnn",
    epochs=2,
    batch_size=16,
    image_size=64,
    lr=3e-3,
    aug_strength=0.0,
    num_workers=0,
    patience=0,
    seed=0,
)


def tiny_config(data, out, **changes):
    """A ``TrainConfig`` for a test's small run: ``TINY_RUN`` with ``changes`` over it."""
    from fakelens.training import TrainConfig  # on use: collecting the tests should not import torch

    data = [str(d) for d in data] if isinstance(data, (list, tuple)) else str(data)
    return TrainConfig(**{**TINY_RUN, "data": data, "out": str(out), **changes})
