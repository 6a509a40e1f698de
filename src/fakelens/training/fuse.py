"""``fakelens fuse RUN_A RUN_B --out DIR``: trained runs -> one run folder of their fusion (:mod:`fakelens.models.fusion`).

The members' weights go into one ``model.safetensors`` with the mixing coefficients: member ``i``'s raw logit is
weighted by ``weight_i / temperature_i``, so the fusion mixes the members' calibrated logits (their test-time views
are dropped: one pass each). The weights are stored in half precision by default, which halves the file and its ONNX
export (computation stays in float32). The fused run has no calibration of its own yet: ``fakelens calibrate DIR``
fits it on the validation faces that no member trained on: the split of the member whose sides already keep every
other member's training images out of validation (the members' shared split, or that of a member continued on a grown
source); members whose splits need merging are refused.

``fakelens unfuse FUSED --out DIR`` goes the other way: each member back as a run folder of its own (its weights,
its temperature, the fusion's split), so a member can be continued (``--init-weights``), recalibrated or fused anew
on a machine that holds only the fused detector, such as the bundled default.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError, RunDirError
from ..models import create_model, get_model_spec, list_models
from ..utils.atomic import atomic_path, write_json
from ..utils.rundir import RunDir


def fusion_for(members: Sequence[tuple[str, int]], shrink: str = "float") -> str:
    """The registered fusion whose members are these (model, input size) pairs, in this order, shrunk by ``shrink``."""
    for name in list_models():
        spec = get_model_spec(name)
        kwargs = dict(spec.builder_kwargs) if spec.family == "fusion" else {}
        if kwargs and tuple(kwargs["members"]) == tuple(members) and kwargs["shrink"] == shrink:
            return name
    known = [n for n in list_models() if get_model_spec(n).family == "fusion"]
    raise ConfigError(
        f"no registered fusion of {list(members)} with shrink {shrink!r} (registered: {', '.join(known) or 'none'}; see fakelens.models.register_fusion)"
    )


def _covering_split(splits: Sequence[Path]) -> Path:
    """The members' split whose sides keep every image away from validation that any member trained on.

    Each image takes the earliest side any member gave it (train, then val, then test), the rule a continued run
    follows (:func:`~fakelens.data.split.keep_earlier_sides`): an image one member trained on is no validation face
    for the fusion, and one a member was calibrated on is no test face. A member never trained on an image its split
    does not list, so a member continued on a grown source (more images; the old ones on their old sides, or moved to
    train where a new near-copy joined groups) fuses with one that never saw the new images. The fusion takes the
    member split that already says all that, a plain ``split.csv`` first (it names the images on this machine; the
    bundled ``.gz`` only keys them); where none does, it is refused.
    """
    from ..data.multisource import read_earlier_sides
    from ..data.split import earliest_sides

    sides = [read_earlier_sides(s, []) for s in splits]
    merged = earliest_sides(sides)
    covering = [split for split, own in zip(splits, sides) if own == merged]
    if not covering:
        raise RunDirError(
            f"no member's split keeps every image that another member trained on out of validation and test "
            f"({', '.join(map(str, splits))}): the members put images on different sides"
        )
    return next((s for s in covering if s.suffix == ".csv"), covering[0])


def fuse_runs(
    runs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    weights: Sequence[float] | None = None,
    half: bool = True,
    shrink: str = "float",
) -> Path:
    """Write the fusion of ``runs`` (each a trained run folder) to ``out``; returns ``out``. ``shrink``: how a smaller
    member's input is made (:class:`~fakelens.models.fusion.LogitFusion`)."""
    from safetensors.torch import save_file

    from ..inference.detector import Detector
    from ..inference.detector_config import DetectorConfig, load_weights

    runs = [Path(r) for r in runs]
    if len(runs) < 2:
        raise ConfigError("fuse needs at least two runs")
    weights = [1.0 / len(runs)] * len(runs) if weights is None else [float(w) for w in weights]
    if len(weights) != len(runs) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"--weight: one non-negative weight per run, not all zero (got {weights} for {len(runs)} runs)")
    for run in runs:
        if not RunDir(run).is_trained():
            raise RunDirError(f"{run}: not a trained run (needs detector.json and model.safetensors)")
    configs = [DetectorConfig.load(RunDir(r).detector_config) for r in runs]
    if len({c.preprocess.align for c in configs}) != 1:
        raise ConfigError("the runs differ in face alignment (preprocess.align): a fusion takes one preprocessing")
    name = fusion_for([(c.model, c.preprocess.image_size) for c in configs], shrink)
    splits = [RunDir(r).split_file() for r in runs]
    if any(s is None for s in splits):
        raise RunDirError(f"{runs[splits.index(None)]}: no split.csv, so no validation faces the fusion can be calibrated on")
    split = _covering_split(splits)

    import torch

    model = create_model(name)
    for member, run, cfg in zip(model.members, runs, configs):
        load_weights(member, RunDir(run).weights, cfg.model)
    model.coef.copy_(torch.tensor([w / c.temperature for w, c in zip(weights, configs)]))
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().contiguous() for k, v in model.state_dict().items()}

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(RunDir(out).weights) as tmp:
        save_file(state, str(tmp), metadata={"model": name})
    with atomic_path(out / split.name) as tmp:
        shutil.copyfile(split, tmp)
    spec = get_model_spec(name)
    # what each member was, as the card and the next engineer need it (the member folders may change later)
    kept = ("train_minutes", "train_images_seen", "epochs_run", "best_epoch")
    members = [
        {"run": str(r), "model": c.model, "image_size": c.preprocess.image_size, "temperature": c.temperature, "weight": w}
        | {k: c.info[k] for k in kept if k in c.info}
        for r, c, w in zip(runs, configs, weights)
    ]
    info = {"fusion": {"members": members, "half_precision_weights": half}, "trained_on": configs[0].info.get("trained_on", [])}
    # detector.json as any detector writes it; uncalibrated (threshold 0.5, temperature 1) until `fakelens calibrate`
    preprocess = dataclasses.replace(spec.preprocess, align=configs[0].preprocess.align)
    write_json(RunDir(out).detector_config, Detector(None, name, preprocess, info=info).config())
    return out


