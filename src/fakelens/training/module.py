"""The model side of training (Lightning's ``LightningModule`` idea): what to train and how one step scores it.

The module builds the network (ImageNet weights, ``init_weights`` or random,
seeded by the config), its optimiser and schedule, and answers the small
questions the loop asks: the loss of a batch, validation logits, which
epochs keep the backbone frozen. The loop itself (order, seeds, devices,
checkpoints, ranks) is :class:`~fakelens.training.trainer.Trainer`'s.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from ..evaluation.evaluate import collect_logits
from ..inference.detector import Detector
from ..models import create_model, get_model_spec
from ..sources import Sample
from .config import TrainConfig
from .datamodule import model_input
from .distill import Distiller


def warmup_cosine(total_steps: int, warmup_steps: int):
    """LR multiplier: linear warm-up, then cosine decay to 1% of the peak."""

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only, not on biases and norm scales."""
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _classifier_params(model: nn.Module) -> set[int]:
    get_classifier = getattr(model, "get_classifier", None)
    return {id(p) for p in get_classifier().parameters()} if get_classifier else set()


class DetectorModule:
    """A zoo model with one FAKE logit, built for ``config`` on ``device``.

    ``resume``: the weights will come from a checkpoint, so neither ImageNet
    weights nor ``init_weights`` are loaded.
    """

    def __init__(self, config: TrainConfig, device: torch.device | str = "cpu", resume: bool = False):
        self.config = config
        self.device = torch.device(device)
        self.spec = get_model_spec(config.model)
        use_pretrained = config.pretrained and self.spec.pretrainable and not resume and not config.init_weights
        torch.manual_seed(config.seed)  # the initial weights too: the same config gives the same model
        model = create_model(config.model, pretrained=use_pretrained, pretrained_file=config.pretrained_file if use_pretrained else None)
        if config.init_weights and not resume:
            init = Detector.from_dir(config.init_weights, backend="torch")
            if init.model_name != config.model:
                hint = ""
                if get_model_spec(init.model_name).family == "fusion":  # the bundled default is one
                    hint = f": it is a fusion; `fakelens unfuse {config.init_weights} --out DIR` gives its members as runs to start from"
                raise ConfigError(f"--init-weights run has model {init.model_name}, not {config.model}{hint}")
            model.load_state_dict(init.model.state_dict())
        # channels_last runs convolutions about 10% faster on CPU (oneDNN's native layout).
        self.model = model.to(device=self.device, memory_format=torch.channels_last)
        self.criterion = nn.BCEWithLogitsLoss()
        self.distiller = None
        if config.distill_from:  # the teacher scores the batches the data module feeds: the same input is checked
            self.distiller = Distiller.from_run(
                config.distill_from, model_input(config), config.distill_sources, config.distill_weight, self.device
            )

    def configure_optimizers(self, steps_per_epoch: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        """AdamW and its per-step schedule: warm-up over ``warmup_epochs``, cosine decay over all ``epochs``."""
        cfg = self.config
        optimizer = torch.optim.AdamW(param_groups(self.model, cfg.weight_decay), lr=cfg.resolved_lr(self.spec.pretrainable))
        warmup = int(cfg.warmup_epochs * steps_per_epoch)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps_per_epoch * cfg.epochs, warmup))
        return optimizer, scheduler

    # ------------------------------------------------------------------ hooks
    def is_frozen(self, epoch: int) -> bool:
        """The first ``freeze_epochs`` epochs train only the classifier of a transfer model."""
        return epoch <= self.config.freeze_epochs and self.spec.pretrainable

    def set_frozen(self, frozen: bool) -> None:
        keep = _classifier_params(self.model)
        if not keep:
            return
        for p in self.model.parameters():
            p.requires_grad_(not frozen or id(p) in keep)

    def on_train_epoch_start(self, epoch: int) -> bool:
        """Freeze (or not) and switch to training mode; returns whether the backbone is frozen."""
        frozen = self.is_frozen(epoch)
        self.set_frozen(frozen)
        self.model.train()
        if frozen:  # a frozen backbone keeps its ImageNet batch-norm statistics
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return frozen

    def on_train_epoch_end(self) -> None:
        self.set_frozen(False)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], net: nn.Module | None = None, samples: list[Sample] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss (label-smoothed BCE) and the logits of a batch already on the device.

        ``net`` runs the forward pass in place of ``self.model`` (its DDP wrapper under torchrun).
        ``samples``: what each item is (its source, self-blended or not), for the ``distill_from`` teacher.
        """
        x, y = batch
        smoothing = self.config.label_smoothing
        target = y * (1 - smoothing) + 0.5 * smoothing
        if self.distiller is not None:
            if samples is None:
                raise ValueError("distill_from needs each item's sample (tar shards do not carry their source)")
            target = self.distiller.targets(x, target, samples)
        logits = (self.model if net is None else net)(x.contiguous(memory_format=torch.channels_last)).reshape(-1)
        return self.criterion(logits, target), logits

    def validation_logits(self, loader, max_batches: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """Raw logits over ``loader`` in eval mode: (logits, labels, sample indices, indices of unreadable samples)."""
        self.model.eval()
        return collect_logits(
            lambda x: self.model(x.to(self.device)).reshape(-1).float().cpu().numpy(), loader, max_batches, desc="validate"
        )
