"""Training: config, loop, callbacks, checkpoints."""
from .callbacks import Callback
from .config import TrainConfig
from .trainer import Trainer, train

__all__ = ["Callback", "TrainConfig", "Trainer", "train"]
