"""Numeric settings read from ``FAKELENS_*`` environment variables, checked: a bad one is one clear line, not a traceback."""

from __future__ import annotations

import math
import os

from ..errors import ConfigError


def env_number(name: str, default: int | float, kind: type = int, least: int | float | None = None) -> int | float:
    """``$name`` as ``kind`` (int or float), or ``default`` when it is unset or empty.

    :class:`~fakelens.errors.ConfigError` names the variable when its value is not a
    number of that kind, is not finite, or is below ``least``.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}={text!r} is not a finite number")
    if least is not None and value < least:
        raise ConfigError(f"{name}={text!r} must be at least {least}")
    return value
