"""Text that PostgreSQL (and JSON) can store: no NUL character, no lone UTF-16 surrogate.

PostgreSQL refuses U+0000 in text and jsonb, and a lone surrogate (which Python's json module
decodes from "\\ud800") cannot be encoded as UTF-8 at all: either one stored or sent would fail
later, far from its cause. Input refuses them (`forbidden_character`); text fluxa received from
elsewhere (a webhook receiver's reply) is cleaned with `printable`.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def forbidden_character(text: str) -> str | None:
    """The first character of `text` that cannot be stored, or None."""
    found = _FORBIDDEN.search(text)
    return found.group() if found else None


def storable(text: str) -> str:
    """`text` with each NUL and lone surrogate replaced by U+FFFD."""
    return _FORBIDDEN.sub("\ufffd", text)
