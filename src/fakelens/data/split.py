"""Leakage-free, seeded train/val/test splits by group, and balanced subsets.

Two ways to put groups on sides:

* ``hash`` (new runs): a group's side comes from a seeded hash of its name
  alone. Adding, dropping or regrouping a few images (a re-import, a changed
  crop) moves only those groups, so the split rebuilds on another machine.
  The fractions hold in groups, and in images on average.
* ``shuffle`` (runs before it, the DFDC-only and six-source defaults): groups
  are shuffled and cut by cumulative image count, so the fractions hold in
  images exactly; but one changed group reshuffles the whole source.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from ..errors import DataError
from ..labels import FAKE, REAL
from ..sources import Sample, parse_label
from ..utils.atomic import write_csv

SPLITS = ("train", "val", "test")
#: Where a face seen on several sides must go: the earliest (a face trained on is never validated on, one
#: calibrated on never tested on); continued runs and fusions both follow it.
SIDE_RANK = {side: i for i, side in enumerate(SPLITS)}
SPLIT_METHODS = ("hash", "shuffle")


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
    _check_fractions(val_fraction, test_fraction)
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


def split_by_group_hash(samples: list[Sample], val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> list[str]:
    """Assign each sample to train/val/test by a seeded hash of its group's name (no group on two sides)."""
    _check_fractions(val_fraction, test_fraction)

    def side(group: str) -> str:
        digest = hashlib.blake2b(f"{seed}:{group}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"

    sides = {g: side(g) for g in {s.group for s in samples}}
    return [sides[s.group] for s in samples]


def split_by(method: str, samples: list[Sample], val_fraction: float, test_fraction: float, seed: int) -> list[str]:
    if method == "hash":
        return split_by_group_hash(samples, val_fraction, test_fraction, seed)
    if method == "shuffle":
        return split_by_group(samples, val_fraction, test_fraction, seed)
    raise DataError(f"unknown split method {method!r} (expected one of {', '.join(SPLIT_METHODS)})")


def earliest_sides(sides: Sequence[Mapping[Hashable, str]]) -> dict[Hashable, str]:
    """Several runs' ``key -> side`` as one: each image on the earliest side any gave it (train, then val, then test).

    An image one run trained on is no validation face for a run that follows or joins it, and one a run was
    calibrated on is no test face.
    """
    merged: dict[Hashable, str] = {}
    for own in sides:
        for key, side in own.items():
            if key not in merged or SIDE_RANK[side] < SIDE_RANK[merged[key]]:
                merged[key] = side
    return merged


def keep_earlier_sides(samples: list[Sample], splits: list[str], keys: Sequence[Hashable], earlier: Mapping[Hashable, str]) -> list[str]:
    """``splits`` with each group moved to the side an earlier run gave its images (``earlier``: key -> side).

    A group with any image the earlier run trained on goes to train; otherwise
    one with an earlier validation image to val, one with only earlier test
    images to test. Groups the earlier run never saw keep their side. So a run
    continued from an earlier one is never validated or tested on what that run learnt.
    """
    inherited: dict[str, str] = {}
    for s, key in zip(samples, keys):
        side = earlier.get(key)
        if side is not None and (s.group not in inherited or SIDE_RANK[side] < SIDE_RANK[inherited[s.group]]):
            inherited[s.group] = side
    return [inherited.get(s.group, sp) for s, sp in zip(samples, splits)]


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(f"split fractions must be in [0, 1) with val + test < 1 (got {val_fraction}, {test_fraction})")


def write_split_csv(path: str | os.PathLike, samples: list[Sample], splits: list[str], keys: list[str] | None = None) -> None:
    """``split.csv``; ``keys`` (a path relative to its source's folder) lets another machine match the images."""
    rows = [{"path": s.path, "label": s.label, "group": s.group, "split": sp, "source": s.source} for s, sp in zip(samples, splits)]
    fields = ["path", "label", "group", "split", "source"]
    if keys is not None:
        for row, key in zip(rows, keys):
            row["key"] = key
        fields.append("key")
    write_csv(path, rows, fields)


def read_split_csv(path: str | os.PathLike) -> tuple[list[Sample], list[str]]:
    samples, splits = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            samples.append(Sample(row["path"], parse_label(row["label"], f"{path} line {i}"), row["group"], row.get("source") or ""))
            if row["split"] not in SPLITS:
                raise DataError(f"{path} line {i}: unknown split {row['split']!r}")
            splits.append(row["split"])
    return samples, splits
