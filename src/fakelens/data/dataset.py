"""Streaming datasets: images are read from disk by worker processes."""
from __future__ import annotations

from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ImageReadError
from .imageio import open_image
from .sources import Sample


class FaceCropDataset(Dataset):
    """Face-crop images and labels; an unreadable image yields ``None`` (skipped in the batch)."""

    def __init__(self, samples: list[Sample], transform: Callable):
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        try:
            image = open_image(sample.path)
        except ImageReadError:
            return None
        return self.transform(image), sample.label, index


def collate_skip_unreadable(batch):
    """Stack the readable items; report how many were skipped."""
    good = [item for item in batch if item is not None]
    skipped = len(batch) - len(good)
    if not good:
        return None, None, None, skipped
    images = torch.stack([g[0] for g in good])
    labels = torch.tensor([g[1] for g in good], dtype=torch.float32)
    indices = torch.tensor([g[2] for g in good], dtype=torch.long)
    return images, labels, indices, skipped


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, num_workers: int, seed: int = 0, drop_last: bool = False) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate_skip_unreadable,
        generator=generator,
        drop_last=drop_last,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
