"""The model study: one config per zoo model, trained, evaluated and compared.

Each run resumes where it stopped and a finished one is skipped, so the study
can be spread over several sessions of a slow CPU (or moved to a GPU machine).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tqdm.auto import tqdm

from ..evaluation.compare import compare_runs
from ..models import get_model_spec
from ..models.pretrained import hub_reachable
from ..utils.rundir import RunDir
from .checkpoint import latest_checkpoint
from .config import RANDOM_INIT_KEY, TrainConfig, read_config_file
from .trainer import Trainer


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    name: str
    train: TrainConfig
    random_init_overrides: dict


def load_configs(folder: str | os.PathLike, only: list[str] | None = None) -> list[StudyConfig]:
    files = sorted(Path(folder).glob("*.yaml")) + sorted(Path(folder).glob("*.yml"))
    configs = []
    for f in files:
        cfg = TrainConfig.from_file(f)
        overrides = read_config_file(f).get(RANDOM_INIT_KEY) or {}
        TrainConfig.from_dict({**cfg.to_dict(), **overrides})  # unknown keys fail here, before any training
        if only and f.stem not in only and cfg.model not in only:
            continue
        configs.append(StudyConfig(f.stem, cfg, overrides))
    if not configs:
        raise FileNotFoundError(f"no study configs (*.yaml) in {folder}" + (f" matching {only}" if only else ""))
    return configs


def _with_pretrained(cfg: TrainConfig, pretrained_dir: str | None, random_init_overrides: dict | None = None) -> tuple[TrainConfig, str]:
    """Where this run's ImageNet weights come from; random init when none can be had offline.

    A random backbone gains nothing from frozen epochs, so those are dropped, and the config's
    ``without_imagenet`` options (if any) replace the rest.
    """
    spec = get_model_spec(cfg.model)
    if not spec.pretrainable or not cfg.pretrained:
        return cfg, "scratch" if not spec.pretrainable else "random"
    if cfg.pretrained_file:
        return cfg, f"file {cfg.pretrained_file}"
    if pretrained_dir:
        for ext in (".safetensors", ".pth", ".pt"):
            candidate = Path(pretrained_dir) / f"{cfg.model}{ext}"
            if candidate.is_file():
                return dataclasses.replace(cfg, pretrained_file=str(candidate)), f"file {candidate}"
    if spec.weights_wheel or hub_reachable():
        return cfg, "imagenet"
    fallback = {"freeze_epochs": 0, **(random_init_overrides or {}), "pretrained": False}
    return TrainConfig.from_dict({**cfg.to_dict(), **fallback}), "random (no ImageNet weights offline)"


def run_study(
    config_dir: str | os.PathLike,
    data: str,
    out: str | os.PathLike,
    only: list[str] | None = None,
    pretrained_dir: str | None = None,
    quiet: bool = False,
) -> list[dict]:
    out = Path(out)
    runs = []
    configs = load_configs(config_dir, only)
    for study_cfg in tqdm(configs, desc="study", unit="model", disable=quiet):
        name = study_cfg.name
        run_dir = out / name
        cfg = dataclasses.replace(study_cfg.train, data=data or study_cfg.train.data, out=str(run_dir))
        cfg, init = _with_pretrained(cfg, pretrained_dir, study_cfg.random_init_overrides)
        if RunDir(run_dir).metrics.is_file() and RunDir(run_dir).detector_config.is_file():
            tqdm.write(f"{name}: finished earlier, skipped")
        else:
            resume = latest_checkpoint(run_dir) is not None
            tqdm.write(f"{name}: {'resuming' if resume else 'training'} {cfg.model} (init: {init})")
            Trainer(cfg, resume=resume, quiet=quiet).fit()
        runs.append(run_dir)
    return compare_runs(runs, out / "leaderboard")