def unfuse_run(fused: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write each member of the fused run ``fused`` to ``out/<i>-<model>-<size>``; returns those folders.

    A member folder holds the member's weights (in float32, as the fusion stored them), a ``detector.json`` with the
    member's temperature from the fusion's record of it and an uncalibrated threshold (``fakelens calibrate`` fits
    one), and the fusion's split, so its validation and test faces stay unseen by a continuation.
    """
    from safetensors.torch import save_file

    from ..inference.detector import Detector
    from ..inference.detector_config import DetectorConfig, load_weights

    fused = Path(fused)
    if not RunDir(fused).is_trained():
        raise RunDirError(f"{fused}: not a trained run (needs detector.json and model.safetensors)")
    cfg = DetectorConfig.load(RunDir(fused).detector_config)
    spec = get_model_spec(cfg.model)
    if spec.family != "fusion":
        raise ConfigError(f"{fused}: model {cfg.model} is not a fusion; only a fused run has members to take apart")
    members = dict(spec.builder_kwargs)["members"]
    records = cfg.info.get("fusion", {}).get("members", [])
    if len(records) != len(members) or any("temperature" not in r for r in records):
        raise RunDirError(f"{fused}: detector.json's info.fusion.members does not record the {len(members)} members' temperatures")
    split = RunDir(fused).split_file()
    if split is None:
        raise RunDirError(f"{fused}: no split.csv, so a member could not keep the fusion's validation faces unseen")
    model = create_model(cfg.model)
    load_weights(model, RunDir(fused).weights, cfg.model)  # the whole file fits, before any member is written
    folders = []
    for i, ((name, size), record) in enumerate(zip(members, records)):
        member = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in model.members[i].state_dict().items()}
        folder = Path(out) / f"{i}-{name}-{size}"
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(RunDir(folder).weights) as tmp:
            save_file(member, str(tmp), metadata={"model": name})
        with atomic_path(folder / split.name) as tmp:
            shutil.copyfile(split, tmp)
        preprocess = dataclasses.replace(get_model_spec(name).preprocess, image_size=int(size), align=cfg.preprocess.align)
        info = {"unfused_from": {"run": str(fused), "member": i} | dict(record), "trained_on": cfg.info.get("trained_on", [])}
        write_json(RunDir(folder).detector_config, Detector(None, name, preprocess, temperature=record["temperature"], info=info).config())
        folders.append(folder)
    return folders
