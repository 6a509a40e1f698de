"""Training hyper-parameters, stored exactly as given (scikit-learn style)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from ..errors import ConfigError


# A study config may hold this mapping: the options that replace the others when a transfer model
# has to start from random weights (see training/study.py).
RANDOM_INIT_KEY = "without_imagenet"


# Validated on construction: a wrong type or an unknown key fails at once with the option's name,
# not later inside the optimiser (``lr: 3e-4`` in YAML is read as a string by PyYAML and converted here).
@dataclass(config=ConfigDict(extra="forbid", validate_assignment=False))
class TrainConfig:
    # One or more sources: dataset folders/manifests or source YAMLs (configs/data/*.yaml).
    data: list[str]
    model: str = "efficientnet_lite0"
    out: str = "runs/run"
    epochs: int = 10
    batch_size: int = 32
    image_size: int | None = None  # None: the model's default
    lr: float | None = None  # None: 3e-4 for transfer models, 2e-3 from scratch
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5
    label_smoothing: float = 0.05
    freeze_epochs: int = 0
    pretrained: bool = True
    pretrained_file: str | None = None
    init_weights: str | None = None  # start from a trained run's weights (e.g. to continue in a later session)
    per_class: int | None = None
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    split_method: Literal["hash", "shuffle"] = "hash"  # how groups go to sides (data/split.py); the defaults up to v3 used shuffle
    split_from: str | None = None  # an earlier run (or its split.csv) whose sides the images it saw keep; default: init_weights'
    aug_strength: float = 0.5
    patience: int = 4
    num_workers: int = 1
    max_steps_per_epoch: int | None = None  # cap an epoch (small budgets, smoke runs)
    max_val_batches: int | None = None
    threads: int | None = None
    sbi: float = 0.0  # share of each source's fakes drawn as self-blended reals (a source's YAML may set its own)
    samples_per_epoch: int | None = None  # None: as many draws as training images
    framing_jitter: float = 0.15  # largest relative change of a crop's framing in training
    # cue hygiene: the probability that a training face (either class) is shrunk to 64-96 px and JPEG 30-95 (data/perturb.py)
    cue_chain: float = 0.0
    # Learning without Forgetting (training/distill.py): a trained run whose P(FAKE) on the stored images of
    # ``distill_sources`` (every source when empty) is ``distill_weight`` of the target.
    distill_from: str | None = None
    distill_sources: list[str] = dataclasses.field(default_factory=list)
    distill_weight: float = 0.5
    world_size: int = 1  # processes that trained (set by the trainer; torchrun); batch_size is per process

    @field_validator("data", mode="before")
    @classmethod
    def _one_or_more_sources(cls, value):
        if isinstance(value, (str, Path)):
            return [str(value)] if str(value) else []
        return value

    @field_validator("distill_weight", "cue_chain")
    @classmethod
    def _a_share(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError("must be in [0, 1]")
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
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(path.read_text()) or {}
    return json.loads(path.read_text())
