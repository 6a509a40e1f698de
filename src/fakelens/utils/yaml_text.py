"""YAML parser errors said in one line (PyYAML's own message spans several, with a code excerpt)."""

from __future__ import annotations


def yaml_error_line(exc: Exception) -> str:
    """What the parser found wrong and where: ``expected ',' or ']', but got '<stream end>' at line 3, column 1``."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}" + (f" ({context})" if context else "")
