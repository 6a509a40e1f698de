"""torch.distributed for the trainer: one process per device, launched by ``torchrun``.

``torchrun --nproc-per-node N -m fakelens train ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous variables; :func:`process_group` reads them and
joins the group (gloo on CPU, NCCL on GPU). Everything else here is a small
question or collective the trainer asks: ``is_main()`` (rank 0, the only one
that writes), ``world_size()``, ``barrier()``, the gathered validation set, a
``DistributedSampler`` for the training loader, a seed per rank.

Without a process group every helper answers as a single process would
(rank 0 of 1), so the trainer has one code path.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler, Sampler, SequentialSampler

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# A large prime: per-rank seeds never collide with the next epoch's (seeds step by 1 per epoch).
_RANK_SEED_STRIDE = 1_000_003


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes the run folder."""
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def device() -> torch.device:
    """This rank's device: its GPU under NCCL (``LOCAL_RANK``), else the CPU."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@contextlib.contextmanager
def process_group() -> Iterator[bool]:
    """Join torchrun's process group for the duration of the block (nothing to do without torchrun).

    Yields whether the block runs distributed. A group made elsewhere (a test's
    ``init_process_group``) is used as it is and left open. On the way out every
    rank waits for the others (rank 0 calibrates and tests alone) before the group
    is destroyed; after an error it is destroyed at once.
    """
    if is_distributed() or not launched_by_torchrun():
        yield is_distributed()
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    try:
        yield True
    except BaseException:
        dist.destroy_process_group()  # no barrier: the other ranks may never reach one
        raise
    # The ranks leave together: a rank that tore its group down while rank 0 still
    # calibrated and tested (non-zero ranks finish first) was seen to abort in gloo's
    # teardown ("terminate called without an active exception", exit -6).
    dist.barrier()
    dist.destroy_process_group()


def local_world_size() -> int:
    """Processes on this machine (they share its cores)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", world_size())) if is_distributed() else 1


def rank_seed(seed: int) -> int:
    """A different seed on each rank for augmentation (rank 0 keeps ``seed``, so one process is unchanged)."""
    return seed + _RANK_SEED_STRIDE * rank()


# ---------------------------------------------------------------------------- the model
def wrap_model(model: nn.Module) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed, else ``model`` itself.

    Wrap after choosing which parameters train (a frozen backbone's are left
    out of the gradient all-reduce); the wrapper broadcasts rank 0's weights.
    """
    if world_size() == 1:
        return model
    dev = device()
    return nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def broadcast_state(module: nn.Module) -> None:
    """Rank 0's weights and buffers on every rank.

    DDP keeps the weights equal but each rank's batch-norm statistics follow its
    own batches; validating with rank 0's (the ones it saves) keeps the gathered
    metrics those of the saved model.
    """
    if world_size() == 1:
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


# ----------------------------------------------------------------------------- the data
class DistributedSamplerWrapper(Sampler):
    """Shards any sampler's indices across ranks, like ``DistributedSampler`` does a dataset's.

    Every rank draws the whole list the wrapped sampler gives one process and
    keeps every ``world_size``-th index (padded by repetition so that every rank
    takes the same number of steps). The ranks agree on the list because they
    seed alike: a sampler with its own ``generator`` (e.g. a
    ``WeightedRandomSampler``) is seeded by its owner, reachable here as
    ``.generator``; one that draws from the global RNG gets ``seed + epoch``.
    """

    def __init__(self, sampler: Sampler, seed: int = 0):
        self.sampler, self.seed, self.epoch = sampler, seed, 0
        self.num_replicas, self.rank = world_size(), rank()
        self.num_samples = -(-len(sampler) // self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    @property
    def generator(self):
        return getattr(self.sampler, "generator", None)

    def __iter__(self):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + self.epoch)
            indices = list(self.sampler)
        indices += indices[: self.num_samples * self.num_replicas - len(indices)]
        return iter(indices[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


def shard_loader(loader: DataLoader, seed: int = 0) -> DataLoader:
    """The same loader, each rank reading its own part of the dataset.

    A shuffled or sequential loader gets a ``DistributedSampler`` (the same
    permutation on every rank, each taking every ``world_size``-th index); any
    other sampler is wrapped by :class:`DistributedSamplerWrapper`. An
    ``IterableDataset`` (tar shards) splits itself across ranks and is kept.

    A shuffled loader gets the ``DistributedSampler`` in one process too: its
    order then depends on ``seed`` and the epoch only, so 1 and N processes see
    the same global batches and a resumed run the same order as an uninterrupted one.
    """
    if isinstance(loader.dataset, IterableDataset):
        return loader
    if world_size() == 1 and not isinstance(loader.sampler, RandomSampler):
        return loader  # nothing to shard; a shuffled loader still takes DistributedSampler's per-epoch order
    if isinstance(loader.sampler, (RandomSampler, SequentialSampler)):
        sampler = DistributedSampler(
            loader.dataset, num_replicas=world_size(), rank=rank(), shuffle=isinstance(loader.sampler, RandomSampler), seed=seed
        )
    else:
        sampler = DistributedSamplerWrapper(loader.sampler, seed)
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        drop_last=loader.drop_last,
        persistent_workers=loader.persistent_workers,
        prefetch_factor=loader.prefetch_factor if loader.num_workers else None,
        # the workers' random augmentations differ between ranks
        generator=torch.Generator().manual_seed(rank_seed(seed)),
    )


def set_epoch(loader: DataLoader, epoch: int) -> None:
    """Reshuffle a sharded loader for ``epoch`` (its sampler or its iterable dataset); a no-op otherwise."""
    for part in (loader.sampler, loader.dataset):
        if hasattr(part, "set_epoch"):
            part.set_epoch(epoch)


# -------------------------------------------------------------------------- collectives
def all_reduce_sum(*values: float) -> tuple[float, ...]:
    """Sums of scalars over all ranks (training loss, images seen)."""
    if world_size() == 1:
        return tuple(values)
    t = torch.tensor(values, dtype=torch.float64, device=device())
    dist.all_reduce(t)
    return tuple(t.cpu().tolist())


def all_gather_arrays(array: np.ndarray) -> list[np.ndarray]:
    """Every rank's array, in rank order; lengths may differ (``all_gather_object`` pickles them)."""
    if world_size() == 1:
        return [array]
    gathered: list = [None] * world_size()
    dist.all_gather_object(gathered, np.asarray(array))
    return gathered


def all_gather_list(items) -> list:
    """Every rank's items in one list, in rank order (unreadable image paths)."""
    if world_size() == 1:
        return list(items)
    gathered: list = [None] * world_size()
    dist.all_gather_object(gathered, list(items))
    return [item for part in gathered for item in part]


def gather_predictions(logits: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole validation set's logits and labels from every rank's part, in dataset order.

    ``DistributedSampler`` pads the last ranks with repeated samples; they are
    dropped by index, so the metrics are those of one process over the full set.
    """
    if world_size() == 1:
        return logits, labels, indices
    parts = all_gather_arrays(np.stack([logits, labels.astype(np.float64), indices.astype(np.float64)]))
    stacked = np.concatenate(parts, axis=1)
    idx, first = np.unique(stacked[2].astype(np.int64), return_index=True)
    return stacked[0, first], stacked[1, first].astype(labels.dtype), idx


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (the bookkeeping its callbacks changed)."""
    if world_size() == 1:
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
