"""The REST service and web page: ``create_app(detector)``, a thin router over an :class:`InferenceService`.

Every route uses the one shared :class:`~fakelens.Detector` (through the face
pipeline for photos and videos). A ``POST /v1/detect`` is checked in this
order, each step cheap before the next costly one: access (API key, origin,
host), ``Content-Length``, admission (503 at once when full), the streamed
body (size, parts, deadline), the sniffed type, then the work in a bounded
pool. Refusals carry one line, never a path on the server.
"""

from __future__ import annotations

import os
import time
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .._version import __version__
from .inference_service import DetectOptions, InferenceService
from .refusal import Refused
from .security import middleware_stack
from .settings import ServiceSettings
from .sniff import IMAGE
from .upload import check_content_length, receive_upload

STATIC = Path(__file__).resolve().parent / "static"

_DETECT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary", "description": "an image or a video (one file)"},
                    "explain": {"type": "string", "enum": ["none", "gradcam", "lime", "all"], "default": "none"},
                    "frames": {"type": "integer", "default": 16, "description": "frames sampled from a video"},
                    "crop": {
                        "type": "boolean",
                        "default": False,
                        "description": "the image is a face crop: score it whole, no face detection",
                    },
                },
            }
        }
    },
}


def build_router(service: InferenceService) -> APIRouter:
    router = APIRouter()
    settings = service.settings

    @router.get("/healthz")
    def healthz() -> dict:
        """Liveness: the process answers. Open to all, so it says only whether the page must ask for a key
        (the version is in /v1/models, behind the key)."""
        return {"status": "ok", "api_key_required": settings.key_required}

    @router.get("/readyz")
    def readyz(request: Request):
        """Readiness: 200 once the model is loaded (the app exists only then), 503 while shutting down; needs the key when there is one."""
        if not getattr(request.app.state, "ready", False):
            return JSONResponse({"status": "shutting down"}, status_code=503)
        return {"status": "ready", "model": service.detector.model_name, "backend": service.detector.backend}

    @router.get("/v1/models")
    def models() -> dict:
        return service.model_info()

    @router.post(
        "/v1/detect",
        openapi_extra={"requestBody": _DETECT_BODY},
        summary="Faces and verdicts for an image or a video (multipart: file, explain, frames, crop)",
    )
    async def detect(request: Request):
        started = time.perf_counter()
        check_content_length(request, service.upload_limits)  # a declared 1 GiB body: 413 before anything else
        with service.admission.slot():  # before the body is read: a full server costs nothing to refuse
            upload = await receive_upload(request, service.upload_limits)
            try:
                options = DetectOptions.from_fields(upload.fields, settings)
                explaining = options.methods and upload.kind.media == IMAGE
                with service.explain_admission.slot() if explaining else nullcontext():
                    body = await service.detect(upload, options, request.is_disconnected)
            finally:
                upload.discard()
        body.update(
            media=upload.kind.media,
            mime=upload.kind.mime,
            model=service.model_summary(),
            timings={"total_ms": round(1000 * (time.perf_counter() - started), 1)},
        )
        return body

    @router.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html")

    return router


async def _refused(request: Request, exc: Refused) -> JSONResponse:
    # Close the connection: a refused body may be unread (a client sending 1 GiB should stop, not keep the socket).
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers={**(exc.headers or {}), "Connection": "close"})


def create_app(detector=None, settings: ServiceSettings | None = None, face_detector=None) -> FastAPI:
    from ..inference import load

    settings = settings or ServiceSettings()
    service = InferenceService(detector if detector is not None else load(), settings, face_detector)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.ready = False  # readiness fails first, so a load balancer stops sending work
        service.close()

    # No /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN, on the origin that holds the key.
    # The schema is at /openapi.json (behind the key when there is one) for a local Swagger UI or editor.
    app = FastAPI(
        title="fakelens",
        version=__version__,
        lifespan=lifespan,
        middleware=middleware_stack(settings),
        docs_url=None,
        redoc_url=None,
        description="Deepfake detection for face images and videos, with explanations. 0 = REAL, 1 = FAKE.",
    )
    app.state.settings, app.state.service, app.state.detector = settings, service, service.detector
    app.state.ready = True  # the detector is loaded: ready to serve
    app.add_exception_handler(Refused, _refused)
    app.include_router(build_router(service))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def app_from_env() -> FastAPI:
    """The app factory for process managers (``uvicorn --factory fakelens.service.app:app_from_env``):
    the detector from ``FAKELENS_RUN`` (default: the bundled one) on ``FAKELENS_BACKEND``, limits from the
    ``FAKELENS_*`` variables. Each worker process calls it and holds its own detector; nothing else is shared."""
    from ..inference import load

    return create_app(load(os.environ.get("FAKELENS_RUN") or None, backend=os.environ.get("FAKELENS_BACKEND", "auto")))
