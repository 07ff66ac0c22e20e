from django.db.models import QuerySet
from django.db.models.fields.json import KT

from core.errors import NotFound
from webhooks.models import Delivery, Event, WebhookEndpoint


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


def delivery_list(*, merchant, mode: str, endpoint_id: str | None = None, status: str | None = None,
                  event_type: str | None = None, order_id: str | None = None) -> QuerySet[Delivery]:
    """Deliveries of (merchant, mode), newest first, with their event, endpoint and attempts."""
    qs = Delivery.objects.filter(event__merchant=merchant, event__mode=mode)
    if endpoint_id:
        qs = qs.filter(endpoint_id=endpoint_id)
    if status:
        qs = qs.filter(status=status)
    if event_type:
        qs = qs.filter(event__type=event_type)
    if order_id:
        qs = qs.filter(event__in=order_event_list(merchant=merchant, mode=mode, order_id=order_id).values("id"))
    return (qs.select_related("event", "endpoint").prefetch_related("attempts")
            .order_by("-created_at", "-id"))


def order_event_list(*, merchant, mode: str, order_id: str) -> QuerySet[Event]:
    """The webhook events that announce a change of one order (served by event_order_idx: the
    same expression)."""
    return event_list(merchant=merchant, mode=mode).alias(order_ref=KT("data__order__id")).filter(order_ref=order_id)
