"""The training loop: epochs with callbacks around them, checkpoints, resume, ranks.

``Trainer(config).fit()`` prepares the run folder, takes its data from a
:class:`~fakelens.training.datamodule.FaceDataModule` and its model from a
:class:`~fakelens.training.module.DetectorModule`, trains while keeping the
best epoch by validation ROC-AUC, and ends with
:func:`~fakelens.training.finalize.finalize_run` (calibrate, save the
detector, evaluate it on the test split). Everything that decides the order
of random draws (seeds per epoch, the sampler's generator, the checkpointed
RNG) lives here, so a resumed run trains exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..errors import ConfigError, RunDirError
from ..stats.metrics import compute_metrics
from ..utils.atomic import atomic_path, write_json
from ..utils.numeric import sigmoid
from ..utils.rundir import RunDir
from . import distributed
from .callbacks import BestModelTracker, Callback, Checkpointer, EarlyStopping, HistoryWriter
from .checkpoint import BEST_WEIGHTS, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig, resume_options
from .datamodule import FaceDataModule, replays_draws_of
from .finalize import finalize_run
from .module import DetectorModule, warmup_cosine

__all__ = ["BEST_WEIGHTS", "Trainer", "resume", "train", "warmup_cosine"]


class Trainer:
    def __init__(self, config: TrainConfig, callbacks: list[Callback] | None = None, resume: bool = False, quiet: bool = False):
        self.config = config
        self.run_dir = Path(config.out)
        self.resume = resume
        self.quiet = quiet
        self.should_stop = False
        self.callbacks = (callbacks or []) + [BestModelTracker(), EarlyStopping(config.patience), HistoryWriter(), Checkpointer()]
        self.state: dict = {
            "epoch": 0,
            "step": 0,
            "history": [],
            "best_score": -math.inf,
            "best_epoch": 0,
            "skipped_images": 0,
            "train_seconds": 0.0,
            "images_seen": 0,
            "unreadable": [],
        }

    @property
    def model(self) -> nn.Module:
        return self.module.model

    # ------------------------------------------------------------------ set-up
    def log(self, message: str) -> None:
        if not self.quiet and distributed.is_main():
            tqdm.write(message)

    def _prepare_run_dir(self) -> None:
        cfg_path = RunDir(self.run_dir).train_config
        if self.resume:
            if not cfg_path.is_file():
                raise RunDirError(f"{self.run_dir}: nothing to resume (no config.json)")
            saved = TrainConfig.from_file(cfg_path)
            # What may change on resume: how long to train and how to run; never the data or the model.
            for key in ("epochs", "num_workers", "threads", "patience", "max_steps_per_epoch", "max_val_batches"):
                setattr(saved, key, getattr(self.config, key))
            saved.out = str(self.run_dir)
            self.config = saved
        elif latest_checkpoint(self.run_dir) or RunDir(self.run_dir).detector_config.exists():
            raise RunDirError(f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --out")
        self.config.world_size = distributed.world_size()  # batch_size is per process: the global batch is both
        if distributed.is_main():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_json(cfg_path, self.config.to_dict())

    def _setup(self) -> None:
        """The data module and its loaders, then the model module and its optimiser (the schedule needs the steps per epoch)."""
        cfg = self.config
        self.datamodule = FaceDataModule(cfg, self.run_dir, self.resume, self.quiet)
        self.datamodule.setup()
        if cfg.distill_from and self.datamodule.from_shards:
            raise ConfigError("distill_from needs each image's source, which tar shards do not carry; train on the sources themselves")
        self.train_loader = self.datamodule.train_dataloader()
        self.val_loader = self.datamodule.val_dataloader()
        self.module = DetectorModule(cfg, self.device, self.resume)
        self.steps_per_epoch = (
            len(self.train_loader) if cfg.max_steps_per_epoch is None else min(len(self.train_loader), cfg.max_steps_per_epoch)
        )
        self.optimizer, self.scheduler = self.module.configure_optimizers(self.steps_per_epoch)

    def _restore(self) -> None:
        folder = latest_checkpoint(self.run_dir) if self.resume else None
        if folder is None:
            return
        saved = load_checkpoint(folder, self.model)
        self.optimizer.load_state_dict(saved.pop("optimizer"))
        self.scheduler.load_state_dict(saved.pop("scheduler"))
        rng = saved.pop("rng", None)
        if rng is not None:
            torch.set_rng_state(rng)
        self.state.update(saved)
        self.log(f"resumed {self.run_dir} after epoch {self.state['epoch']}")

    # ------------------------------------------------------------- persistence
    def save_checkpoint(self) -> None:
        state = dict(self.state, optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(), rng=torch.get_rng_state())
        save_checkpoint(self.run_dir, self.state["epoch"], self.model, state)

    def save_best_weights(self) -> None:
        from safetensors.torch import save_file

        with atomic_path(self.run_dir / BEST_WEIGHTS) as tmp:
            save_file({k: v.detach().contiguous() for k, v in self.model.state_dict().items()}, str(tmp))

    # ---------------------------------------------------------------- training
    def _train_epoch(self, epoch: int) -> dict:
        cfg = self.config
        frozen = self.module.on_train_epoch_start(epoch)
        net = distributed.wrap_model(self.model)  # DDP under torchrun (wrapped after freezing: frozen weights sync no grads)
        distributed.set_epoch(self.train_loader, epoch)
        torch.manual_seed(distributed.rank_seed(cfg.seed * 1000 + epoch))
        if hasattr(self.train_loader.dataset, "epoch"):  # augmentations seeded by epoch and item, the same on every rank
            self.train_loader.dataset.epoch = epoch
        sampler_generator = getattr(self.train_loader.sampler, "generator", None)
        if sampler_generator is not None:  # epoch k draws the same items whether or not the run was resumed in between
            sampler_generator.manual_seed(cfg.seed * 1000 + epoch)
        unreadable: list[str] = []
        total_loss, seen, correct = 0.0, 0, 0
        bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {epoch}/{cfg.epochs}" + (" (frozen)" if frozen else ""),
            unit="batch",
            disable=self.quiet or not distributed.is_main(),
        )
        items = getattr(self.train_loader.dataset, "samples", None)  # what each drawn index is (tar shards: none)
        for step, (x, y, index, bad) in enumerate(self.train_loader):
            if step >= self.steps_per_epoch:
                break
            unreadable += _sample_paths(self.train_loader.dataset, bad)
            if x is None:
                continue
            x, y = x.to(self.device), y.to(self.device)
            samples = [items[i] for i in index.tolist()] if items is not None else None
            loss, logits = self.module.training_step((x, y), net, samples)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 2.0)
            self.optimizer.step()
            self.scheduler.step()
            self.state["step"] += 1
            total_loss += loss.item() * len(y)
            seen += len(y)
            correct += int(((logits.detach() > 0).float() == y).sum())
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}", lr=f"{self.scheduler.get_last_lr()[0]:.1e}")
            bar.update(1)
        bar.close()
        self.module.on_train_epoch_end()
        # every rank logs the same numbers: the sums over all ranks
        total_loss, seen, correct = distributed.all_reduce_sum(total_loss, seen, correct)
        seen = int(seen)
        # every rank's unreadable files (rank 0's bookkeeping is what the other ranks receive after the callbacks)
        self._note_unreadable(distributed.all_gather_list(unreadable))
        self.state["images_seen"] += seen
        return {"train_loss": total_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1)}

    def _validate(self) -> tuple[dict, np.ndarray, np.ndarray]:
        distributed.broadcast_state(self.model)  # validate (and so choose and calibrate) rank 0's model, the saved one
        logits, labels, indices, unreadable = self.module.validation_logits(self.val_loader, self.config.max_val_batches)
        logits, labels, _ = distributed.gather_predictions(logits, labels, indices)  # metrics over every rank's part
        self._note_unreadable(distributed.all_gather_list(_sample_paths(self.val_loader.dataset, unreadable)))
        probs = sigmoid(logits)
        m = compute_metrics(labels, probs, 0.5)
        return {"val_loss": m["log_loss"], "val_accuracy": m["accuracy"], "val_roc_auc": m["roc_auc"]}, logits, labels

    def fit(self) -> dict:
        # torchrun: the processes on a machine share its cores
        torch.set_num_threads(self.config.threads or max(1, (os.cpu_count() or 1) // distributed.local_world_size()))
        random.seed(self.config.seed)
        np.random.seed(self.config.seed)
        self.device = distributed.device()
        self._prepare_run_dir()
        self._setup()
        self._restore()
        # Callbacks run on rank 0 only (they write the run folder); what they decide is broadcast.
        for cb in self.callbacks if distributed.is_main() else []:
            cb.on_fit_start(self)
        splits = self.datamodule.splits
        self.log(
            f"training {self.config.model} on {len(splits['train'])} images "
            f"(val {len(splits['val'])}, test {len(splits['test'])}) -> {self.run_dir}"
        )
        parent = None if self.resume else replays_draws_of(self.config)
        if parent is not None:
            self.log(
                f"warning: {parent} was trained with the same seed, sources and draws per epoch: this run replays its draws; pass --seed N for new ones"
            )
        while self.state["epoch"] < self.config.epochs and not self.should_stop and not self._stopped_early():
            epoch = self.state["epoch"] + 1
            start = time.time()
            logs = {"epoch": epoch, **self._train_epoch(epoch)}
            logs.update(self._validate()[0])
            self.state["train_seconds"] += time.time() - start
            logs["seconds"] = round(time.time() - start, 1)
            self.state["epoch"] = epoch
            self.state["history"].append(logs)
            self.log(
                f"epoch {epoch}: "
                + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items() if k != "epoch")
            )
            for cb in self.callbacks if distributed.is_main() else []:
                cb.on_epoch_end(self, logs)
            self.state, self.should_stop = distributed.broadcast_object((self.state, self.should_stop))
        if self.state["skipped_images"]:
            self.log(f"skipped {self.state['skipped_images']} unreadable image(s)")
        result = self.finalize()
        for cb in self.callbacks if distributed.is_main() else []:
            cb.on_fit_end(self)
        return result

    def _note_unreadable(self, paths) -> None:
        """Count each unreadable image once, however often it is drawn (draws are with replacement)."""
        known = set(self.state["unreadable"])
        new = [p for p in paths if p not in known]
        if new:
            self.state["unreadable"] = sorted(known | set(new))
            self.state["skipped_images"] = len(self.state["unreadable"])

    def _stopped_early(self) -> bool:
        return bool(self.config.patience) and self.state["epoch"] - self.state["best_epoch"] >= self.config.patience

    def finalize(self) -> dict:
        """Rank 0 calibrates, saves and tests the best epoch's detector (:func:`finalize_run`); other ranks get ``{}``."""
        if not distributed.is_main():
            return {}
        return finalize_run(self.run_dir, self.model, self.datamodule, self.state, log=self.log)


def _sample_paths(dataset, indices) -> list[str]:
    """The files behind sample indices (tar shards have no file per sample: their keys stand in)."""
    samples = getattr(dataset, "samples", None)
    return [samples[i].path if samples is not None else f"shard sample {i}" for i in indices]


def train(config: TrainConfig, resume: bool = False, quiet: bool = False) -> dict:
    """Train and return the test metrics; under ``torchrun`` every rank calls this (only rank 0 gets the metrics)."""
    with distributed.process_group():
        return Trainer(config, resume=resume, quiet=quiet).fit()


def resume(run_dir: str | os.PathLike, quiet: bool = False, **changes) -> dict:
    """Continue the run in ``run_dir`` after a kill, to its own end; returns the test metrics as :func:`train` does.

    The run's saved ``config.json`` says how it trains; ``changes`` replace what may change on resume (e.g.
    ``epochs=12`` to train on, ``threads=2``), as ``fakelens train --out RUN --resume [--epochs 12]`` does.
    ``Trainer(config, resume=True)`` instead takes those options from the ``config`` it is handed, defaults included.
    """
    config = TrainConfig.from_dict(resume_options(run_dir, {**changes, "out": str(run_dir)}))
    return train(config, resume=True, quiet=quiet)
