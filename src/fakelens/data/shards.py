"""WebDataset-style tar shards of a dataset's training split, streamed by every rank.

``fakelens shard DATA --out SHARDS/`` splits DATA by group exactly as ``fakelens
train`` does and writes

* ``train-000000.tar``, ``train-000001.tar``, ...: the training split, shuffled,
  each sample as consecutive tar members ``<key>.jpg`` (the image file's bytes
  as they are, under the extension of the format they decode as: ``.png`` etc.),
  ``<key>.cls`` (``0`` REAL, ``1`` FAKE) and ``<key>.group``: the WebDataset
  convention, so the ``webdataset`` package and other tools read them too;
* ``split.csv``: every sample and its side (validation and test are read from
  their original files: they are small and evaluation needs paths);
* ``shard_report.csv``: the training files refused, and why (not a regular
  file, above :data:`MAX_MEMBER_BYTES`, not an image);
* ``shards.json``: the shard names and sample counts, written last, so a folder
  that has it is complete.

Shards may come from someone else, so reading trusts none of them: only plain
members up to :data:`MAX_MEMBER_BYTES` are read (sparse, link and device members
are skipped with a warning), a sample needs an image and a label of 0 or 1, and
``shards.json`` may only name tars in its own folder.

``fakelens train --data SHARDS/`` then streams the training split from the tars
(:class:`ShardDataset`): each rank reads its own shards, and each data-loader
worker its own part of those, so no image is opened by two processes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import stat
import tarfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from ..errors import DataError, ImageReadError, UnsafePathError
from ..imaging.imageio import COPYABLE_FORMATS, image_file_extension, open_image
from ..labels import FAKE, REAL
from ..sources import Sample
from ..utils.atomic import atomic_path, write_csv, write_json
from ..utils.paths import safe_child
from .split import read_split_csv, write_split_csv

INDEX_FILE, SPLIT_FILE, REPORT_FILE = "shards.json", "split.csv", "shard_report.csv"
#: The extensions an image member of a sample may have.
IMAGE_MEMBER_EXTENSIONS = frozenset(COPYABLE_FORMATS.values()) | {"jpeg"}
#: Largest tar member read or written (bytes): far above any face image, and what one sample may cost in memory.
MAX_MEMBER_BYTES = 32 * 2**20

logger = logging.getLogger(__name__)


def is_shard_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / INDEX_FILE).is_file()


def write_shards(
    data: str | os.PathLike,
    out: str | os.PathLike,
    samples_per_shard: int = 1000,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_method: str = "hash",
) -> dict:
    """Shard ``data``'s training split into ``out``; returns the index that ``shards.json`` holds."""
    if samples_per_shard < 1:
        raise ValueError("samples_per_shard must be at least 1")
    out = Path(out)
    if is_shard_dir(out):
        raise DataError(f"{out} already holds shards; choose another --out")
    from .multisource import SourceSpec, sample_keys, split_sources

    # the split `fakelens train --data DATA` makes (near-duplicate groups included)
    spec = SourceSpec.parse(data)
    samples, splits = split_sources([spec], val_fraction, test_fraction, seed, None, False, method=split_method)
    train = [s for s, sp in zip(samples, splits) if sp == "train"]
    # Shuffled before writing: a stream through a few shards then mixes classes and groups.
    random.Random(seed).shuffle(train)
    out.mkdir(parents=True, exist_ok=True)
    shards, refused = [], []
    for start in range(0, len(train), samples_per_shard):
        name = f"train-{len(shards):06d}.tar"
        written = _write_tar(safe_child(out, name), train[start : start + samples_per_shard], first_key=start, refused=refused)
        shards.append({"name": name, "samples": written})
    write_split_csv(out / SPLIT_FILE, samples, splits, sample_keys(samples, [spec]))
    write_csv(out / REPORT_FILE, refused, ["path", "error"])
    if train and len(refused) == len(train):
        raise DataError(f"{data}: none of the {len(train)} training files could go into a shard; see {out / REPORT_FILE}")
    index = {
        "source": str(data),
        "seed": seed,
        "split_method": split_method,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "train_samples": sum(s["samples"] for s in shards),
        "refused": len(refused),
        "shards": shards,
    }
    write_json(out / INDEX_FILE, index)
    return index


