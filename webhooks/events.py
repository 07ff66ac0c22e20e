"""The registry of event types and their payloads. Add a type to webhooks.models.EventType,
then emit it with webhooks.services.event_emit in the transaction of the change it announces."""

from __future__ import annotations

from webhooks.models import EventType

EVENT_TYPES: dict[str, str] = dict(EventType.choices)  # type -> what happened
