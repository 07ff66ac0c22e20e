"""The API's one JSON parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): the single place where
a client's body becomes data, so every bound on it lives here, before anything reads or stores
a value (docs/security.md, "Input"):

- size: the body was read by the signature check, within DATA_UPLOAD_MAX_MEMORY_SIZE (413);
- nesting: at most MAX_DEPTH levels of arrays and objects, counted on the raw bytes before the
  JSON parser runs. A chain library (py_ecc, through eth_account) raises the interpreter's
  recursion limit to 100,000, so a deeply nested document would overflow the C stack inside
  `json.loads` and kill the worker instead of raising;
- text: valid UTF-8, and no NUL character or lone surrogate in any key or string (neither can be
  stored in PostgreSQL, nor written back out as UTF-8);
- numbers: no NaN or Infinity, and integers of at most MAX_INTEGER_DIGITS digits.
"""

from __future__ import annotations

import json
import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.text import forbidden_character

MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 30
# Strings (with their escapes) are skipped; what is left are the brackets that nest.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """The deepest nesting of `raw` as JSON, counted without parsing it; stops counting once
    past `limit` (so the scan is linear and never recursive)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def _constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError("integer too long")
    return int(text)


def check_strings(value, path: str = "") -> None:
    """ParseError for the first key or string holding a character that cannot be stored.
    Recursion is safe: the depth was bounded before parsing."""
    if isinstance(value, str):
        bad = forbidden_character(value)
        if bad is not None:
            raise ParseError(f"{path or 'The body'} contains a character that is not allowed "
                             f"(U+{ord(bad):04X}).")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, path)
            check_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_strings(item, f"{path}[{index}]")


def load(raw: bytes):
    """The JSON document `raw`, or ParseError: the rules above, for any JSON from a client."""
    if nesting_depth(raw) > MAX_DEPTH:
        raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("The body is not valid UTF-8.") from None
    try:
        data = json.loads(text, parse_constant=_constant, parse_int=_integer)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"JSON parse error: {str(exc)[:200]}") from None
    check_strings(data)
    return data


class SafeJSONParser(parsers.JSONParser):
    """DRF's JSONParser with the bounds above."""

    def parse(self, stream, media_type=None, parser_context=None):
        return load(stream.read())  # DRF hands JSON parsers the body already read, as BytesIO
