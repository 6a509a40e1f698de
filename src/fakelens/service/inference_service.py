"""What the routes call: the detector, the face pipeline, two worker pools and their admission.

:class:`InferenceService` knows nothing about HTTP beyond :class:`~.refusal.Refused`
(status + reason). Plain detection runs in ``workers`` threads; explanations
(minutes of LIME for many faces) run in their own small pool with a deadline,
so they can never hold up a plain detection. A request is admitted (or
refused with 503 at once) before its body is read. When the client goes away,
the work in flight is told to stop (videos stop decoding, explanations stop
after the current face).
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterator

from .._version import __version__
from ..errors import ImageReadError, ImageTooLargeError
from .refusal import Refused
from .settings import ServiceSettings
from .sniff import IMAGE
from .upload import Upload, UploadLimits

EXPLAIN_METHODS = {"none": (), "gradcam": ("gradcam",), "lime": ("lime",), "all": ("gradcam", "lime")}
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}
#: How often a waiting request asks whether its client is still there (seconds).
DISCONNECT_POLL_S = 0.5
#: Seconds an explanation may run past its deadline (the face in flight) before the
#: request answers with the faces explained so far.
EXPLAIN_GRACE_S = 10

Disconnected = Callable[[], Awaitable[bool]]


class Admission:
    """At most ``capacity`` requests inside; the rest are refused immediately (503)."""

    def __init__(self, capacity: int, what: str):
        self._slots = threading.BoundedSemaphore(capacity)
        self.what = what

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise Refused(503, f"busy: too many {self.what} in the queue, retry shortly", {"Retry-After": "1"})
        try:
            yield
        finally:
            self._slots.release()


@dataclass(frozen=True)
class DetectOptions:
    """The form fields of ``POST /v1/detect``, checked."""

    methods: tuple[str, ...]
    frames: int
    crop: bool

    @classmethod
    def from_fields(cls, fields: dict[str, str], settings: ServiceSettings) -> "DetectOptions":
        explain = fields.get("explain", "none").strip().lower()
        if explain not in EXPLAIN_METHODS:
            raise Refused(422, "explain must be one of none, gradcam, lime, all")
        try:
            frames = int(fields.get("frames", settings.video_frames))
        except ValueError:
            raise Refused(422, "frames must be a whole number") from None
        if not 1 <= frames <= settings.max_video_frames:
            raise Refused(422, f"frames must be between 1 and {settings.max_video_frames}")
        crop = fields.get("crop", "false").strip().lower()
        if crop not in _TRUE | _FALSE:
            raise Refused(422, "crop must be true or false")
        return cls(EXPLAIN_METHODS[explain], frames, crop in _TRUE)


def _png_data_url(rgb) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _scrub(value, secret: str, replacement: str):
    """``value`` (nested dicts, lists, strings) with every occurrence of ``secret`` (a server path) replaced."""
    if isinstance(value, str):
        return value.replace(secret, replacement)
    if isinstance(value, dict):
        return {k: _scrub(v, secret, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secret, replacement) for v in value]
    return value


def _image_error(message: str) -> str:
    return message.removeprefix("<bytes>: ")


class InferenceService:
    def __init__(self, detector, settings: ServiceSettings, face_detector=None):
        from ..faces import FacePipeline

        self.detector = detector
        self.settings = settings
        self.pipeline = FacePipeline.of(detector, face_detector)
        self.upload_limits = UploadLimits.from_settings(settings)
        self.admission = Admission(settings.workers + settings.queue_size, "requests")
        self.explain_admission = Admission(settings.explain_workers + settings.explain_queue, "explanation requests")
        self._detect_pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fakelens-infer")
        self._explain_pool = ThreadPoolExecutor(max_workers=settings.explain_workers, thread_name_prefix="fakelens-explain")

    # ------------------------------------------------------------------ description
    def model_info(self) -> dict:
        from ..inference.detector import DEFAULT_DIR

        d = self.detector
        # The folder's name only: where the weights sit on the server is nobody's business.
        source = (
            None
            if d.source is None
            else "bundled"
            if os.path.realpath(d.source) == os.path.realpath(DEFAULT_DIR)
            else os.path.basename(os.path.normpath(d.source))
        )
        return {
            "models": [
                {
                    "name": d.model_name,
                    "version": __version__,
                    "source": source,
                    "backend": d.backend,
                    "image_size": d.preprocess.image_size,
                    "threshold": d.threshold,
                    "temperature": d.temperature,
                    "bands": self.pipeline.edges(1),
                }
            ],
            "face_detector": type(self.pipeline.face_detector).__name__,
        }

    def model_summary(self) -> dict:
        return {"name": self.detector.model_name, "version": __version__, "backend": self.detector.backend}

    # ------------------------------------------------------------------ requests
    async def detect(self, upload: Upload, options: DetectOptions, disconnected: Disconnected) -> dict:
        """The response body for one upload (images: with explanations when asked)."""
        cancel = threading.Event()
        if upload.kind.media == IMAGE:
            body, crops, boxes = await self._wait(self._detect_pool.submit(self._detect_image, upload.data, options), cancel, disconnected)
            if options.methods and crops:
                await self._add_explanations(body, crops, boxes, options.methods, cancel, disconnected)
            return body
        body = await self._wait(self._detect_pool.submit(self._detect_video, upload.path, options, cancel), cancel, disconnected)
        return _scrub(body, upload.path, f"upload{upload.kind.suffix}")

    async def _wait(self, future: Future, cancel: threading.Event, disconnected: Disconnected, timeout: float | None = None):
        """The job's result; a client that leaves (or a timeout) sets ``cancel`` so the job stops early.

        Returns None when ``timeout`` passes first (the job is left to stop on its own).
        """
        wrapped = asyncio.wrap_future(future)
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            done, _ = await asyncio.wait({wrapped}, timeout=DISCONNECT_POLL_S)
            if done:
                return wrapped.result()
            if not cancel.is_set() and await disconnected():
                cancel.set()
            if end is not None and loop.time() > end:
                cancel.set()
                return None

    # ------------------------------------------------------------------ jobs (worker threads)
    def _detect_image(self, data: bytes, options: DetectOptions):
        from ..faces import predict_photo
        from ..imaging.imageio import load_image
        from ..provenance import read_provenance

        s = self.settings
        try:
            rgb = load_image(data, max_pixels=s.max_image_pixels)
            # crop=true: the caller already has a face crop; skip face detection (the fast path for pipelines)
            result = predict_photo(
                self.pipeline,
                rgb,
                crops=True if options.crop else None,
                keep_crops=bool(options.methods),
                max_faces=s.max_faces,
                provenance=read_provenance(data),
            )
        except ImageTooLargeError as exc:
            raise Refused(413, _image_error(str(exc))) from None
        except ImageReadError as exc:
            raise Refused(422, _image_error(str(exc))) from None
        except MemoryError:
            raise Refused(503, "not enough memory for this image right now, retry shortly", {"Retry-After": "5"}) from None
        if result.status == "error":
            raise Refused(422, _image_error(result.error))
        body = result.to_dict()
        body["path"] = None
        body["warnings"] = list(result.warnings)  # about the metadata (an invalid manifest, a skipped block)
        if len(result.faces) >= s.max_faces and result.kind != "crop":
            body["warnings"].append(f"face limit reached: only the {s.max_faces} most confident faces are scored")
        return body, result.crops, [f.box for f in result.faces]

    def _detect_video(self, path: str, options: DetectOptions, cancel: threading.Event) -> dict:
        from ..faces import predict_video
        from ..faces.videoio import DecodeBudget

        s = self.settings
        budget = DecodeBudget(max_frames=s.max_decode_frames, max_seconds=s.max_decode_seconds, cancel=cancel)
        try:
            result = predict_video(
                self.pipeline, path, frames=options.frames, max_faces=s.max_faces, budget=budget, max_pixels=s.max_image_pixels
            )
        except MemoryError:
            raise Refused(503, "not enough memory for this video right now, retry shortly", {"Retry-After": "5"}) from None
        if result.status == "error":
            raise Refused(413 if result.too_large else 422, result.error.replace(path, "upload"))
        body = result.to_dict()
        body["path"] = None  # the temporary file name means nothing to the caller
        return body

    # ------------------------------------------------------------------ explanations (their own pool)
    async def _add_explanations(self, body: dict, crops, boxes, methods, cancel: threading.Event, disconnected: Disconnected) -> None:
        s = self.settings
        n = min(len(crops), s.max_explained_faces)
        if n < len(crops):
            body["warnings"].append(f"explanations for the {n} most confident faces only (of {len(crops)})")
        deadline = time.monotonic() + s.explain_timeout_s
        explanations: list[dict] = []  # filled face by face, so a late job still gives the faces it finished
        future = self._explain_pool.submit(self._explain_job, crops[:n], boxes[:n], methods, deadline, cancel, explanations)
        await self._wait(future, cancel, disconnected, timeout=s.explain_timeout_s + EXPLAIN_GRACE_S)
        explanations = list(explanations)
        for face, explanation in zip(body["faces"], explanations):
            face["explanation"] = explanation
        if len(explanations) < n:
            body["warnings"].append(
                f"explanation time limit ({s.explain_timeout_s:g} s) reached: {len(explanations)} of {n} faces explained"
            )

    def _explainer(self):
        """The detector itself: Grad-CAM hooks a private copy of its model (``Detector.explain_model``) and the
        ONNX CAM output needs none, so predictions running beside an explanation are not disturbed."""
        return self.detector

    def _explain_job(self, crops, boxes, methods, deadline: float, cancel: threading.Event, out: list[dict]) -> list[dict]:
        """Explain face by face into ``out``; stop when cancelled or when the next face would end past ``deadline``."""
        from ..explain import ExplainConfig, explain_faces

        config = ExplainConfig(methods=methods, lime_samples=self.settings.lime_samples)  # one per request, for every face
        last = 0.0  # seconds the previous face took: the estimate for the next one
        for crop, box in zip(crops, boxes):
            if cancel.is_set() or time.monotonic() + last > deadline:
                break
            started = time.monotonic()
            e = explain_faces(self._explainer(), [crop], boxes=[box], config=config)[0]
            d = e.to_dict()
            if e.gradcam is not None:
                d["gradcam_overlay"] = _png_data_url(e.gradcam.overlay)
            if e.lime is not None:
                d["lime_overlay"] = _png_data_url(e.lime.overlay)
            out.append(d)
            last = time.monotonic() - started
        return out

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        self._detect_pool.shutdown(wait=False, cancel_futures=True)
        self._explain_pool.shutdown(wait=False, cancel_futures=True)
