"""The training loop: data -> model -> optimiser, with callbacks around it.

``Trainer(config).fit()`` trains, keeps the best epoch by validation ROC-AUC,
calibrates (temperature + threshold on validation), saves the detector into
the run folder and evaluates it on the test split.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..data.dataset import FaceCropDataset, TrainingDataset, make_loader, weighted_sampler
from ..data.multisource import SourceSpec, split_sources, training_draws
from ..data.shards import ShardDataset, is_shard_dir, read_shard_split
from ..data.split import read_split_csv, write_split_csv
from ..data.transforms import eval_transform, train_transform
from ..errors import DataError, RunDirError
from ..evaluation.evaluate import collect_logits
from ..evaluation.metrics import compute_metrics
from ..inference.detector import Detector
from ..models import create_model, get_model_spec
from ..utils.atomic import atomic_path, write_json
from .calibrate import calibrate
from .callbacks import BestModelTracker, Callback, Checkpointer, EarlyStopping, HistoryWriter
from . import distributed
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig

BEST_WEIGHTS = "best.safetensors"


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR multiplier: linear warm-up, then cosine decay to 1% of the peak."""

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _param_groups(model: nn.Module, weight_decay: float):
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _classifier_params(model: nn.Module) -> set[int]:
    get_classifier = getattr(model, "get_classifier", None)
    return {id(p) for p in get_classifier().parameters()} if get_classifier else set()


