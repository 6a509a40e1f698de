"""Training: config, data and model modules, the loop with its callbacks, checkpoints, the finalise step.

Names load on first use, so ``fakelens.training.config`` (pydantic only) is read without PyTorch, e.g. to build
the ``train`` command's options.
"""

import importlib

_HOMES = {
    "Callback": "callbacks",
    "TrainConfig": "config",
    "FaceDataModule": "datamodule",
    "finalize_run": "finalize",
    "DetectorModule": "module",
    "Trainer": "trainer",
    "resume": "trainer",
    "train": "trainer",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
