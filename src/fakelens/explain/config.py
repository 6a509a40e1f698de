"""``ExplainConfig``: every option of an explanation, checked once, before any image is read.

>>> cfg = ExplainConfig(methods="all", cam="GradCAM++", lime_samples=300)
>>> cfg.methods, cfg.cam
(('gradcam', 'lime'), 'gradcam++')

A bad value raises :class:`~fakelens.errors.ConfigError` (a ``ValueError``) with
one line naming every problem, so ``fakelens explain`` answers exit code 2 with
that line. Configs are frozen: one can be shared by threads (the service builds
one per request and passes it down), and :meth:`ExplainConfig.of` gives a
changed copy, checked again.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from .cam import check_cam_variant
from .lime_explainer import SEGMENTATIONS

MIN_LIME_SAMPLES = 10  # LIME fits a linear model on its samples
_SEED_LIMIT = 2**32  # LIME seeds a NumPy RandomState: 0 <= seed < 2**32


#: The explanation methods, in the order they run and are shown. Each names one class of
#: :data:`fakelens.explain.methods.EXPLAIN_METHODS` (checked when that module loads).
METHOD_NAMES: tuple[str, ...] = ("gradcam", "lime")


def _all_methods() -> tuple[str, ...]:
    return METHOD_NAMES


def resolve_methods(methods: str | Iterable[str]) -> tuple[str, ...]:
    """``"all"``, one name or several -> the methods to run, in the registry's order."""
    known = METHOD_NAMES
    names = [methods] if isinstance(methods, str) else list(methods)
    chosen = set()
    for name in names:
        key = str(name).lower()
        if key == "all":
            chosen.update(known)
        elif key in known:
            chosen.add(key)
        else:
            raise ValueError(f"unknown explanation method {name!r}; choose one of: {', '.join(known)}, all")
    if not chosen:
        raise ValueError(f"no explanation method given; choose one of: {', '.join(known)}, all")
    return tuple(m for m in known if m in chosen)


class ExplainConfig(BaseModel):
    """What to explain and how. The defaults are those of ``fakelens explain``.

    ``methods``: ``"all"``, one name or several (any case, any order) -> the
    names in the registry's order. ``cam``: the Grad-CAM variant; ``target_layer``
    the layer it looks at (None: the model's registry layer, or the ONNX export's
    CAM output where it applies). LIME scores ``lime_samples`` perturbed faces
    and shows ``top_k`` superpixels (``segmentation``: slic or quickshift). The
    faithfulness check (``faithfulness``) removes the ``cam_region_fraction``
    hottest pixels of the map, or LIME's ``top_k`` superpixels, and compares the
    drop in P(FAKE) with ``n_random`` random regions of the same size, drawn
    from ``random_state`` (which also seeds LIME).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    methods: tuple[str, ...] = Field(default_factory=_all_methods)
    cam: str = "gradcam"
    target_layer: str | None = None
    lime_samples: int = 1000
    top_k: int = 5
    segmentation: str = "slic"
    faithfulness: bool = True
    cam_region_fraction: float = 0.15
    n_random: int = 8
    random_state: int = 0

    def __init__(self, **options: Any):
        try:
            super().__init__(**options)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> "ExplainConfig":
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    @classmethod
    def of(cls, config: "ExplainConfig | None" = None, **options: Any) -> "ExplainConfig":
        """``config`` with ``options`` changed (checked again); a new config from ``options`` when ``config`` is None."""
        if config is None:
            return cls(**options)
        if not isinstance(config, ExplainConfig):
            raise TypeError(f"config must be an ExplainConfig, not {type(config).__name__}")
        if not options:
            return config
        # the options set on ``config`` stay set (explain_files records them in explanations.json)
        return cls(**{**config.model_dump(include=config.model_fields_set), **options})

    def set_options(self) -> dict[str, Any]:
        """The options given explicitly (not left at their defaults), by name."""
        return self.model_dump(include=self.model_fields_set)

    # ------------------------------------------------------------------ checks (messages as the explainers gave them)
    @field_validator("methods", mode="before")
    @classmethod
    def _resolve_methods(cls, value: Any) -> tuple[str, ...]:
        if not isinstance(value, (str, Iterable)):
            raise ValueError(f"methods must be a name or a list of names, not {type(value).__name__}")
        return resolve_methods(value)

    @field_validator("cam", mode="before")
    @classmethod
    def _cam_variant(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"cam must be a Grad-CAM variant name, not {type(value).__name__}")
        return check_cam_variant(value)

    @field_validator("target_layer")
    @classmethod
    def _layer_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("target_layer must name a layer (e.g. 'features.3') or be None for the model's own")
        return value

    @field_validator("segmentation", mode="before")
    @classmethod
    def _segmentation(cls, value: Any) -> str:
        key = value.lower() if isinstance(value, str) else value
        if key not in SEGMENTATIONS:
            raise ValueError(f"unknown segmentation {value!r}; choose one of: {', '.join(SEGMENTATIONS)}")
        return key

    @field_validator("lime_samples")
    @classmethod
    def _enough_samples(cls, value: int) -> int:
        if value < MIN_LIME_SAMPLES:
            raise ValueError(f"lime_samples must be at least {MIN_LIME_SAMPLES} (got {value}); LIME fits a linear model on them")
        return value

    @field_validator("top_k", "n_random")
    @classmethod
    def _at_least_one(cls, value: int, info) -> int:
        if value < 1:
            raise ValueError(f"{info.field_name} must be at least 1 (got {value})")
        return value

    @field_validator("cam_region_fraction")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not (math.isfinite(value) and 0 < value < 1):
            raise ValueError(f"cam_region_fraction must be in (0, 1), got {value}")
        return value

    @field_validator("random_state")
    @classmethod
    def _seed(cls, value: int) -> int:
        if not 0 <= value < _SEED_LIMIT:
            raise ValueError(f"random_state must be from 0 to 2**32 - 1 (got {value})")
        return value


def _one_line(exc: ValidationError) -> str:
    """Every problem in one line: the checks' own messages as they are, pydantic's with the option's name."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "options"
        if error["type"] == "value_error":
            parts.append(error["msg"].removeprefix("Value error, "))
        elif error["type"] == "extra_forbidden":
            parts.append(f"unknown explanation option {where!r}; the options are: {', '.join(ExplainConfig.model_fields)}")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