class Trainer:
    def __init__(self, config: TrainConfig, callbacks: list[Callback] | None = None, resume: bool = False, quiet: bool = False):
        self.config = config
        self.run_dir = Path(config.out)
        self.resume = resume
        self.quiet = quiet
        self.should_stop = False
        self.callbacks = (callbacks or []) + [BestModelTracker(), EarlyStopping(config.patience), HistoryWriter(), Checkpointer()]
        self.state: dict = {"epoch": 0, "step": 0, "history": [], "best_score": -math.inf, "best_epoch": 0,
                            "skipped_images": 0, "train_seconds": 0.0, "images_seen": 0, "unreadable": []}

    # ------------------------------------------------------------------ set-up
    def log(self, message: str) -> None:
        if not self.quiet and distributed.is_main():
            tqdm.write(message)

    def _prepare_run_dir(self) -> None:
        cfg_path = self.run_dir / "config.json"
        if self.resume:
            if not cfg_path.is_file():
                raise RunDirError(f"{self.run_dir}: nothing to resume (no config.json)")
            saved = TrainConfig.from_dict(json.loads(cfg_path.read_text()))
            # What may change on resume: how long to train and how to run; never the data or the model.
            for key in ("epochs", "num_workers", "threads", "patience", "max_steps_per_epoch", "max_val_batches"):
                setattr(saved, key, getattr(self.config, key))
            saved.out = str(self.run_dir)
            self.config = saved
        elif latest_checkpoint(self.run_dir) or (self.run_dir / "detector.json").exists():
            raise RunDirError(f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --out")
        self.config.world_size = distributed.world_size()  # batch_size is per process: the global batch is both
        if distributed.is_main():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_json(cfg_path, self.config.to_dict())

    def _prepare_data(self) -> None:
        cfg = self.config
        self.sources = [SourceSpec.parse(d) for d in cfg.data]
        self.from_shards = len(cfg.data) == 1 and is_shard_dir(cfg.data[0])
        split_csv = self.run_dir / "split.csv"
        if self.resume and split_csv.is_file():
            samples, splits = read_split_csv(split_csv)
            if len(self.sources) == 1 and not samples[0].source:  # a run from before multi-source training
                samples = [dataclasses.replace(s, source=self.sources[0].name) for s in samples]
        elif self.from_shards:  # `fakelens shard` fixed the split; _shard_data streams its training part
            samples, splits = read_shard_split(cfg.data[0], cfg.per_class)
            samples = [dataclasses.replace(s, source=self.sources[0].name) for s in samples]
            if distributed.is_main():
                write_split_csv(split_csv, samples, splits)
        else:
            # Each source is split by its own groups first; only then is the per-class subset drawn
            # from the training part, so every run on a source is validated and tested on the same groups.
            samples, splits = split_sources(self.sources, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.per_class, not self.quiet)
            if distributed.is_main():
                write_split_csv(split_csv, samples, splits)
        self.splits = {name: [s for s, sp in zip(samples, splits) if sp == name] for name in ("train", "val", "test")}
        for name in ("train", "val"):
            labels = {s.label for s in self.splits[name]}
            if labels != {0, 1}:
                raise DataError(f"the {name} split has only {'/'.join(map(str, labels)) or 'no'} labels; use more data or other fractions")
        spec = get_model_spec(cfg.model)
        self.preprocess = dataclasses.replace(spec.preprocess, image_size=cfg.image_size or spec.preprocess.image_size)
        items, weights = training_draws(self.splits["train"], self.sources, cfg.sbi)
        draws = cfg.samples_per_epoch or len(self.splits["train"])
        self.train_loader = make_loader(TrainingDataset(items, train_transform(self.preprocess, cfg.aug_strength, cfg.framing_jitter), cfg.seed),
                                        cfg.batch_size, True, cfg.num_workers, seed=cfg.seed, drop_last=draws > cfg.batch_size,
                                        sampler=weighted_sampler(weights, draws, cfg.seed))
        self.val_loader = make_loader(FaceCropDataset(self.splits["val"], eval_transform(self.preprocess)), cfg.batch_size * 2, False, cfg.num_workers)

    def _shard_data(self) -> None:
        """Each rank reads its own part of the data: tar shards stream the training split; torchrun shards the loaders."""
        cfg = self.config
        if self.from_shards:  # tar shards: the dataset itself splits them across ranks and workers
            shards = ShardDataset(cfg.data[0], train_transform(self.preprocess, cfg.aug_strength, cfg.framing_jitter), seed=cfg.seed)
            self.train_loader = make_loader(shards, cfg.batch_size, False, cfg.num_workers, drop_last=len(shards) > cfg.batch_size)
        self.train_loader = distributed.shard_loader(self.train_loader, cfg.seed)
        self.val_loader = distributed.shard_loader(self.val_loader, cfg.seed)

    def _prepare_model(self) -> None:
        cfg = self.config
        self.spec = get_model_spec(cfg.model)
        use_pretrained = cfg.pretrained and self.spec.pretrainable and not self.resume and not cfg.init_weights
        torch.manual_seed(cfg.seed)  # the initial weights too: the same config gives the same model
        self.model = create_model(cfg.model, pretrained=use_pretrained, pretrained_file=cfg.pretrained_file if use_pretrained else None)
        if cfg.init_weights and not self.resume:
            init = Detector.from_dir(cfg.init_weights, backend="torch")
            if init.model_name != cfg.model:
                raise ValueError(f"--init-weights run has model {init.model_name}, not {cfg.model}")
            self.model.load_state_dict(init.model.state_dict())
        # channels_last runs convolutions about 10% faster on CPU (oneDNN's native layout).
        self.model = self.model.to(device=self.device, memory_format=torch.channels_last)
        self.steps_per_epoch = len(self.train_loader) if cfg.max_steps_per_epoch is None else min(len(self.train_loader), cfg.max_steps_per_epoch)
        total = self.steps_per_epoch * cfg.epochs
        lr = cfg.resolved_lr(self.spec.pretrainable)
        self.optimizer = torch.optim.AdamW(_param_groups(self.model, cfg.weight_decay), lr=lr)
        warmup = int(cfg.warmup_epochs * self.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_cosine(total, warmup))
        self.criterion = nn.BCEWithLogitsLoss()

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
    def _set_frozen(self, frozen: bool) -> None:
        keep = _classifier_params(self.model)
        if not keep:
            return
        for p in self.model.parameters():
            p.requires_grad_(not frozen or id(p) in keep)

    def _train_epoch(self, epoch: int) -> dict:
        cfg = self.config
        frozen = epoch <= cfg.freeze_epochs and self.spec.pretrainable
        self._set_frozen(frozen)
        self.model.train()
        if frozen:  # a frozen backbone keeps its ImageNet batch-norm statistics
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        model = distributed.wrap_model(self.model)  # DDP under torchrun (wrapped after freezing: frozen weights sync no grads)
        distributed.set_epoch(self.train_loader, epoch)
        torch.manual_seed(distributed.rank_seed(cfg.seed * 1000 + epoch))
        if hasattr(self.train_loader.dataset, "epoch"):  # augmentations seeded by epoch and item, the same on every rank
            self.train_loader.dataset.epoch = epoch
        sampler_generator = getattr(self.train_loader.sampler, "generator", None)
        if sampler_generator is not None:  # epoch k draws the same items whether or not the run was resumed in between
            sampler_generator.manual_seed(cfg.seed * 1000 + epoch)
        unreadable: list[str] = []
        total_loss, seen, correct = 0.0, 0, 0
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch}/{cfg.epochs}" + (" (frozen)" if frozen else ""), unit="batch", disable=self.quiet or not distributed.is_main())
        for step, (x, y, _, bad) in enumerate(self.train_loader):
            if step >= self.steps_per_epoch:
                break
            unreadable += _sample_paths(self.train_loader.dataset, bad)
            if x is None:
                continue
            x, y = x.to(self.device), y.to(self.device)
            target = y * (1 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
            logits = model(x.contiguous(memory_format=torch.channels_last)).reshape(-1)
            loss = self.criterion(logits, target)
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
        self._set_frozen(False)
        # every rank logs the same numbers: the sums over all ranks
        total_loss, seen, correct = distributed.all_reduce_sum(total_loss, seen, correct)
        seen = int(seen)
        # every rank's unreadable files (rank 0's bookkeeping is what the other ranks receive after the callbacks)
        self._note_unreadable(distributed.all_gather_list(unreadable))
        self.state["images_seen"] += seen
        return {"train_loss": total_loss / max(seen, 1), "train_accuracy": correct / max(seen, 1)}

    def _validate(self) -> tuple[dict, np.ndarray, np.ndarray]:
        self.model.eval()
        distributed.broadcast_state(self.model)  # validate (and so choose and calibrate) rank 0's model, the saved one
        logits, labels, indices, unreadable = collect_logits(lambda x: self.model(x.to(self.device)).reshape(-1).float().cpu().numpy(),
                                                             self.val_loader, self.config.max_val_batches, desc="validate")
        logits, labels, _ = distributed.gather_predictions(logits, labels, indices)  # metrics over every rank's part
        self._note_unreadable(distributed.all_gather_list(_sample_paths(self.val_loader.dataset, unreadable)))
        probs = 1 / (1 + np.exp(-logits))
        m = compute_metrics(labels, probs, 0.5)
        return {"val_loss": m["log_loss"], "val_accuracy": m["accuracy"], "val_roc_auc": m["roc_auc"]}, logits, labels

    def fit(self) -> dict:
        # torchrun: the processes on a machine share its cores
        torch.set_num_threads(self.config.threads or max(1, (os.cpu_count() or 1) // distributed.local_world_size()))
        random.seed(self.config.seed)
        np.random.seed(self.config.seed)
        self.device = distributed.device()
        self._prepare_run_dir()
        self._prepare_data()
        self._shard_data()
        self._prepare_model()
        self._restore()
        # Callbacks run on rank 0 only (they write the run folder); what they decide is broadcast.
        for cb in self.callbacks if distributed.is_main() else []:
            cb.on_fit_start(self)
        self.log(f"training {self.config.model} on {len(self.splits['train'])} images "
                 f"(val {len(self.splits['val'])}, test {len(self.splits['test'])}) -> {self.run_dir}")
        while self.state["epoch"] < self.config.epochs and not self.should_stop and not self._stopped_early():
            epoch = self.state["epoch"] + 1
            start = time.time()
            logs = {"epoch": epoch, **self._train_epoch(epoch)}
            logs.update(self._validate()[0])
            self.state["train_seconds"] += time.time() - start
            logs["seconds"] = round(time.time() - start, 1)
            self.state["epoch"] = epoch
            self.state["history"].append(logs)
            self.log(f"epoch {epoch}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items() if k != "epoch"))
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

    # ---------------------------------------------------------------- finalise
    def finalize(self) -> dict:
        """Best weights -> calibration on val -> detector in the run folder -> test metrics."""
        from safetensors.torch import load_file

        from ..evaluation.evaluate import evaluate_run

        best = self.run_dir / BEST_WEIGHTS
        if distributed.is_main() and best.is_file():  # _validate broadcasts them to the other ranks
            self.model.load_state_dict(load_file(str(best)))
        if not distributed.is_main():
            return {}  # rank 0 calibrates, saves and tests the detector
        detector = Detector(self.model.cpu(), self.config.model, self.preprocess)
        # The separate calibrate step: TTA chosen on validation, then temperature, threshold and
        # verdict bands fitted with that setting, on every source's validation part.
        fitted = calibrate(detector, self.splits["val"], num_workers=self.config.num_workers)
        info = {
            "trained_on": [src.model_dump() for src in self.sources],
            "train_images": len(self.splits["train"]),
            "best_epoch": self.state["best_epoch"],
            "epochs_run": self.state["epoch"],
            "train_minutes": round(self.state["train_seconds"] / 60, 2),
            "train_images_seen": self.state["images_seen"],
            "skipped_unreadable": self.state["skipped_images"],
            "val": fitted["val"],
            "calibration": {k: v for k, v in fitted.items() if k != "val"},
        }
        detector.info = info
        detector.save(self.run_dir)
        temperature, threshold = detector.temperature, detector.threshold
        metrics = {"model": self.config.model, "val": info["val"], "temperature": temperature, "threshold": threshold}
        if self.splits["test"]:
            metrics["test"] = evaluate_run(self.run_dir, num_workers=self.config.num_workers, backend="torch")
        write_json(self.run_dir / "metrics.json", metrics)
        test = metrics.get("test", {})
        self.log(f"done: test accuracy={test.get('accuracy')}, ROC-AUC={test.get('roc_auc')}; detector saved in {self.run_dir}")
        return metrics


def _sample_paths(dataset, indices) -> list[str]:
    """The files behind sample indices (tar shards have no file per sample: their keys stand in)."""
    samples = getattr(dataset, "samples", None)
    return [samples[i].path if samples is not None else f"shard sample {i}" for i in indices]


def train(config: TrainConfig, resume: bool = False, quiet: bool = False) -> dict:
    """Train and return the test metrics; under ``torchrun`` every rank calls this (only rank 0 gets the metrics)."""
    with distributed.process_group():
        return Trainer(config, resume=resume, quiet=quiet).fit()
