"""The errors domain code raises: a code of our own, a sentence, the parameter at fault.

    raise Unprocessable("no_route", "No enabled channel collects EUR on 'tron'.", param="network")

The kind of error (its class) says what went wrong in domain terms; it carries no HTTP
status. The API's exception handler (api/errors.py) maps each kind to its status and writes
the envelope {"error": {"code", "message", "param", **extra}}.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the caller can act on. `extra` keys are added to the error envelope."""

    def __init__(self, code: str, message: str, param: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.extra = extra

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, param={self.param!r})"


class Invalid(DomainError):
    """The input itself is wrong (a bad value, a missing choice)."""


class Unauthenticated(DomainError):
    """The caller could not be identified (a bad key, signature, timestamp or a replay)."""


class Forbidden(DomainError):
    """The caller is known but may not do this (a live key on a test-only operation)."""


class NotFound(DomainError):
    """No such object for this caller."""


class Conflict(DomainError):
    """The object's current state refuses the operation (a transition, a reused id)."""


class Unprocessable(DomainError):
    """Well-formed input the domain cannot act on (no route, out of range, no rate)."""


class Unavailable(DomainError):
    """A dependency is not ready (a lagging chain node); retry later."""
