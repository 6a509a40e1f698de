"""Face detector + crop framing + the deepfake :class:`~fakelens.Detector`, in one object."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .cropping import CROP_JPEG_QUALITY, CROP_SIZE, crop_face
from .detectors import FaceBox, FaceDetector, create_face_detector


class FacePipeline:
    """Finds faces, crops them like the training data and scores the crops.

    ``detector`` is the deepfake detector (``fakelens.load(run)``); it does all
    model preprocessing. ``face_detector`` is a name from
    :func:`~fakelens.faces.detectors.list_face_detectors` or a detector object.
    """

    def __init__(
        self,
        detector,
        face_detector: str | FaceDetector | None = None,
        crop_size: int = CROP_SIZE,
        jpeg_quality: int | None = CROP_JPEG_QUALITY,
        batch_size: int = 32,
    ):
        self.detector = detector
        self.face_detector = create_face_detector(face_detector)
        # A face detector given by name (or the default) can be rebuilt in worker processes.
        self.face_detector_name = self.face_detector.name if face_detector is None or isinstance(face_detector, str) else None
        self.framing = self.face_detector.framing
        self.crop_size = int(crop_size)
        self.jpeg_quality = jpeg_quality
        self.batch_size = int(batch_size)

    @classmethod
    def of(cls, detector_or_pipeline, face_detector: str | FaceDetector | None = None) -> "FacePipeline":
        """Use a pipeline as is, or build one around a deepfake detector."""
        if isinstance(detector_or_pipeline, FacePipeline):
            return detector_or_pipeline
        return cls(detector_or_pipeline, face_detector)

    @property
    def threshold(self) -> float:
        return self.detector.threshold

    def label(self, prob_fake: float) -> str:
        """The verdict shown for a face, a photo or a video: REAL, UNCERTAIN or FAKE."""
        return self.detector.verdict(prob_fake)

    def photo_verdict(self, most_fake: float, n_faces: int) -> str:
        """The verdict for a photo of ``n_faces`` faces whose most-fake face scored ``most_fake``."""
        calibration = getattr(self.detector, "calibration", None)
        return calibration.photo_verdict(most_fake, n_faces) if calibration is not None else self.label(most_fake)

    @property
    def video_aggregate(self) -> str:
        """The frame pooling a video gets unless asked otherwise: the one the detector's video bands were fitted for,
        else ``confident`` (a detector without video bands)."""
        calibration = getattr(self.detector, "calibration", None)
        return getattr(calibration, "video_aggregate", None) or "confident"

    def video_verdict(self, prob_fake: float, n_people: int, aggregate: str) -> str:
        """The verdict for a video whose most-fake of ``n_people`` people scored ``prob_fake`` pooled by ``aggregate``."""
        calibration = getattr(self.detector, "calibration", None)
        if calibration is None:
            return self.label(prob_fake)
        return calibration.video_verdict(prob_fake, n_people, aggregate)

    def video_edges(self, n_people: int, aggregate: str) -> dict[str, float]:
        """:meth:`edges` of :meth:`video_verdict`."""
        calibration = getattr(self.detector, "calibration", None)
        if calibration is None:
            return self.edges(n_people)
        return {k: round(float(v), 6) for k, v in calibration.video_edges(n_people, aggregate).items()}

    def edges(self, n_faces: int = 1) -> dict[str, float]:
        """Where the verdict's bands sit on the P(fake) scale (REAL below ``real_below``, FAKE from ``fake_from``),
        for one face or for the most-fake of ``n_faces``, rounded as results show scores."""
        calibration = getattr(self.detector, "calibration", None)
        edges = calibration.edges(n_faces) if calibration is not None else {"real_below": self.threshold, "fake_from": self.threshold}
        return {k: round(float(v), 6) for k, v in edges.items()}

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        return self.face_detector.detect(rgb)

    def crop(self, rgb: np.ndarray, faces: Sequence[FaceBox]) -> list[np.ndarray]:
        return [crop_face(rgb, f, self.framing, self.crop_size, self.jpeg_quality) for f in faces]

    def score(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated P(fake) per crop."""
        if not crops:
            return np.zeros(0)
        return np.asarray(self.detector.predict_proba(list(crops), batch_size=self.batch_size), dtype=np.float64)

    def __repr__(self) -> str:
        return f"FacePipeline({self.detector!r}, face_detector={self.face_detector!r}, crop_size={self.crop_size})"
