"""Service settings: every limit, pool size, timeout and access rule of ``fakelens serve``.

Each field can be set with a ``FAKELENS_<FIELD>`` environment variable
(``FAKELENS_MAX_IMAGE_MB=20``, ``FAKELENS_CORS_ORIGINS=https://a.example,https://b.example``)
or passed to :class:`ServiceSettings` directly; values are validated by
pydantic, so a wrong one stops the server at start-up with a clear message.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MB = 2**20


def _default_pixel_limit() -> int:
    from ..imaging import imageio  # one default for the CLI and the service

    return imageio.MAX_IMAGE_PIXELS


def host_header_name(host: str) -> str:
    """``host`` as a Host header names it (and Starlette's trusted-host check compares): an IPv6 literal in
    brackets and short form (``::1`` -> ``[::1]``), anything else lower-case."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower()
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def _comma_list(value):
    """``"a, b"`` -> ``["a", "b"]`` (environment variables hold one string)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAKELENS_", validate_assignment=True, extra="forbid", populate_by_name=True)

    # ---------------------------------------------------------------- uploads
    max_image_mb: float = Field(15, gt=0, le=1024, description="largest image upload (MB)")
    max_video_mb: float = Field(100, gt=0, le=4096, description="largest video upload (MB)")
    max_image_pixels: int = Field(
        default_factory=lambda: _default_pixel_limit(), ge=1, le=178_956_970, description="largest image or video frame (pixels)"
    )
    max_form_fields: int = Field(8, ge=3, le=64, description="form fields besides the file (explain, frames, crop)")
    body_timeout_s: float = Field(120, gt=0, le=3600, description="the whole upload must arrive within this many seconds")

    # ---------------------------------------------------------------- work
    workers: int = Field(2, ge=1, le=64, description="detection threads")
    # Requests allowed to wait for a worker; one more gets 503 at once instead of piling up.
    queue_size: int = Field(16, ge=0, le=1024, validation_alias=AliasChoices("queue_size", "FAKELENS_QUEUE", "FAKELENS_QUEUE_SIZE"))
    video_frames: int = Field(16, ge=1, le=1024)
    max_video_frames: int = Field(64, ge=1, le=1024)
    max_decode_frames: int = Field(10_000, ge=1, description="frames a video may cost to decode (sparse keyframes decode everything)")
    max_decode_seconds: float = Field(30, gt=0, le=3600, description="seconds a video may cost to decode")
    max_faces: int = Field(32, ge=1, le=1024, description="faces scored per image or video frame (the most confident)")

    # ---------------------------------------------------------------- explanations (their own small pool)
    max_explained_faces: int = Field(8, ge=1, le=256)
    explain_workers: int = Field(1, ge=1, le=16)
    explain_queue: int = Field(2, ge=0, le=64, description="explanation requests allowed to wait")
    explain_timeout_s: float = Field(60, gt=0, le=3600, description="explanations stop after this many seconds (the faces done are kept)")
    lime_samples: int = Field(300, ge=10, le=10_000)

    # ---------------------------------------------------------------- connections (uvicorn)
    header_timeout_s: float = Field(10, gt=0, le=600, description="a request's headers must arrive within this many seconds")
    keep_alive_s: int = Field(5, ge=1, le=600)
    max_header_kb: int = Field(16, ge=1, le=1024, description="largest request head (h11)")
    max_connections: int = Field(64, ge=1, le=100_000, description="open connections; more get 503")

    # ---------------------------------------------------------------- access
    api_key: SecretStr | None = None
    api_key_file: Path | None = Field(None, description="read the API key from this file (keeps it off the command line)")
    # What ``serve --processes N`` hands its workers: they only compare digests, so no copy of the key is needed.
    api_key_sha256: SecretStr | None = Field(None, description="the API key's SHA-256 (64 hex digits) in place of the key")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="origins allowed to call the API from a browser")
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list, description="accepted Host headers (empty: any)")
    insecure_open: bool = Field(False, description="serve beyond loopback with neither an API key nor trusted hosts (refused otherwise)")

    _split = field_validator("cors_origins", "trusted_hosts", mode="before")(_comma_list)

    @model_validator(mode="before")
    @classmethod
    def _accept_bytes(cls, data):
        """``max_image_bytes=`` / ``max_video_bytes=`` as in earlier versions."""
        if isinstance(data, dict):
            data = dict(data)
            for kind in ("image", "video"):
                if f"max_{kind}_bytes" in data:
                    data[f"max_{kind}_mb"] = int(data.pop(f"max_{kind}_bytes")) / MB
        return data

    @field_validator("api_key", "api_key_sha256", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value):
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _read_key_file(self):
        if self.api_key_file is not None and self.api_key is None:
            try:
                key = self.api_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read the API key file {self.api_key_file}: {exc.strerror or exc}") from None
            if not key:
                raise ValueError(f"the API key file {self.api_key_file} is empty")
            object.__setattr__(self, "api_key", SecretStr(key))
        return self

    @field_validator("api_key_sha256")
    @classmethod
    def _digest_is_hex(cls, digest: SecretStr | None) -> SecretStr | None:
        if digest is not None:
            text = digest.get_secret_value().strip().lower()
            if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
                raise ValueError("must be 64 hex digits (sha256sum of the key)")
            digest = SecretStr(text)
        return digest

    @field_validator("trusted_hosts")
    @classmethod
    def _hosts_as_headers_name_them(cls, hosts: list[str]) -> list[str]:
        return [host_header_name(h) for h in hosts]

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} must look like https://host[:port] (or be *)")
        return [o.rstrip("/") for o in origins]

    # ---------------------------------------------------------------- derived values
    @property
    def max_image_bytes(self) -> int:
        return round(self.max_image_mb * MB)

    @property
    def max_video_bytes(self) -> int:
        return round(self.max_video_mb * MB)

    @property
    def max_request_bytes(self) -> int:
        """The largest body worth reading: the larger file limit plus room for the form around it."""
        return max(self.max_image_bytes, self.max_video_bytes) + 64 * 1024

    def api_key_value(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def api_key_digest(self) -> bytes | None:
        """SHA-256 of the key (the key's own, else ``api_key_sha256``); None when no key is required."""
        if self.api_key is not None:
            return hashlib.sha256(self.api_key.get_secret_value().encode()).digest()
        return bytes.fromhex(self.api_key_sha256.get_secret_value()) if self.api_key_sha256 is not None else None

    @property
    def key_required(self) -> bool:
        return self.api_key is not None or self.api_key_sha256 is not None


def load_settings(**overrides) -> ServiceSettings:
    """Settings from the environment and ``overrides``; a bad value raises one readable line."""
    from ..errors import FakelensError

    try:
        return ServiceSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise FakelensError(f"invalid service settings (FAKELENS_* variables or options): {problems}") from None


def format_mb(n_bytes: int) -> str:
    """``15 MB`` for 15 MiB (not the ``14 MB`` that integer division gave)."""
    return f"{n_bytes / MB:.4g} MB"
