"""Training: config, data and model modules, the loop with its callbacks, checkpoints, the finalise step."""
from .callbacks import Callback
from .config import TrainConfig
from .datamodule import FaceDataModule
from .finalize import finalize_run
from .module import DetectorModule
from .trainer import Trainer, train

__all__ = ["Callback", "DetectorModule", "FaceDataModule", "TrainConfig", "Trainer", "finalize_run", "train"]
