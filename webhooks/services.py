"""Everything that writes webhook endpoints, events and deliveries.

Events and their delivery rows are written in the caller's transaction; the first attempt is
enqueued only after commit; retries and deliveries whose worker died are picked up by the
beat job `dispatch_due`. Every attempt loads the delivery again and claims it, so a
duplicate task is harmless.
"""

from __future__ import annotations

import json
import logging
import random
import secrets as pysecrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from core import fastsql, secretbox
from core.errors import Invalid
from core.fastsql import Statement
from core.times import iso_utc
from merchants.models import Notice, NoticeKind
from webhooks import transport
from webhooks.events import EVENT_TYPES
from webhooks.models import Attempt, Delivery, DeliveryStatus, Event, EventType, WebhookEndpoint

logger = logging.getLogger("fluxa.webhooks")

# Seconds to wait after attempt n (1-based) fails: about two days in all.
SCHEDULE = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
JITTER = 0.1
CLAIM_SECONDS = 60


def _new_secret() -> str:
    return "whsec_" + pysecrets.token_urlsafe(32)


def _check_events(types: list[str]) -> list[str]:
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise Invalid("parameter_invalid", f"Unknown event type {unknown[0]!r}; see GET /api/v1/event_types.",
                      param="enabled_events")
    return types or ["*"]


def _check_url(url: str, mode: str) -> None:
    """Refused in every mode (docs/security.md); where the operator allows private targets
    there is nothing to resolve now: the delivery resolves and checks again anyway."""
    try:
        transport.check_url(url, mode=mode, resolve_host=not settings.FLUXA_WEBHOOK_ALLOW_PRIVATE)
    except transport.UnsafeUrl as exc:
        raise Invalid("url_not_allowed", str(exc), param="url") from None


# --- endpoints -----------------------------------------------------------------------------------


def endpoint_create(*, merchant, mode: str, url: str, enabled_events: list[str] | None = None,
                    description: str = "") -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret, returned this once."""
    _check_url(url, mode)
    secret = _new_secret()
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant, mode=mode, url=url, description=description,
        enabled_events=_check_events(enabled_events or ["*"]), secret_encrypted=secretbox.encrypt(secret),
    )
    return endpoint, secret


def endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    fields = []
    if "url" in changes:
        _check_url(changes["url"], endpoint.mode)
        endpoint.url = changes["url"]
        fields.append("url")
    if "enabled_events" in changes:
        endpoint.enabled_events = _check_events(changes["enabled_events"])
        fields.append("enabled_events")
    if "description" in changes:
        endpoint.description = changes["description"]
        fields.append("description")
    if "enabled" in changes:
        endpoint.enabled = changes["enabled"]
        fields.append("enabled")
        if endpoint.enabled:
            endpoint.disabled_reason = ""
            fields.append("disabled_reason")
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, overlap_seconds: int) -> str:
    """A new secret, returned this once; the old one keeps signing for `overlap_seconds`."""
    secret = _new_secret()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret_encrypted = locked.secret_encrypted if overlap_seconds else ""
        locked.previous_secret_expires_at = timezone.now() + timedelta(seconds=overlap_seconds) if overlap_seconds else None
        locked.secret_encrypted = secretbox.encrypt(secret)
        locked.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at",
                                   "updated_at"])
    endpoint.refresh_from_db()
    return secret


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()  # its deliveries go with it; events stay


# --- events ------------------------------------------------------------------------------------------


def event_statements(*, merchant_id: str, mode: str, type: str, data: dict) -> tuple[Event, list[Statement]]:
    """The event row and a delivery per enabled endpoint of (merchant, mode) subscribed to
    `type`, as statements for core.fastsql.execute: the deliveries' ids are the rows the
    last one returns (hand them to event_emitted). The endpoints are chosen by the database in
    the same statement, so a charge needs no round trip to read them."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unregistered event type {type!r}")
    event = Event(merchant_id=merchant_id, mode=mode, type=type, data=data)
    now = timezone.now()
    vendor = connection.vendor
    if vendor == "postgresql":
        subscribed = "(ep.enabled_events @> %s::jsonb OR ep.enabled_events @> '[\"*\"]'::jsonb)"
        subscribed_params = [json.dumps([type])]
    else:  # SQLite (make run)
        subscribed = "EXISTS (SELECT 1 FROM json_each(ep.enabled_events) WHERE json_each.value IN (%s, '*'))"
        subscribed_params = [type]
    deliveries = fastsql.insert_select(
        Delivery(event=event, endpoint_id=None, next_attempt_at=now), exprs={"endpoint_id": "ep.id"},
        source=f"{WebhookEndpoint._meta.db_table} ep WHERE ep.merchant_id = %s AND ep.mode = %s AND ep.enabled "
               f"AND {subscribed}",
        params=[merchant_id, mode, *subscribed_params], returning="id",
    )
    return event, [fastsql.insert(event), deliveries]


