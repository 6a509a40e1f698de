"""Streaming datasets: images are read from disk by worker processes."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, WeightedRandomSampler

from ..errors import ImageReadError
from ..imaging.imageio import load_image
from ..labels import FAKE
from ..sources import Sample


class FaceCropDataset(Dataset):
    """Face crops through ``transform`` (a path -> tensor function, e.g. the predict-time path).

    An unreadable image yields ``(None, None, index)`` (skipped in the batch and reported).
    """

    def __init__(self, samples: list[Sample], transform: Callable):
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            x = self.transform(sample.path)
        except ImageReadError:
            return None, None, index
        return x, sample.label, index


class TrainingDataset(Dataset):
    """Training samples through a random :class:`~fakelens.data.transforms.TrainTransform`.

    A sample of kind ``sbi`` is a real face turned into a self-blended
    pseudo-fake on the fly (a new blend every epoch), labelled FAKE; one of
    kind ``pf:<family>`` goes through ``pseudo_fakes`` (a
    :class:`~fakelens.data.pseudofake.PseudoFakeMaker`) the same way. Each
    item's random generator is seeded from ``seed``, the epoch (set by the
    trainer before each epoch) and the index alone, so a run is repeatable,
    epochs differ, and one process or N (torchrun) augment an item alike.
    """

    def __init__(
        self,
        samples: list[Sample],
        transform: Callable[[np.ndarray, np.random.Generator], np.ndarray],
        seed: int = 0,
        pseudo_fakes: Callable[[Sample, np.ndarray, np.random.Generator], np.ndarray] | None = None,
    ):
        self.samples = samples
        self.transform = transform
        self.pseudo_fakes = pseudo_fakes
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        from .sbi import self_blend

        sample = self.samples[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        try:
            rgb = load_image(sample.path)
        except ImageReadError:
            return None, None, index
        if sample.kind == "sbi":
            rgb = self_blend(rgb, rng)
        elif sample.kind:
            if self.pseudo_fakes is None:
                raise ValueError(f"a {sample.kind} sample needs the dataset's pseudo_fakes maker")
            rgb = self.pseudo_fakes(sample, rgb, rng)
        return torch.from_numpy(self.transform(rgb, rng)), FAKE if sample.kind else sample.label, index


def collate_skip_unreadable(batch):
    """Stack the readable items; the last element lists the indices of the unreadable ones."""
    good = [item for item in batch if item[0] is not None]
    skipped = [item[2] for item in batch if item[0] is None]
    if not good:
        return None, None, None, skipped
    images = torch.stack([g[0] for g in good])
    labels = torch.tensor([g[1] for g in good], dtype=torch.float32)
    indices = torch.tensor([g[2] for g in good], dtype=torch.long)
    return images, labels, indices, skipped


def weighted_sampler(weights: np.ndarray, num_samples: int, seed: int = 0) -> WeightedRandomSampler:
    """Draw ``num_samples`` per epoch with probability proportional to ``weights`` (with replacement)."""
    return WeightedRandomSampler(
        torch.as_tensor(weights, dtype=torch.double), int(num_samples), replacement=True, generator=torch.Generator().manual_seed(seed)
    )


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int = 0,
    drop_last: bool = False,
    sampler: Sampler | None = None,
) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_skip_unreadable,
        generator=generator,
        drop_last=drop_last,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
