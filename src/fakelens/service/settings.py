"""Service settings: limits, pool sizes and the optional API key."""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class ServiceSettings:
    max_image_bytes: int = field(default_factory=lambda: _env_int("FAKELENS_MAX_IMAGE_MB", 15) * 2**20)
    max_video_bytes: int = field(default_factory=lambda: _env_int("FAKELENS_MAX_VIDEO_MB", 100) * 2**20)
    workers: int = field(default_factory=lambda: _env_int("FAKELENS_WORKERS", 2))
    # Requests allowed to wait for a worker; one more gets 503 at once instead of piling up.
    queue_size: int = field(default_factory=lambda: _env_int("FAKELENS_QUEUE", 16))
    api_key: str | None = field(default_factory=lambda: os.environ.get("FAKELENS_API_KEY") or None)
    video_frames: int = 16
    max_video_frames: int = 64
    lime_samples: int = 300
