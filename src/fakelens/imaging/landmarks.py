"""68-point face landmarks (dlib's shape predictor), offline: face alignment and the pseudo-fake families.

The predictor file ``shape_predictor_68_face_landmarks.dat`` ships inside the
``face-recognition-models`` wheel and dlib itself in ``dlib-bin`` (both
dependencies of fakelens): nothing is downloaded. The predictor was trained on iBUG
300-W, whose images are for research use only (see the model card).

Point indices follow the iBUG 68-point scheme: jaw 0-16, brows 17-26, nose
27-35, eyes 36-47 (right eye of the person 36-41, left 42-47), mouth 48-67.

The runtime uses it to align faces (:mod:`fakelens.imaging.align`): yuface's
five points do not follow a tilted head (a crop turned by 20 degrees read as
1-13 degrees from them, depending on the resolution), dlib's eyes do (20
degrees read as 20).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from ..errors import DataError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
JAW, BROWS, NOSE = slice(0, 17), slice(17, 27), slice(27, 36)
RIGHT_EYE, LEFT_EYE, EYES, MOUTH = slice(36, 42), slice(42, 48), slice(36, 48), slice(48, 68)

#: Where dlib's own HOG detector puts the face in a crop of fakelens' framing (found on DFDC crops:
#: about 0.04-0.94 of the side); the fallback box when the detector misses the face in a crop.
CROP_BOX = (0.05, 0.05, 0.93, 0.93)


def predictor_path() -> Path:
    """The 68-point model inside the installed ``face_recognition_models`` package (not imported: it needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("68-point landmarks need the face-recognition-models package: pip install fakelens")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise DataError(f"{path}: the 68-point landmark model is missing from face-recognition-models; reinstall it")
    return path


class Landmarks68:
    """``rgb`` (uint8 ``HxWx3``) + face box -> ``(68, 2)`` float32 landmark array (x, y in pixels).

    The predictor (100 MB, about a second to load) is loaded on first use and
    shared; calls are serialised by a lock (a call is about 2 ms, and dlib does
    not promise that one predictor may run in several threads at once).
    """

    def __init__(self, path: str | Path | None = None):
        # Found (or refused) at once, not at the first call inside a data-loader worker.
        self._path = Path(path) if path is not None else predictor_path()
        if not self._path.is_file():
            raise DataError(f"{self._path}: no such landmark model")
        self._predictor = None
        self._detector = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # a spawned data-loader worker loads its own predictor
        return {"path": self._path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"])

    def _load(self) -> None:
        try:
            import dlib
        except ImportError:
            raise DataError("68-point landmarks need dlib: pip install fakelens (the dlib-bin wheel)") from None
        self._predictor = dlib.shape_predictor(str(self._path))
        self._detector = dlib.get_frontal_face_detector()

    def __call__(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The landmarks of the face in ``box`` (x0, y0, x1, y1 in pixels)."""
        import dlib

        rgb = _check_rgb(rgb)
        with self._lock:
            if self._predictor is None:
                self._load()
            shape = self._predictor(rgb, dlib.rectangle(*(int(round(v)) for v in box)))
        return np.asarray([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def face_box(self, rgb: np.ndarray) -> tuple[float, float, float, float]:
        """The largest face dlib's HOG detector finds (the boxes the predictor was trained on), else :data:`CROP_BOX`."""
        rgb = _check_rgb(rgb)
        with self._lock:
            if self._predictor is None:
                self._load()
            found = list(self._detector(rgb, 0))
        h, w = rgb.shape[:2]
        if not found:
            return (CROP_BOX[0] * w, CROP_BOX[1] * h, CROP_BOX[2] * w, CROP_BOX[3] * h)
        r = max(found, key=lambda r: r.width() * r.height())
        return (r.left(), r.top(), r.right(), r.bottom())

    def for_crop(self, rgb: np.ndarray) -> np.ndarray:
        """The landmarks of the face a face crop shows."""
        return self(rgb, self.face_box(rgb))


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise DataError("landmarks need a uint8 HxWx3 RGB array")
    return np.ascontiguousarray(rgb)


_shared: Landmarks68 | None = None
_shared_lock = threading.Lock()


def shared_landmarks() -> Landmarks68:
    """One predictor per process (data-loader workers each load their own on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Landmarks68()
        return _shared
