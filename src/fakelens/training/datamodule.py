"""The data side of training (Lightning's ``LightningDataModule`` idea): sources -> split -> loaders.

The split is made once and written to ``split.csv`` (by rank 0); a resumed
run and :func:`~fakelens.training.finalize.finalize_run` re-read it, so the
validation and test groups never move. The loaders come sharded for torchrun:
each rank reads its own part (tar shards split themselves).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from torch.utils.data import DataLoader

from ..data.dataset import FaceCropDataset, TrainingDataset, make_loader, weighted_sampler
from ..data.multisource import (
    SourceSpec,
    pseudo_fake_donors,
    read_earlier_sides,
    sample_keys,
    source_record,
    source_record_changes,
    split_sources,
    training_draws,
)
from ..data.shards import ShardDataset, is_shard_dir, read_shard_split
from ..data.split import earliest_sides, read_split_csv, write_split_csv
from ..data.transforms import eval_transform, train_transform
from ..errors import ConfigError, DataError
from ..imaging.preprocess import PreprocessConfig
from ..models import get_model_spec
from ..utils.atomic import write_json
from ..utils.rundir import RunDir
from . import distributed
from .config import TrainConfig

SPLITS = ("train", "val", "test")


def model_input(config: TrainConfig) -> PreprocessConfig:
    """The input the trained model takes: its zoo preprocessing at ``image_size`` (the model's own when unset)."""
    spec = get_model_spec(config.model)
    return dataclasses.replace(spec.preprocess, image_size=config.image_size or spec.preprocess.image_size, align=config.align)


def replays_draws_of(config: TrainConfig) -> Path | None:
    """The ``init_weights`` run whose draws this run would repeat, else None.

    The weighted sampler and the augmentations are seeded by ``seed`` alone, so a run continued from another with the
    same seed, the same sources (compared by what their specs say, not by where the YAML lives) and the same draws per
    epoch meets its parent's training faces again in the very same order and form.
    """
    if not config.init_weights:
        return None
    parent_run = RunDir(config.init_weights)
    if not parent_run.train_config.is_file():
        return None
    try:
        parent = TrainConfig.from_file(parent_run.train_config)
        # what the parent trained on: its sources.json, else its YAMLs as they read now
        before = (
            json.loads(parent_run.sources.read_text())
            if parent_run.sources.is_file()
            else source_record([SourceSpec.parse(d) for d in parent.data])
        )
        same_sources = not source_record_changes(before, source_record([SourceSpec.parse(d) for d in config.data]))
    except (ValueError, OSError):  # a parent whose config no longer reads (ConfigError, DataError): nothing to compare
        return None
    same = parent.seed == config.seed and parent.samples_per_epoch == config.samples_per_epoch and same_sources
    return Path(config.init_weights) if same else None


class FaceDataModule:
    """``setup()`` fixes the split; ``train_dataloader()`` and ``val_dataloader()`` read it."""

    def __init__(self, config: TrainConfig, run_dir: str | Path, resume: bool = False, quiet: bool = False):
        self.config = config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.quiet = quiet
        self.sources: list[SourceSpec] = []
        self.splits: dict[str, list] = {}
        self.preprocess = None

    @property
    def from_shards(self) -> bool:
        return len(self.config.data) == 1 and is_shard_dir(self.config.data[0])

    def setup(self) -> None:
        cfg = self.config
        self.sources = [SourceSpec.parse(d) for d in cfg.data]
        self._keep_sources_as_they_were()
        split_csv = RunDir(self.run_dir).split
        if self.resume and split_csv.is_file():
            samples, splits = read_split_csv(split_csv)
            if len(self.sources) == 1 and not samples[0].source:  # a run from before multi-source training
                samples = [dataclasses.replace(s, source=self.sources[0].name) for s in samples]
        elif self.from_shards:  # `fakelens shard` fixed the split; train_dataloader streams its training part
            samples, splits = read_shard_split(cfg.data[0], cfg.per_class)
            samples = [dataclasses.replace(s, source=self.sources[0].name) for s in samples]
            if distributed.is_main():
                write_split_csv(split_csv, samples, splits)
        else:
            # Each source is split by its own groups first; only then is the per-class subset drawn
            # from the training part, so every run on a source is validated and tested on the same groups.
            earlier = [read_earlier_sides(path, self.sources) for path in self._earlier_splits()]
            samples, splits = split_sources(
                self.sources,
                cfg.val_fraction,
                cfg.test_fraction,
                cfg.split_seed,
                cfg.per_class,
                not self.quiet,
                method=cfg.split_method,
                earlier=earliest_sides(earlier) if earlier else None,
            )
            if distributed.is_main():
                write_split_csv(split_csv, samples, splits, sample_keys(samples, self.sources))
        self.splits = {name: [s for s, sp in zip(samples, splits) if sp == name] for name in SPLITS}
        for name in ("train", "val"):
            labels = {s.label for s in self.splits[name]}
            if labels != {0, 1}:
                raise DataError(f"the {name} split has only {'/'.join(map(str, labels)) or 'no'} labels; use more data or other fractions")
        self.preprocess = model_input(cfg)

    def _keep_sources_as_they_were(self) -> None:
        """A resumed run trains on what its source YAMLs said when it started (``sources.json``), or stops."""
        record, saved = source_record(self.sources), RunDir(self.run_dir).sources
        if self.resume and saved.is_file():
            changes = source_record_changes(json.loads(saved.read_text()), record)
            if changes:
                raise ConfigError(
                    f"{self.run_dir}: its sources changed since it started ({'; '.join(changes)}); "
                    f"put them back as {saved} records them, or train a new run"
                )
        elif distributed.is_main():  # a new run, or one from before sources.json: keep what it trains on from now on
            write_json(saved, record)

    def _earlier_splits(self) -> list[Path]:
        """The split.csv files whose sides carry over: ``split_from`` and that of the run the weights come from.

        Both, merged by :func:`~fakelens.data.split.earliest_sides`: a ``split_from`` that holds fewer images than the
        parent run (the bundled split, before a source grew) must not put on validation what the parent trained on.
        """
        cfg, paths = self.config, []
        if cfg.split_from:
            path = Path(cfg.split_from)
            found = RunDir(path).split_file() if path.is_dir() else path if path.is_file() else None
            if found is None:
                raise DataError(f"split_from: {path} is neither a split.csv nor a folder with one")
            paths.append(found)
        parent = RunDir(cfg.init_weights).split_file() if cfg.init_weights else None
        if parent is not None and all(parent.resolve() != p.resolve() for p in paths):
            paths.append(parent)
        return paths

    def train_dataloader(self) -> DataLoader:
        """Weighted draws over the sources (tar shards: the shards in stream order), this rank's part of them."""
        cfg = self.config
        transform = train_transform(
            self.preprocess, cfg.aug_strength, cfg.framing_jitter, cfg.cue_chain, cfg.roll, cfg.skin_smoothing, cfg.level_noise
        )
        if self.from_shards:  # tar shards: the dataset itself splits them across ranks and workers
            shards = ShardDataset(cfg.data[0], transform, seed=cfg.seed)
            loader = make_loader(shards, cfg.batch_size, False, cfg.num_workers, drop_last=len(shards) > cfg.batch_size)
        else:
            items, weights = training_draws(self.splits["train"], self.sources, cfg.sbi)
            draws = cfg.samples_per_epoch or len(self.splits["train"])
            dataset = TrainingDataset(items, transform, cfg.seed, self._pseudo_fake_maker())
            loader = make_loader(
                dataset,
                cfg.batch_size,
                True,
                cfg.num_workers,
                seed=cfg.seed,
                drop_last=draws > cfg.batch_size,
                sampler=weighted_sampler(weights, draws, cfg.seed),
            )
        return distributed.shard_loader(loader, cfg.seed)

    def _pseudo_fake_maker(self):
        """The maker of the ``pseudo_fake`` sources' fakes (68-point landmarks: dlib), or None when no source asks for one."""
        if not any(spec.is_pseudo_fake for spec in self.sources):
            return None
        from ..data.pseudofake import PseudoFakeMaker

        donors = pseudo_fake_donors(self.splits["train"], self.sources)
        maker = PseudoFakeMaker(donors)
        # every real a pseudo-fake source blends is also a donor: their landmarks, once per run (kept for --resume)
        maker.warm([s.path for pool in donors.values() for s in pool], self.run_dir / "landmarks68.npz", progress=not self.quiet)
        return maker

    def val_dataloader(self) -> DataLoader:
        cfg = self.config
        loader = make_loader(
            FaceCropDataset(self.splits["val"], eval_transform(self.preprocess)), cfg.batch_size * 2, False, cfg.num_workers
        )
        return distributed.shard_loader(loader, cfg.seed)