def _write_tar(path: Path, samples: list[Sample], first_key: int, refused: list[dict]) -> int:
    """Write ``samples`` to the tar ``path``; the refused ones go to ``refused`` (path, error). Returns the number written."""

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o444  # mtime 0 and no owner: the same data gives the same bytes
        tar.addfile(info, io.BytesIO(data))

    written = 0
    with atomic_path(path) as tmp, tarfile.open(tmp, "w") as tar:
        for k, s in enumerate(samples, start=first_key):
            try:
                data, ext = _sample_image(s)
            except DataError as exc:
                refused.append({"path": s.path, "error": str(exc)})
                continue
            key = f"{k:09d}"
            add(tar, f"{key}.{ext}", data)
            add(tar, f"{key}.cls", str(s.label).encode())
            add(tar, f"{key}.group", s.group.encode())
            written += 1
    return written


def _sample_image(sample: Sample) -> tuple[bytes, str]:
    """A training sample's image bytes and the extension of its format, or :class:`DataError` saying why it is refused.

    A manifest may name any file: only a regular file of at most :data:`MAX_MEMBER_BYTES` that decodes as an
    image goes into a shard (``/etc/passwd`` or a FIFO does not), under the extension of what it is, with a 0/1 label.
    """
    if sample.label not in (REAL, FAKE):
        raise DataError(f"{sample.path}: label {sample.label!r} is neither 0 (REAL) nor 1 (FAKE)")
    try:
        info = os.stat(sample.path)
    except OSError as exc:
        raise DataError(f"{sample.path}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{sample.path}: not a regular file")
    if info.st_size > MAX_MEMBER_BYTES:
        raise DataError(f"{sample.path}: {info.st_size:,} bytes, above the {MAX_MEMBER_BYTES:,}-byte limit per sample")
    with open(sample.path, "rb") as fh:
        data = fh.read(MAX_MEMBER_BYTES + 1)
    try:
        return data, image_file_extension(data, sample.path)
    except ImageReadError as exc:
        raise DataError(f"not an image for a shard: {exc}") from None


def read_shard_split(path: str | os.PathLike, per_class: int | None = None) -> tuple[list[Sample], list[str]]:
    """The split that ``fakelens shard`` fixed (the shards are the training part)."""
    if per_class:
        raise DataError(f"{path}: --per-class does not apply to shards; shard a smaller dataset instead")
    return read_split_csv(Path(path) / SPLIT_FILE)


def iter_tar_samples(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, bytes]]]:
    """``(key, {extension: bytes})`` per sample, in tar order (a sample's members are consecutive).

    Only plain files of at most :data:`MAX_MEMBER_BYTES` are read; any other
    member (see :func:`member_refusal`) is skipped with a warning, never read,
    and so is a sample without a numeric key, an image or a ``.cls`` of 0 or 1
    (see :func:`sample_refusal`): a shard may come from someone else.
    """

    def complete(stem: str, fields: dict[str, bytes]) -> Iterator[tuple[int, dict[str, bytes]]]:
        refusal = sample_refusal(stem, fields)
        if refusal:
            logger.warning("%s: sample %r skipped: %s", path, stem, refusal)
        else:
            yield int(stem), fields

    key, fields = None, {}
    with tarfile.open(path, "r|") as tar:  # streaming: no seeks, so any file system (or a pipe) will do
        for member in tar:
            refusal = member_refusal(member)
            if refusal:
                if not member.isdir():
                    logger.warning("%s: member %r skipped: %s", path, member.name, refusal)
                continue
            stem, _, ext = member.name.rpartition("/")[2].partition(".")
            if stem != key and fields:
                yield from complete(key, fields)
                fields = {}
            key = stem
            fields[ext] = tar.extractfile(member).read()
    if fields:
        yield from complete(key, fields)


def sample_refusal(key: str, fields: dict[str, bytes]) -> str | None:
    """Why a sample read from a shard is not used (None: it has a numeric key, an image and a label of 0 or 1)."""
    if not key.isascii() or not key.isdigit():
        return "its key is not a number"
    if "cls" not in fields:
        return "no .cls member (its label)"
    if fields["cls"].strip() not in (b"0", b"1"):
        return f"its .cls is {fields['cls'][:20]!r}, neither 0 (REAL) nor 1 (FAKE)"
    if not any(ext in IMAGE_MEMBER_EXTENSIONS for ext in fields):
        return f"no image member (found: {', '.join(sorted(fields))})"
    return None


def member_refusal(member: tarfile.TarInfo) -> str | None:
    """Why a tar member is not read (None: it is a plain file small enough to read).

    A GNU or PAX sparse member stores a few bytes and a size of its choosing:
    reading it returns that many bytes (the holes as zeros), so a 10 KB member
    can claim 2 GiB. Links and devices are no sample's data.
    """
    if member.issparse():
        return f"a sparse file claiming {member.size:,} bytes"
    if member.issym() or member.islnk():
        return f"a link (to {member.linkname!r})"
    if member.ischr() or member.isblk() or member.isfifo():
        return "a device or FIFO"
    if not member.isfile():
        return "not a regular file"
    if member.size > MAX_MEMBER_BYTES:
        return f"{member.size:,} bytes, above the {MAX_MEMBER_BYTES:,}-byte limit per member"
    return None