def event_emitted(delivery_ids: list[int]) -> None:
    """The first attempts of these deliveries go out after commit, never if it rolls back."""
    if delivery_ids:
        transaction.on_commit(lambda: enqueue(delivery_ids))


def event_emit(*, merchant, mode: str, type: str, data: dict) -> Event:
    """Write the event and a delivery per subscribed endpoint, in the caller's transaction
    (one round trip); the first attempts are enqueued after commit, and never if it rolls back."""
    event, statements = event_statements(merchant_id=getattr(merchant, "pk", merchant), mode=mode, type=type,
                                         data=data)
    rows = fastsql.execute(statements)
    fastsql.mark_saved(event)
    event_emitted([row[0] for row in rows])
    return event


@dataclass(frozen=True)
class NewEvent:
    """One event for events_emit."""
    merchant_id: str
    mode: str
    type: str
    data: dict


def events_emit(events: list[NewEvent]) -> list[Event]:
    """event_emit for many events at once, in the caller's transaction: on PostgreSQL the
    events in one INSERT and their deliveries (one per enabled endpoint of the event's merchant
    and mode subscribed to its type) in one INSERT ... SELECT, made in the events' order;
    elsewhere one event_emit each. The first attempts are enqueued after commit."""
    for new in events:
        if new.type not in EVENT_TYPES:
            raise ValueError(f"unregistered event type {new.type!r}")
    if connection.vendor != "postgresql":
        return [event_emit(merchant=e.merchant_id, mode=e.mode, type=e.type, data=e.data) for e in events]
    rows = [Event(merchant_id=e.merchant_id, mode=e.mode, type=e.type, data=e.data) for e in events]
    if not rows:
        return []
    fastsql.insert_many(rows, increasing="created_at")
    template = Delivery(endpoint_id=None, next_attempt_at=timezone.now())
    deliveries = fastsql.insert_select(
        template, exprs={"event_id": "e.id", "endpoint_id": "ep.id"},
        source=f"unnest(%s::text[]) WITH ORDINALITY AS x(id, n) JOIN {Event._meta.db_table} e ON e.id = x.id "
               f"JOIN {WebhookEndpoint._meta.db_table} ep ON ep.merchant_id = e.merchant_id AND ep.mode = e.mode "
               "AND ep.enabled AND (ep.enabled_events @> jsonb_build_array(e.type) "
               "OR ep.enabled_events @> '[\"*\"]'::jsonb) ORDER BY x.n, ep.id",
        params=[[event.id for event in rows]], returning="id")
    event_emitted([row[0] for row in fastsql.execute([deliveries])])
    return rows


DELIVER_TASK = "webhooks.tasks.deliver"  # webhooks/tasks.py: the worker's side of a delivery


def enqueue(delivery_ids: list[int]) -> None:
    """One delivery task per id, sent by name: the tasks module calls these services, so
    they do not import it back."""
    for delivery_id in delivery_ids:
        try:
            current_app.send_task(DELIVER_TASK, args=[delivery_id])
        except Exception:  # broker down: the beat job dispatch_due picks it up later
            logger.warning("could not enqueue webhook delivery %s; beat will retry it", delivery_id)


def event_body(event: Event) -> bytes:
    """The exact bytes that are signed and sent (CONTRACT.md)."""
    payload = {"id": event.id, "type": event.type,
               "created_at": iso_utc(event.created_at), "data": event.data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """A `webhook.test` event delivered to this endpoint only (whatever it subscribes to), signed
    and retried like any other: the receiver's code can be checked without a real change."""
    with transaction.atomic():
        event = Event.objects.create(merchant_id=endpoint.merchant_id, mode=endpoint.mode, type=EventType.WEBHOOK_TEST,
                                     data={"endpoint_id": endpoint.id, "message": "A test event from fluxa."})
        delivery = Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now())
        transaction.on_commit(lambda: enqueue([delivery.pk]))
    return delivery


