"""``detector.json`` and the files beside it, checked before a :class:`~fakelens.Detector` is built from them.

A run folder is input like any other: a hand-edited or damaged one must not
fail open (a NaN threshold labels everything REAL, a negative temperature
inverts every verdict, ``image_size: 100000`` costs 12 GB) nor end in a
traceback. :meth:`DetectorConfig.load` validates the JSON with pydantic and
raises :class:`~fakelens.errors.RunDirError` with one line naming every
problem; :func:`load_weights` does the same for an empty, truncated or
mismatched ``model.safetensors``. A corrupt ``model.onnx`` is handled where the
backend is chosen (:func:`fakelens.inference.onnx_backend.open_matching_onnx`:
a warning and PyTorch under ``auto``, an error when ONNX was asked for).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from ..errors import RunDirError
from ..models.registry import list_models
from .tta import DEFAULT_VIEWS, check_views

FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]
PositiveFiniteFloat = Annotated[float, Strict(), AllowInfNan(False), Field(gt=0)]
#: Temperatures outside this range are not a calibration but a broken file (fitted ones are ~0.5-5).
TEMPERATURE_RANGE = (0.01, 100.0)


class PreprocessSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_size: Annotated[int, Strict()] = Field(ge=16, le=1024)
    mean: tuple[FiniteFloat, FiniteFloat, FiniteFloat]
    std: tuple[PositiveFiniteFloat, PositiveFiniteFloat, PositiveFiniteFloat]
    align: Annotated[bool, Strict()] = False  # a detector from before alignment existed saw faces as given

    def to_preprocess_config(self):
        from ..imaging.preprocess import PreprocessConfig

        return PreprocessConfig(self.image_size, tuple(self.mean), tuple(self.std), self.align)


class BandsSpec(BaseModel):
    """The REAL / UNCERTAIN / FAKE verdict bands: REAL below ``real_below``, FAKE from ``fake_from``."""

    model_config = ConfigDict(extra="forbid")

    real_below: FiniteFloat = Field(ge=0, le=1)
    fake_from: FiniteFloat = Field(ge=0, le=1)
    fitted: dict[str, Any] = Field(default_factory=dict)
    fake_from_by_faces: list[Annotated[float, AllowInfNan(False), Field(ge=0, le=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self):
        if self.real_below > self.fake_from:
            raise ValueError(f"real_below ({self.real_below}) must not be above fake_from ({self.fake_from})")
        return self


class AdapterSpec(BaseModel):
    """An adapted detector's head (``fakelens adapt``): its arrays' file and the fusion with the base logit."""

    model_config = ConfigDict(extra="forbid")

    # a plain file name beside detector.json: never a path out of the folder
    file: Annotated[str, Strict()] = Field(pattern=r"^[A-Za-z0-9_.-]+\.safetensors$")
    sha256: Annotated[str, Strict()] = Field(pattern=r"^[0-9a-f]{64}$")
    n_features: Annotated[int, Strict()] = Field(ge=1, le=16384)
    intercept: FiniteFloat
    # the fusion: base_weight * base_logit + head_weight * max(0, head_logit - head_offset) + bias
    base_weight: FiniteFloat = Field(ge=0, le=100)
    head_weight: FiniteFloat = Field(ge=0, le=100)
    bias: FiniteFloat = Field(ge=-1000, le=1000)
    head_offset: FiniteFloat = Field(ge=-1000, le=1000)
    info: dict[str, Any] = Field(default_factory=dict)


class DetectorConfig(BaseModel):
    """What ``detector.json`` holds; unknown keys are ignored (newer versions may add some)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model: Annotated[str, Strict()]
    preprocess: PreprocessSpec
    threshold: FiniteFloat = Field(0.5, gt=0, lt=1)
    temperature: FiniteFloat = Field(1.0, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    tta: Annotated[bool, Strict()] = False
    # the views averaged with the face under TTA; a file from before they had names averaged the mirror image
    tta_views: tuple[Annotated[str, Strict()], ...] = DEFAULT_VIEWS
    bands: BandsSpec | None = None
    # a video's bands and the frame pooling they were fitted for (fakelens calibrate-videos)
    video_bands: BandsSpec | None = None
    video_aggregate: Literal["confident", "mean", "topk"] | None = None
    adapter: AdapterSpec | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    fakelens_version: str | None = None

    @model_validator(mode="after")
    def _video_bands_name_their_pooling(self):
        if (self.video_bands is None) != (self.video_aggregate is None):
            raise ValueError("video_bands and video_aggregate come together (the bands hold for that pooling only)")
        return self

    @field_validator("tta_views")
    @classmethod
    def _known_views(cls, views: tuple[str, ...]) -> tuple[str, ...]:
        return check_views(views)

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        if name not in list_models():  # the registry holds the zoo and any model registered by the user
            raise ValueError(f"unknown model {name!r} (known: {', '.join(list_models())})")
        return name

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DetectorConfig":
        """Read and check ``path``; any problem raises :class:`RunDirError` with one line."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RunDirError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunDirError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise RunDirError(f"{path}: must be a JSON object with model, preprocess, threshold, temperature (got a {type(raw).__name__})")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise RunDirError(f"{path}: invalid detector config: {_one_line(exc)}") from None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "config"
        parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def load_weights(model, path: str | os.PathLike, model_name: str) -> None:
    """Load ``model.safetensors`` into ``model``; an unreadable or mismatched file raises :class:`RunDirError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable weights ({exc}): the file is empty, truncated or not safetensors") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # missing or unexpected keys, wrong shapes
        reason = str(exc).splitlines()[0].rstrip(":. ")
        raise RunDirError(
            f"{path}: these weights do not fit a {model_name} model ({reason}); is the model name in detector.json right?"
        ) from None
