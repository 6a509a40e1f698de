"""A request the service refuses, with the HTTP status and the one-line reason the client sees."""

from __future__ import annotations


class Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
