"""The step after the loop: best weights -> calibration on validation -> detector in the run folder -> test metrics.

The trainer runs it at the end of ``fit`` (on rank 0). It needs nothing the
run folder does not hold (``config.json``, ``split.csv``, the latest checkpoint
and ``best.safetensors``), so it can also be run on its own: on a run that
was interrupted, to ship what it has without training further.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch.nn as nn
from safetensors.torch import load_file

from ..errors import RunDirError
from ..evaluation.evaluate import evaluate_run
from ..inference.detector import Detector
from ..models import create_model
from ..utils.atomic import write_json
from ..utils.rundir import RunDir
from .calibrate import calibrate
from .checkpoint import BEST_WEIGHTS, latest_checkpoint, load_checkpoint
from .config import TrainConfig
from .datamodule import FaceDataModule


def finalize_run(
    run_dir: str | os.PathLike,
    model: nn.Module | None = None,
    datamodule: FaceDataModule | None = None,
    state: dict | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Calibrate, save and test the run's detector; returns what ``metrics.json`` now holds.

    ``model``, ``datamodule`` and ``state`` (the trainer's bookkeeping) are those
    of the run that just trained; any left out are read from ``run_dir``: the
    config and split it was trained with, the weights and bookkeeping of its
    latest checkpoint. Either way the weights of the best epoch
    (``best.safetensors``) are the ones that ship, where there is one.
    """
    run_dir = Path(run_dir)
    if datamodule is None:
        config_file = RunDir(run_dir).train_config
        if not config_file.is_file():
            raise RunDirError(f"{run_dir}: no config.json, so no run to finalise")
        datamodule = FaceDataModule(TrainConfig.from_file(config_file), run_dir, resume=True, quiet=True)
        datamodule.setup()  # re-reads split.csv
    config = datamodule.config
    if model is None or state is None:
        folder = latest_checkpoint(run_dir)
        if folder is None:
            raise RunDirError(f"{run_dir}: no checkpoint to finalise")
        saved_model = create_model(config.model)  # its weights come from the checkpoint
        saved = load_checkpoint(folder, saved_model)
        model = saved_model if model is None else model
        state = saved if state is None else state
    best = run_dir / BEST_WEIGHTS
    if best.is_file():
        model.load_state_dict(load_file(str(best)))
    detector = Detector(model.cpu(), config.model, datamodule.preprocess)
    # The separate calibrate step: TTA chosen on validation, then temperature, threshold and
    # verdict bands fitted with that setting, on every source's validation part.
    fitted = calibrate(detector, datamodule.splits["val"], num_workers=config.num_workers)
    info = {
        "trained_on": [src.model_dump() for src in datamodule.sources],
        "train_images": len(datamodule.splits["train"]),
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "train_minutes": round(state["train_seconds"] / 60, 2),
        "train_images_seen": state["images_seen"],
        "skipped_unreadable": state["skipped_images"],
        "val": fitted["val"],
        "calibration": {k: v for k, v in fitted.items() if k != "val"},
    }
    detector.info = info
    detector.save(run_dir)
    temperature, threshold = detector.temperature, detector.threshold
    metrics = {"model": config.model, "val": info["val"], "temperature": temperature, "threshold": threshold}
    if datamodule.splits["test"]:
        metrics["test"] = evaluate_run(run_dir, num_workers=config.num_workers, backend="torch")
    write_json(RunDir(run_dir).metrics, metrics)
    if log is not None:
        test = metrics.get("test", {})
        log(f"done: test accuracy={test.get('accuracy')}, ROC-AUC={test.get('roc_auc')}; detector saved in {run_dir}")
    return metrics
