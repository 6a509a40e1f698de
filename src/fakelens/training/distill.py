"""Learning without Forgetting (Li & Hoiem, 2016): a trained detector teaches while new sources are added.

A detector fine-tuned on new sources drifts away from what it knew (the
six-source default lost about 0.006 DFDC AUC against the DFDC-only model it
started from; a model trained without GAN faces forgets them within a few
epochs). The remedy used here: on the stored images of chosen sources (e.g.
``dfdc``), the student's target mixes the label with the teacher's P(FAKE) for
the same augmented input, so the old knowledge stays in the loss while the new
sources pull elsewhere. Self-blended images are never distilled: the teacher
may not know them, and their label is certain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from ..errors import ConfigError
from ..imaging.preprocess import PreprocessConfig
from ..inference.detector import Detector
from ..sources import Sample


class Distiller:
    """The teacher's P(FAKE) as part of the target, on the stored images of ``sources`` (all when empty).

    ``weight`` in [0, 1] is the teacher's share of the target; the teacher sees
    exactly the student's input tensor, so it must take the same preprocessing.
    """

    def __init__(self, teacher: nn.Module, sources: Sequence[str] = (), weight: float = 0.5):
        if not 0.0 <= weight <= 1.0:
            raise ConfigError(f"distill_weight must be in [0, 1], not {weight}")
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.sources = frozenset(sources)
        self.weight = float(weight)

    @classmethod
    def from_run(
        cls, folder: str, preprocess: PreprocessConfig, sources: Sequence[str] = (), weight: float = 0.5, device: torch.device | str = "cpu"
    ) -> "Distiller":
        """The teacher from a run or detector folder (its safetensors weights, never pickled code)."""
        teacher = Detector.from_dir(folder, backend="torch")
        if teacher.preprocess != preprocess:
            raise ConfigError(
                f"distill_from {folder}: its input ({teacher.preprocess}) differs from the student's ({preprocess}); "
                "the teacher scores the student's own batches"
            )
        model = teacher.model.to(device=torch.device(device), memory_format=torch.channels_last)
        return cls(model, sources, weight)

    def mask(self, samples: Sequence[Sample]) -> torch.Tensor:
        """Which items of a batch get the teacher's target: stored images of the chosen sources."""
        return torch.tensor([not s.kind and (not self.sources or s.source in self.sources) for s in samples], dtype=torch.bool)

    @torch.no_grad()
    def targets(self, x: torch.Tensor, target: torch.Tensor, samples: Sequence[Sample]) -> torch.Tensor:
        """``target`` with the chosen items moved ``weight`` of the way to the teacher's P(FAKE).

        The BCE of the mixed target equals ``(1 - w) * BCE(label) + w * BCE(teacher)`` (it is linear in the target).
        """
        keep = self.mask(samples).to(x.device)
        if not keep.any():
            return target
        soft = torch.sigmoid(self.teacher(x[keep].contiguous(memory_format=torch.channels_last)).reshape(-1).float())
        mixed = target.clone()
        mixed[keep] = (1 - self.weight) * target[keep] + self.weight * soft
        return mixed
