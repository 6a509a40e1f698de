"""Command-line options generated from a validated config class, so that names, types and help live in one place.

Every option defaults to None ("not given"): a config file's value then stands, and the config class fills in
its own default. Values are checked by the config class itself (the same checks as for a YAML file).
"""

from __future__ import annotations

import argparse
import types
import typing
from typing import Any, Literal


def _plain(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (it, False)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bounded(kind: type, bounds: list) -> Any:
    """argparse ``type``: the text as ``kind``, within the field's ``ge``/``gt``/``le``/``lt`` bounds (a usage error, not a crash later)."""
    checks = [
        (b.ge, lambda v, x: v >= x, "at least")
        if hasattr(b, "ge")
        else (b.gt, lambda v, x: v > x, "more than")
        if hasattr(b, "gt")
        else (b.le, lambda v, x: v <= x, "at most")
        if hasattr(b, "le")
        else (b.lt, lambda v, x: v < x, "less than")
        for b in bounds
        if any(hasattr(b, k) for k in ("ge", "gt", "le", "lt"))
    ]

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        for limit, ok, words in checks:
            if not ok(value, limit):
                raise argparse.ArgumentTypeError(f"must be {words} {limit} (got {value})")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def argparse_kwargs(annotation: Any, description: str | None, bounds: list | None = None) -> dict[str, Any]:
    """How argparse should read a field of this type (``bounds``: the field's annotated-types constraints)."""
    kind, _ = _plain(annotation)
    kwargs: dict[str, Any] = {"default": None, "help": description}
    origin = typing.get_origin(kind)
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif origin is Literal:
        kwargs["choices"] = list(typing.get_args(kind))
    elif origin in (list, tuple):
        kwargs["action"] = "append"
    elif kind in (int, float):
        kwargs["type"] = _bounded(kind, bounds or [])
    elif kind is str:
        kwargs["type"] = str
    else:
        raise TypeError(f"no command-line form for a field of type {annotation!r}")
    return kwargs


def add_config_options(
    parser: argparse.ArgumentParser, config_cls: type, skip: tuple[str, ...] = (), flags: dict[str, str] | None = None
) -> list[str]:
    """One ``--field-name`` option per field of a pydantic (data)class; returns the destinations added.

    ``flags`` renames an option (e.g. a list field ``distill_sources`` given once per item as ``--distill-source``).
    """
    fields = getattr(config_cls, "__pydantic_fields__", None) or config_cls.model_fields
    added = []
    for name, info in fields.items():
        if name in skip:
            continue
        flag = (flags or {}).get(name, "--" + name.replace("_", "-"))
        parser.add_argument(flag, dest=name, **argparse_kwargs(info.annotation, info.description, info.metadata))
        added.append(name)
    return added