def event_redeliver(*, event: Event, endpoint: WebhookEndpoint | None = None) -> list[Delivery]:
    """Send the same event (same id) again to its endpoints (or one), now."""
    now = timezone.now()
    endpoints = [endpoint] if endpoint else list(
        WebhookEndpoint.objects.filter(merchant=event.merchant_id, mode=event.mode, enabled=True))
    with transaction.atomic():
        deliveries = []
        for target in endpoints:
            delivery, _ = Delivery.objects.get_or_create(event=event, endpoint=target)
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.PENDING, next_attempt_at=now, locked_until=None, updated_at=now)
            deliveries.append(delivery)
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: enqueue(ids))
    return deliveries


# --- delivering ------------------------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take a due delivery for one attempt; false when it is not due or another worker has it."""
    return bool(Delivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
    ).update(locked_until=now + timedelta(seconds=claim_seconds())))


def claim_seconds() -> float:
    """How long a claimed delivery is left alone: always longer than one attempt can last
    (the transport's deadline covers the whole request), so no attempt is sent twice at once."""
    return max(CLAIM_SECONDS, settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS + 30)


def next_delay(attempt_number: int, rng: random.Random | None = None) -> float | None:
    """Seconds before the attempt after `attempt_number`, with ±10 % jitter; None when the
    schedule is over."""
    if attempt_number > len(SCHEDULE):
        return None
    base = SCHEDULE[attempt_number - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Attempt | None:
    """One attempt of one delivery (the Celery task calls this). Idempotent: a delivery that is
    not due, already done, or claimed by another worker is left alone."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.enabled:
        Delivery.objects.filter(pk=delivery_id).update(status=DeliveryStatus.CANCELED, locked_until=None)
        return None

    # The HTTP call happens outside any transaction and holds no row lock: only the claim.
    outcome = transport.post(url=endpoint.url, mode=endpoint.mode, event_id=event.id, body=event_body(event),
                        secrets=endpoint.signing_secrets(now), timestamp=int(now.timestamp()))

    number = delivery.attempt_count + 1
    with transaction.atomic():
        attempt = Attempt.objects.create(
            delivery=delivery, number=number, attempted_at=now, duration_ms=outcome.duration_ms,
            response_status=outcome.status, response_excerpt=outcome.excerpt, error=outcome.error[:500],
        )
        update = {"attempt_count": F("attempt_count") + 1, "locked_until": None,
                  "last_response_status": outcome.status, "last_error": outcome.error[:500],
                  "receiver_fault": outcome.receiver_fault, "updated_at": now}
        if outcome.ok:
            update.update(status=DeliveryStatus.SUCCEEDED, delivered_at=now, next_attempt_at=None)
        else:
            delay = next_delay(number)
            if delay is None:
                update.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
            else:
                update["next_attempt_at"] = now + timedelta(seconds=delay)
        Delivery.objects.filter(pk=delivery_id).update(**update)
        if not outcome.ok and update.get("status") == DeliveryStatus.FAILED:
            _disable_if_failing(endpoint, since=delivery.created_at, now=now)
    return attempt


def _disable_if_failing(endpoint: WebhookEndpoint, *, since: datetime, now: datetime) -> None:
    """An endpoint that failed a delivery's whole schedule, with no success since that delivery
    began, is disabled, and the merchant gets a notice."""
    if Delivery.objects.filter(endpoint=endpoint, delivered_at__gte=since).exists():
        return
    reason = (f"Disabled on {now:%Y-%m-%d %H:%M} UTC: every delivery failed for "
              f"{sum(SCHEDULE) // 3600} hours. Fix the receiver, then re-enable the endpoint.")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason, updated_at=now)
    Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELED, updated_at=now)
    Notice.objects.create(merchant_id=endpoint.merchant_id, mode=endpoint.mode,
                          kind=NoticeKind.WEBHOOK_ENDPOINT_DISABLED,
                          message=f"Webhook endpoint {endpoint.id} ({endpoint.url}): {reason}")
    logger.warning("webhook endpoint %s disabled after its schedule failed", endpoint.id)


def dispatch_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """The beat job: enqueue every pending delivery that is due and not claimed by a live
    worker, which covers retries and tasks lost with a crashed worker."""
    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
    enqueue(ids)
    return ids
