"""Any photo or video in: find the faces, crop them like the training data, verdicts per face, person and file.

>>> import fakelens
>>> from fakelens.faces import predict_photo, predict_video
>>> detector = fakelens.load("runs/lite0")
>>> predict_photo(detector, "group.jpg").rows()          # one row per face + the image verdict
>>> predict_video(detector, "clip.mp4", frames=32).to_dict()  # per frame, per person, per video

For many files, build a :class:`FacePipeline` once and pass it instead of the detector.
"""

from ..imaging.imageio import is_video_path
from .aggregate import AGGREGATES, aggregate, confident_strategy, mean_strategy
from .batch import expand_media, predict_media, write_results
from .cropping import CROP_JPEG_QUALITY, CROP_SIZE, Framing, crop_face, crop_region
from .detectors import (
    DEFAULT_FACE_DETECTOR,
    FaceBox,
    FaceDetector,
    Res10Detector,
    YuFaceDetector,
    create_face_detector,
    list_face_detectors,
    register_face_detector,
)
from .photo import FaceResult, PhotoResult, find_faces, predict_photo
from .pipeline import FacePipeline
from .tracking import link_faces
from .video import TrackResult, VideoFace, VideoResult, predict_video
from .videoio import VideoInfo, VideoReader, read_frames, write_video

__all__ = [
    "AGGREGATES",
    "aggregate",
    "confident_strategy",
    "mean_strategy",
    "expand_media",
    "predict_media",
    "write_results",
    "CROP_JPEG_QUALITY",
    "CROP_SIZE",
    "Framing",
    "crop_face",
    "crop_region",
    "DEFAULT_FACE_DETECTOR",
    "FaceBox",
    "FaceDetector",
    "Res10Detector",
    "YuFaceDetector",
    "create_face_detector",
    "list_face_detectors",
    "register_face_detector",
    "FaceResult",
    "PhotoResult",
    "find_faces",
    "predict_photo",
    "FacePipeline",
    "link_faces",
    "TrackResult",
    "VideoFace",
    "VideoResult",
    "predict_video",
    "VideoInfo",
    "VideoReader",
    "is_video_path",
    "read_frames",
    "write_video",
]