def read_index(folder: str | os.PathLike) -> tuple[list[tuple[Path, int]], int]:
    """``([(tar path, samples), ...], training samples)`` from ``folder/shards.json``.

    The index may only name tars inside ``folder`` (resolved: no ``..``, no absolute
    path, no symbolic link out): a shard folder from someone else cannot send the
    reader to any other file.
    """
    where = Path(folder) / INDEX_FILE
    try:
        index = json.loads(where.read_text(encoding="utf-8"))
        entries = [(str(s["name"]), int(s["samples"])) for s in index["shards"]]
        total = int(index["train_samples"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{where}: not a readable shard index ({exc.__class__.__name__}: {exc})") from None
    shards = []
    for name, count in entries:
        try:
            tar = safe_child(folder, name)
        except UnsafePathError as exc:
            raise DataError(f"{where}: shard {exc}") from None
        if not tar.is_file():
            raise DataError(f"{where}: shard {name!r} is missing")
        shards.append((tar, count))
    return shards, total


class ShardDataset(IterableDataset):
    """The training split streamed from tar shards, split across ranks and data-loader workers.

    Every epoch the shard order is shuffled with ``seed + epoch`` (the same on
    every rank); rank ``r`` takes every ``world_size``-th shard and its loader
    workers share those. An epoch is ``train_samples // world_size`` samples on
    every rank (a rank whose shards hold fewer goes round them again), so
    every rank takes the same number of steps, as DDP needs. Samples go
    through a seeded shuffle buffer; an unreadable image yields (None, None, key) (the
    collate function skips and counts it).
    """

    def __init__(self, path: str | os.PathLike, transform: Callable, seed: int = 0, shuffle_buffer: int = 512):
        self.path, self.transform, self.seed, self.shuffle_buffer = Path(path), transform, seed, shuffle_buffer
        self.shards, self.total = read_index(self.path)
        self.epoch = 0

    @staticmethod
    def _rank_world() -> tuple[int, int]:
        return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.total // self._rank_world()[1]

    def __iter__(self):
        rank, world = self._rank_world()
        if len(self.shards) < world:
            raise DataError(f"{self.path}: {len(self.shards)} shard(s) for {world} ranks; shard with a smaller --samples-per-shard")
        worker = get_worker_info()
        wid, workers = (worker.id, worker.num_workers) if worker else (0, 1)
        order = list(range(len(self.shards)))
        random.Random(self.seed + self.epoch).shuffle(order)
        mine = [self.shards[i][0] for i in order[rank::world]]
        quota = len(self) // workers + (wid < len(self) % workers)
        if len(mine) >= workers:  # whole shards per worker
            mine, keep = mine[wid::workers], lambda k: True
        else:  # fewer shards than workers: every worker reads them, each keeps its own samples
            keep = lambda k: k % workers == wid  # noqa: E731
        rng = random.Random((self.seed + self.epoch) * 1_000_003 + rank * 1009 + wid)
        buffer: list = []
        for item in self._cycle(mine, keep, quota):
            buffer.append(item)
            if len(buffer) >= self.shuffle_buffer:
                yield self._decode(*buffer.pop(rng.randrange(len(buffer))))
        rng.shuffle(buffer)
        for item in buffer:
            yield self._decode(*item)

    @staticmethod
    def _cycle(shards: list[Path], keep: Callable[[int], bool], quota: int) -> Iterator[tuple[int, dict]]:
        """Exactly ``quota`` kept samples, going round ``shards`` as often as needed."""
        given = 0
        while given < quota:
            before = given
            for shard in shards:
                for key, fields in iter_tar_samples(shard):
                    if keep(key):
                        yield key, fields
                        given += 1
                        if given == quota:
                            return
            if given == before:  # nothing to give: never spin
                return

    def _decode(self, key: int, fields: dict[str, bytes]):
        image_ext = next((e for e in fields if e in IMAGE_MEMBER_EXTENSIONS), None)
        try:
            image = open_image(fields[image_ext]) if image_ext else None
        except ImageReadError:
            image = None
        if image is None:
            return None, None, key
        # The same random training transform as TrainingDataset, seeded alike: (seed, epoch, item).
        rng = np.random.default_rng([self.seed, self.epoch, key])
        return torch.from_numpy(self.transform(np.asarray(image), rng)), int(fields["cls"]), key
