"""Leakage-free, seeded train/val/test splits by group, and balanced subsets."""
from __future__ import annotations

import csv
import os
from collections import defaultdict

import numpy as np

from ..errors import DataError
from ..utils.atomic import write_csv
from .sources import FAKE, REAL, Sample, parse_label

SPLITS = ("train", "val", "test")


def sample_per_class(samples: list[Sample], per_class: int | None, seed: int = 0) -> list[Sample]:
    """A balanced random subset with at most ``per_class`` images of each class.

    Whole groups are drawn so that a fake and the real it was made from come
    together (groups then split cleanly), until each class has its quota.
    """
    if not per_class:
        return list(samples)
    by_group: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_group[s.group].append(s)
    rng = np.random.default_rng(seed)
    groups = sorted(by_group)
    rng.shuffle(groups)
    taken = {REAL: 0, FAKE: 0}
    chosen: list[Sample] = []
    for g in groups:
        for s in by_group[g]:
            if taken[s.label] < per_class:
                taken[s.label] += 1
                chosen.append(s)
        if taken[REAL] >= per_class and taken[FAKE] >= per_class:
            break
    return sorted(chosen, key=lambda s: s.path)


def split_by_group(samples: list[Sample], val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> list[str]:
    """Assign each sample to train/val/test so that no group is on two sides.

    Groups are shuffled with a seeded generator and cut by cumulative image
    count, so the fractions hold in images, not only in groups.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(f"split fractions must be in [0, 1) with val + test < 1 (got {val_fraction}, {test_fraction})")
    sizes: dict[str, int] = defaultdict(int)
    for s in samples:
        sizes[s.group] += 1
    groups = sorted(sizes)
    np.random.default_rng(seed).shuffle(groups)
    total = len(samples)
    assignment: dict[str, str] = {}
    seen = 0
    for g in groups:
        position = seen / max(total, 1)
        assignment[g] = "test" if position < test_fraction else "val" if position < test_fraction + val_fraction else "train"
        seen += sizes[g]
    return [assignment[s.group] for s in samples]


def write_split_csv(path: str | os.PathLike, samples: list[Sample], splits: list[str]) -> None:
    rows = ({"path": s.path, "label": s.label, "group": s.group, "split": sp, "source": s.source} for s, sp in zip(samples, splits))
    write_csv(path, rows, ["path", "label", "group", "split", "source"])


def read_split_csv(path: str | os.PathLike) -> tuple[list[Sample], list[str]]:
    samples, splits = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            samples.append(Sample(row["path"], parse_label(row["label"], f"{path} line {i}"), row["group"], row.get("source") or ""))
            if row["split"] not in SPLITS:
                raise DataError(f"{path} line {i}: unknown split {row['split']!r}")
            splits.append(row["split"])
    return samples, splits
