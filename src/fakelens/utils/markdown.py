"""Text from runs and datasets (names chosen by whoever made them) written into Markdown as literal text."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

# Characters that start Markdown syntax inline (emphasis, links, images, code, tables, headings).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text for a table cell or a heading: one line, ``< > &`` as HTML
    entities and the Markdown characters backslash-escaped, so that a run named
    ``<img src=x onerror=...>`` or ``a | b`` or ``[x](https://...)`` shows as it is."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_link_target(path: str) -> str:
    """A relative path as a Markdown link target: percent-encoded (spaces, parentheses, ``<``), ``/`` kept."""
    return quote(path, safe="/")
