"""The REST service and web page: ``create_app(detector)``.

Every route uses the one shared :class:`~fakelens.Detector` (through the face
pipeline for photos and videos); inference runs in a bounded worker pool and
a full queue answers 503 at once.
"""
from __future__ import annotations

import asyncio
import base64
import copy
import hmac
import io
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import ImageReadError
from .settings import ServiceSettings
from .sniff import IMAGE, VIDEO, sniff

STATIC = Path(__file__).resolve().parent / "static"
CHUNK = 1 << 16


def _png_data_url(rgb) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


class _Admission:
    """At most ``workers + queue_size`` requests inside; the rest are refused immediately."""

    def __init__(self, capacity: int):
        self._slots = threading.BoundedSemaphore(capacity)

    def try_enter(self) -> bool:
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()


def create_app(detector=None, settings: ServiceSettings | None = None, face_detector=None) -> FastAPI:
    from ..faces import FacePipeline
    from ..inference import load

    settings = settings or ServiceSettings()
    detector = detector if detector is not None else load()
    pipeline = FacePipeline.of(detector, face_detector)
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fakelens-infer")
    admission = _Admission(settings.workers + settings.queue_size)
    # Grad-CAM hooks its model: explanations use their own copy of the weights (so a
    # concurrent prediction on the shared model is never captured), one at a time.
    explain_lock = threading.Lock()
    explain_detector: list = []

    app = FastAPI(title="fakelens", version=__version__,
                  description="Deepfake detection for face images and videos, with explanations. 0 = REAL, 1 = FAKE.")
    app.state.settings, app.state.detector, app.state.pool = settings, detector, pool
    app.state.ready = True  # the detector above is loaded: the app is ready to serve

    @app.middleware("http")
    async def check_api_key(request: Request, call_next):
        if settings.api_key and request.url.path.startswith("/v1"):
            given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
                return JSONResponse({"detail": "missing or wrong API key (send X-API-Key)"}, status_code=401)
        return await call_next(request)

    @app.get("/healthz")
    def healthz() -> dict:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    def readyz():
        """Readiness: 200 once the model is loaded (the app exists only then), 503 while shutting down."""
        if not app.state.ready:
            return JSONResponse({"status": "shutting down"}, status_code=503)
        return {"status": "ready", "model": detector.model_name, "backend": detector.backend}

    @app.get("/v1/models")
    def models() -> dict:
        return {"models": [{"name": detector.model_name, "version": __version__, "source": detector.source, "backend": detector.backend,
                            "image_size": detector.preprocess.image_size, "threshold": detector.threshold,
                            "temperature": detector.temperature}], "face_detector": type(pipeline.face_detector).__name__}

    async def _read_limited(upload: UploadFile, limit: int) -> bytes:
        data = bytearray()
        while chunk := await upload.read(CHUNK):
            data += chunk
            if len(data) > limit:
                raise HTTPException(413, f"file too large: the limit is {limit // 2**20} MB")
        return bytes(data)

    def _explain(crops, boxes, methods) -> list[dict]:
        from ..explain import explain_faces

        with explain_lock:
            if not explain_detector:
                twin = copy.copy(detector)
                twin.model = copy.deepcopy(detector.model)
                explain_detector.append(twin)
            explanations = explain_faces(explain_detector[0], crops, boxes=boxes, methods=methods, lime_samples=settings.lime_samples)
        out = []
        for e in explanations:
            d = e.to_dict()
            if e.gradcam is not None:
                d["gradcam_overlay"] = _png_data_url(e.gradcam.overlay)
            if e.lime is not None:
                d["lime_overlay"] = _png_data_url(e.lime.overlay)
            out.append(d)
        return out

    def _detect_image(data: bytes, methods: tuple[str, ...], crop: bool) -> dict:
        from ..faces import predict_photo

        # crop=true: the caller already has a face crop; skip face detection (the fast path for pipelines)
        result = predict_photo(pipeline, data, crops=True if crop else None, keep_crops=bool(methods))
        if result.status == "error":
            # a decompression bomb is "too large" even though its file is small
            raise HTTPException(413 if "pixel limit" in result.error else 422, result.error)
        body = result.to_dict()
        if methods and result.faces:
            for face, expl in zip(body["faces"], _explain(result.crops, [f.box for f in result.faces], methods)):
                face["explanation"] = expl
        return body

    def _detect_video(data: bytes, suffix: str, frames: int) -> dict:
        from ..faces import predict_video

        fd, tmp = tempfile.mkstemp(prefix="fakelens-upload-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            result = predict_video(pipeline, tmp, frames=frames)
        finally:
            os.unlink(tmp)
        if result.status == "error":
            raise HTTPException(422, result.error)
        body = result.to_dict()
        body["path"] = None  # the temporary file name means nothing to the caller
        return body

    @app.post("/v1/detect")
    async def detect(file: UploadFile = File(..., description="an image or a video"),
                     explain: str = Form("none", description="none, gradcam, lime or all"),
                     frames: int = Form(16, description="frames sampled from a video"),
                     crop: bool = Form(False, description="the image is a face crop: score it whole, no face detection")):
        started = time.perf_counter()
        if explain not in ("none", "gradcam", "lime", "all"):
            raise HTTPException(422, "explain must be one of none, gradcam, lime, all")
        if not 1 <= frames <= settings.max_video_frames:
            raise HTTPException(422, f"frames must be between 1 and {settings.max_video_frames}")
        head = await file.read(64)
        kind = sniff(head)
        if kind is None:
            raise HTTPException(415, "unsupported file type: send a JPEG, PNG, GIF, WebP, BMP or TIFF image, or an MP4, MOV, WebM or AVI video")
        mime, media = kind
        limit = settings.max_image_bytes if media == IMAGE else settings.max_video_bytes
        data = head + await _read_limited(file, limit - len(head))
        if not admission.try_enter():
            raise HTTPException(503, "busy: too many requests in the queue, retry shortly", headers={"Retry-After": "1"})
        try:
            loop = asyncio.get_running_loop()
            methods = () if explain == "none" else ("gradcam", "lime") if explain == "all" else (explain,)
            if media == IMAGE:
                body = await loop.run_in_executor(pool, _detect_image, data, methods, crop)
            else:
                body = await loop.run_in_executor(pool, _detect_video, data, Path(file.filename or "").suffix or ".mp4", frames)
        except ImageReadError as exc:
            raise HTTPException(422, str(exc)) from None
        finally:
            admission.leave()
        body.update(media=media, mime=mime, model={"name": detector.model_name, "version": __version__, "backend": detector.backend},
                    timings={"total_ms": round(1000 * (time.perf_counter() - started), 1)})
        return body

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.on_event("shutdown")
    def _shutdown() -> None:
        app.state.ready = False
        pool.shutdown(wait=False, cancel_futures=True)

    return app


def app_from_env() -> FastAPI:
    """The app factory for process managers (``uvicorn --factory fakelens.service.app:app_from_env``):
    the detector from ``FAKELENS_RUN`` (default: the bundled one) on ``FAKELENS_BACKEND``, limits from the
    ``FAKELENS_*`` variables. Each worker process calls it and holds its own detector; nothing else is shared."""
    from ..inference import load

    return create_app(load(os.environ.get("FAKELENS_RUN") or None, backend=os.environ.get("FAKELENS_BACKEND", "auto")),
                      ServiceSettings())


def serve(host: str = "127.0.0.1", port: int = 8000, run: str | None = None, api_key: str | None = None, backend: str = "auto",
          workers: int | None = None, processes: int = 1) -> None:
    """``processes`` > 1: that many uvicorn worker processes on one port, each building the app with :func:`app_from_env`."""
    import uvicorn

    from ..inference import load

    settings = ServiceSettings()
    if api_key:
        settings.api_key = api_key
    if workers:
        settings.workers = workers
    if processes > 1:  # the worker processes read their options from the environment
        os.environ.update({k: str(v) for k, v in {"FAKELENS_RUN": run, "FAKELENS_BACKEND": backend, "FAKELENS_API_KEY": settings.api_key,
                                                  "FAKELENS_WORKERS": settings.workers}.items() if v})
        uvicorn.run("fakelens.service.app:app_from_env", factory=True, host=host, port=port, workers=processes, log_level="info")
        return
    app = create_app(load(run, backend=backend), settings)
    uvicorn.run(app, host=host, port=port, log_level="info")
