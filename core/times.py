"""How fluxa writes a point in time: ISO 8601 in UTC with a Z (the API, webhook payloads)."""

from __future__ import annotations

import datetime


def iso_utc(value: datetime.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, microseconds only when there are some: what DRF writes with
    TIME_ZONE = "UTC", without DRF's per-value lookup of the active time zone. Times are
    written in UTC whatever time zone a request may have activated. None (and an empty
    value) is None."""
    if not value:
        return None
    text = value.astimezone(datetime.timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
