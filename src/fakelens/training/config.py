"""Training hyper-parameters, stored exactly as given (scikit-learn style)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from ..errors import ConfigError, RunDirError
from ..utils.rundir import RunDir

# A study config may hold this mapping: the options that replace the others when a transfer model
# has to start from random weights (see training/study.py).
RANDOM_INIT_KEY = "without_imagenet"


# Validated on construction: a wrong type or an unknown key fails at once with the option's name,
# not later inside the optimiser (``lr: 3e-4`` in YAML is read as a string by PyYAML and converted here).
@dataclass(config=ConfigDict(extra="forbid", validate_assignment=False))
class TrainConfig:
    data: list[str] = Field(
        description=(
            "a training source: a Kaggle layout folder, real/+fake/ folders, a CSV manifest, a source YAML (configs/data/*.yaml: "
            "layout, labels, groups, weight, sbi), or a folder of tar shards ('fakelens shard'); repeat for several sources"
        )
    )
    model: str = Field("efficientnet_lite0", description="zoo model name (see 'fakelens models')")
    out: str = Field("runs/run", description="run folder")
    epochs: int = Field(10, ge=1, description="epochs to train (with --resume: the total to reach)")
    batch_size: int = Field(32, ge=1, description="images per step, per process")
    image_size: int | None = Field(None, ge=16, le=1024, description="square input size (default: the model's)")
    lr: float | None = Field(None, gt=0, description="peak learning rate (default: 3e-4 for transfer models, 2e-3 from scratch)")
    weight_decay: float = Field(0.05, ge=0, description="AdamW weight decay")
    warmup_epochs: float = Field(0.5, ge=0, description="linear warm-up before the cosine schedule, in epochs")
    label_smoothing: float = Field(0.05, ge=0, lt=0.5, description="label smoothing of the binary targets")
    freeze_epochs: int = Field(0, ge=0, description="epochs with the backbone frozen (transfer models)")
    pretrained: bool = Field(True, description="ImageNet weights for transfer models (--no-pretrained: random init)")
    pretrained_file: str | None = Field(None, description="ImageNet weights file (.safetensors/.pth) for the backbone")
    init_weights: str | None = Field(None, description="start from the weights of a trained run folder")
    per_class: int | None = Field(
        None, ge=1, description=("balanced subset of the training split: at most N images per class (val and test stay whole)")
    )
    val_fraction: float = Field(0.1, gt=0, lt=1, description="share of groups for validation")
    test_fraction: float = Field(0.1, ge=0, lt=1, description="share of groups for test")
    seed: int = Field(0, description="seed of the draws and the augmentations")
    # Apart from `seed` since session 31: a continuation with a new draw seed gave the images no earlier split held
    # other sides than its parent had, so its validation side held faces the parent trained on.
    split_seed: int = Field(
        0,
        description="seed of the group split (images no --split-from split holds); apart from --seed, so runs that draw differently split alike",
    )
    split_method: Literal["hash", "shuffle"] = Field(
        "hash",
        description=(
            "how groups go to train/val/test: hash (a re-import moves only the changed groups) or shuffle (the defaults up to v3)"
        ),
    )
    split_from: str | None = Field(
        None,
        description=(
            "an earlier run folder or split.csv: the images it saw keep its sides (with --init-weights' split.csv: an image either trained on stays in training)"
        ),
    )
    aug_strength: float = Field(
        0.5, ge=0, le=1, description=("0 (flips only) .. 1 (strong): JPEG 30-100, rescaling, noise, blur, social-media chain")
    )
    patience: int = Field(4, ge=0, description="early stopping patience in epochs (0: off)")
    num_workers: int = Field(1, ge=0, description="data-loader worker processes")
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap an epoch (small budgets, smoke runs)")
    max_val_batches: int | None = Field(None, ge=1, description="cap validation (small budgets, smoke runs)")
    threads: int | None = Field(None, ge=1, description="PyTorch threads (default: every core)")
    sbi: float = Field(
        0.0, ge=0, le=1, description=("share of each source's fakes drawn as self-blended reals (a source YAML may set its own)")
    )
    samples_per_epoch: int | None = Field(None, ge=1, description="draws per epoch across all sources (default: the training images)")
    framing_jitter: float = Field(0.15, ge=0, le=1, description="largest relative change of a crop's framing in training")
    cue_chain: float = Field(
        0.0,
        ge=0,
        le=1,
        description=("probability that a training face of either class is shrunk to 64-96 px and saved at JPEG 30-95 (cue hygiene)"),
    )
    roll: float = Field(
        0.0,
        ge=0,
        le=1,
        description="probability that a training face of either class is turned by up to 30 degrees (corners black or mirrored)",
    )
    skin_smoothing: float = Field(
        0.0,
        ge=0,
        le=1,
        description="probability that a training face of either class goes through a beauty mode's skin smoothing (cue hygiene)",
    )
    level_noise: float = Field(
        0.0,
        ge=0,
        le=1,
        description="probability that a training face of either class gets faint noise (sd 0.5-2 grey levels) at the model's "
        "input size, after the resize (cue hygiene: one-level differences stop moving the verdict)",
    )
    align: bool = Field(
        False, description="level the eyes and normalise the face's scale before the model, at training and in the shipped detector"
    )
    # Learning without Forgetting (training/distill.py): a trained run whose P(FAKE) on the stored images of
    # ``distill_sources`` (every source when empty) is ``distill_weight`` of the target.
    distill_from: str | None = Field(
        None,
        description=(
            "a trained run whose P(FAKE) stays part of the target (Learning without Forgetting), on the images of --distill-source"
        ),
    )
    distill_sources: list[str] = Field(
        default_factory=list, description=("a source (by name) the teacher speaks for; repeat for several (default: every source)")
    )
    distill_weight: float = Field(0.5, ge=0, le=1, description="the teacher's share of the target, 0..1")
    world_size: int = Field(1, ge=1, description="processes that trained (set by the trainer under torchrun); batch_size is per process")

    @field_validator("data", mode="before")
    @classmethod
    def _one_or_more_sources(cls, value):
        if isinstance(value, (str, Path)):
            return [str(value)] if str(value) else []
        return value

    def resolved_lr(self, transfer: bool) -> float:
        return self.lr if self.lr is not None else (3e-4 if transfer else 2e-3)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        try:
            return cls(**d)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid training option(s): {problems}") from None

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> "TrainConfig":
        """Read a YAML/JSON config; ``overrides`` fill in or replace its values (e.g. ``data``).

        A study config's ``without_imagenet`` section only applies inside ``fakelens study``.
        """
        raw = read_config_file(path)
        raw.pop(RANDOM_INIT_KEY, None)
        return cls.from_dict({"data": "", **raw, **overrides})


def read_config_file(path: str | Path) -> dict:
    """A YAML or JSON file of training options; :class:`ConfigError` (one line) when it cannot be read as a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.__class__.__name__}: {exc})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        from ..utils.yaml_text import yaml_error_line

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {yaml_error_line(exc)}") from None
    else:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of training options (option: value), not a {type(raw).__name__}")
    return raw


def resume_options(run_dir: str | Path, given: dict) -> dict:
    """The options a resumed run trains with: its saved ``config.json``, then what was ``given`` again.

    A kill followed by ``fakelens train --out RUN --resume`` must reach the run's own end, not the defaults' (a
    resume without ``--epochs`` once trained a 4-epoch run on to 10 and dropped its epoch-4 checkpoint).
    :func:`fakelens.training.trainer.resume` is the one caller.
    """
    saved = RunDir(run_dir).train_config
    if not saved.is_file():
        raise RunDirError(f"{run_dir}: nothing to resume (no config.json)")
    return {**read_config_file(saved), **given}
