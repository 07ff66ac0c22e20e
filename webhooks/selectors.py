from django.db.models import QuerySet

from core.errors import NotFound
from webhooks.models import Event, WebhookEndpoint


def endpoint_list(*, merchant, mode: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant=merchant, mode=mode)


def endpoint_get(*, merchant, mode: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = endpoint_list(merchant=merchant, mode=mode).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("not_found", f"No webhook endpoint {endpoint_id}.", param="id")
    return endpoint


def event_list(*, merchant, mode: str, type: str | None = None) -> QuerySet[Event]:
    qs = Event.objects.filter(merchant=merchant, mode=mode)
    if type:
        qs = qs.filter(type=type)
    return qs.order_by("-created_at", "-id")


def event_get(*, merchant, mode: str, event_id: str) -> Event:
    event = Event.objects.filter(merchant=merchant, mode=mode, pk=event_id).first()
    if event is None:
        raise NotFound("not_found", f"No event {event_id}.", param="id")
    return event
