"""Lightning-style callbacks: small hooks around the training loop."""

from __future__ import annotations

import math

from ..utils.atomic import write_csv
from ..utils.rundir import RunDir


class Callback:
    def on_fit_start(self, trainer) -> None: ...

    def on_epoch_end(self, trainer, logs: dict) -> None: ...

    def on_fit_end(self, trainer) -> None: ...


class HistoryWriter(Callback):
    """``history.csv`` and the training-curve plot after every epoch."""

    def on_epoch_end(self, trainer, logs):
        from ..evaluation.plots import plot_history

        history = trainer.state["history"]
        write_csv(RunDir(trainer.run_dir).history, history, list(history[0].keys()))
        plot_history(history, trainer.run_dir / "plots" / "history.png")


class BestModelTracker(Callback):
    """Keep the weights of the epoch with the best validation ROC-AUC."""

    def __init__(self, monitor: str = "val_roc_auc"):
        self.monitor = monitor

    def on_epoch_end(self, trainer, logs):
        value = logs.get(self.monitor)
        value = -math.inf if value is None or (isinstance(value, float) and math.isnan(value)) else value
        if value > trainer.state["best_score"]:
            trainer.state["best_score"] = float(value)
            trainer.state["best_epoch"] = logs["epoch"]
            trainer.save_best_weights()


class EarlyStopping(Callback):
    """Stop when the monitored score has not improved for ``patience`` epochs."""

    def __init__(self, patience: int):
        self.patience = patience

    def on_epoch_end(self, trainer, logs):
        if self.patience and logs["epoch"] - trainer.state["best_epoch"] >= self.patience:
            trainer.log(f"early stopping: no better val ROC-AUC for {self.patience} epochs")
            trainer.should_stop = True


class Checkpointer(Callback):
    """An atomic checkpoint after every epoch (runs last, so it saves everything the others updated)."""

    def on_epoch_end(self, trainer, logs):
        trainer.save_checkpoint()
