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
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
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
            endpoint.circuit_open_until = None  # re-enabled: sent to at once, not after a breaker's pause
            fields.extend(["disabled_reason", "circuit_open_until"])
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


DELIVER_TASK = "webhooks.tasks.deliver"  # webhooks/tasks.py: kept for messages already queued
BATCH_TASK = "webhooks.tasks.deliver_batch"  # webhooks/tasks.py: the worker's side of delivering
ENQUEUE_CHUNK = 200  # ids per batch task sent


def enqueue(delivery_ids: list[int]) -> None:
    """Wake the batch workers for these deliveries: one batch task per ENQUEUE_CHUNK ids, sent
    by name (the tasks module calls these services, so they do not import it back). A batch
    claims whatever is due, these included, so a task that finds them taken by another batch
    is harmless."""
    for start in range(0, len(delivery_ids), ENQUEUE_CHUNK):
        chunk = delivery_ids[start:start + ENQUEUE_CHUNK]
        try:
            current_app.send_task(BATCH_TASK, args=[chunk])
        except Exception:  # broker down: the beat job dispatch_due picks them up later
            logger.warning("could not enqueue webhook deliveries %s..%s; beat will retry them", chunk[0], chunk[-1])


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


def claim_seconds() -> float:
    """How long a claimed delivery is left alone (its lease): always longer than one attempt can
    last (the transport's deadline covers the whole request, and a batch sends what it claims at
    once), so no attempt is sent twice at once, and a lease left by a dead worker expires."""
    return max(CLAIM_SECONDS, settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS + 30)


def next_delay(attempt_number: int, rng: random.Random | None = None) -> float | None:
    """Seconds before the attempt after `attempt_number`, with ±10 % jitter; None when the
    schedule is over."""
    if attempt_number > len(SCHEDULE):
        return None
    base = SCHEDULE[attempt_number - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Attempt | None:
    """One attempt of one delivery, through the batch path (deliveries_run). Idempotent: a
    delivery that is not due, already done, or claimed by another worker is left alone (None)."""
    attempts = deliveries_run(ids=[delivery_id], now=now, threads=1)
    return attempts[0] if attempts else None


def _breaker_counts(outcome: transport.Outcome) -> bool:
    """A failure that says the receiver is down or overwhelmed (no answer, 5xx, 408, 429); a
    4xx or 3xx is an answer from a live receiver and leaves the breaker alone."""
    return outcome.status is None or outcome.status >= 500 or outcome.status in (408, 429)


def _subject(delivery: Delivery) -> tuple | None:
    """What the delivery is about, for the ordering rule: (endpoint, order id) for an order's
    events, None for the rest (docs/webhooks.md, "Order")."""
    data = delivery.event.data
    order = data.get("order") if isinstance(data, dict) else None
    order_id = order.get("id") if isinstance(order, dict) else None
    return (delivery.endpoint_id, order_id) if order_id else None


@dataclass
class _Job:
    delivery: Delivery
    number: int
    url: str
    mode: str
    event_id: str
    body: bytes
    secrets: list[str]
    now: datetime | None  # the caller's clock (tests), else the moment the POST starts
    send_by: float  # time.monotonic() after which the lease is too short to start the attempt


@dataclass
class _Done:
    job: _Job
    attempted_at: datetime
    outcome: transport.Outcome


def _send(job: _Job) -> _Done:
    """One POST, in a pool thread: no database here."""
    at = job.now or timezone.now()
    started = time.monotonic()
    try:
        outcome = transport.post(url=job.url, mode=job.mode, event_id=job.event_id, body=job.body,
                                 secrets=job.secrets, timestamp=int(at.timestamp()))
    except Exception as exc:  # post never raises; if it did, this attempt fails, not the batch
        logger.exception("webhook delivery %s: the transport raised", job.delivery.pk)
        outcome = transport.Outcome(None, "", f"internal error: {exc.__class__.__name__}",
                                    int((time.monotonic() - started) * 1000))
    return _Done(job, at, outcome)


class _Sender:
    """The threads of one batch run and the claimed deliveries waiting for them, per endpoint:
    a delivery starts as soon as a thread is free and its endpoint has fewer than its cap in
    flight, endpoints taking turns. Finished attempts go to `results` for the main thread to
    record; sending never waits for the database."""

    def __init__(self, pool: ThreadPoolExecutor, threads: int, cap):
        self.pool, self.threads, self.cap = pool, threads, cap
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.RLock()
        self._waiting: dict[str, deque[_Job]] = {}
        self._inflight: dict[str, int] = {}
        self._running = 0
        self._failures: dict[str, int] = {}  # consecutive failures that count for the breaker
        self._tripped: set[str] = set()  # breaker tripped: none of its deliveries is started
        self._on_trial: set[str] = set()

    def add(self, jobs: list[_Job]) -> None:
        with self._lock:
            for job in jobs:
                self._waiting.setdefault(job.delivery.endpoint_id, deque()).append(job)
            self._pump()

    def drop(self, endpoint_id: str) -> list[_Job]:
        """The endpoint's claimed deliveries not started yet (its breaker opened)."""
        with self._lock:
            self._tripped.discard(endpoint_id)
            return list(self._waiting.pop(endpoint_id, ()))

    def take_tripped(self) -> set[str]:
        """The endpoints whose breaker tripped since the last call (they stay stopped until
        `drop`)."""
        with self._lock:
            return set(self._tripped)

    def on_trial(self, endpoint_id: str) -> None:
        with self._lock:
            self._on_trial.add(endpoint_id)

    def _pump(self) -> None:
        while self._running < self.threads:
            started = False
            for endpoint_id in list(self._waiting):
                if self._running >= self.threads:
                    break
                if endpoint_id in self._tripped or self._inflight.get(endpoint_id, 0) >= self.cap(endpoint_id):
                    continue
                waiting = self._waiting[endpoint_id]
                job = waiting.popleft()
                if not waiting:
                    del self._waiting[endpoint_id]
                started = True
                if time.monotonic() > job.send_by:  # waited too long: its lease would not outlast it
                    self.results.put(("stale", job))
                    continue
                self._inflight[endpoint_id] = self._inflight.get(endpoint_id, 0) + 1
                self._running += 1
                self.pool.submit(_send, job).add_done_callback(self._finished)
            if not started:
                return

    def _finished(self, future: Future) -> None:
        done = future.result()  # _send never raises
        endpoint_id = done.job.delivery.endpoint_id
        with self._lock:
            self._inflight[endpoint_id] -= 1
            self._running -= 1
            if _breaker_counts(done.outcome):
                self._failures[endpoint_id] = self._failures.get(endpoint_id, 0) + 1
                if (endpoint_id in self._on_trial
                        or self._failures[endpoint_id] >= settings.FLUXA_WEBHOOK_BREAKER_FAILURES):
                    self._tripped.add(endpoint_id)
                    self._failures.pop(endpoint_id, None)
            else:
                self._failures.pop(endpoint_id, None)
                self._on_trial.discard(endpoint_id)
            self._pump()
        self.results.put(("done", done))


def _bucket(want: int) -> int:
    """Rows to read for a claim of `want`: a power of two from 16, so that the claim's statement
    has a handful of texts, each prepared once."""
    return 1 << max(4, (want - 1).bit_length())


class _Batch:
    """The state of one run of deliveries_run: the deliveries claimed and not yet recorded, per
    endpoint and per order; the breaker's consecutive failures; the endpoints on trial."""

    def __init__(self, *, ids, now, per_endpoint):
        self.ids = ids
        self.fixed_now = now
        self.per_endpoint = per_endpoint
        self.claimed: dict[str, int] = {}  # endpoint -> claimed, not yet recorded
        self.total = 0
        self.subjects: set[tuple] = set()  # (endpoint, order) pairs claimed, not yet recorded
        self.trial: set[str] = set()
        self.attempts: list[Attempt] = []
        self.sender: _Sender | None = None

    def now(self) -> datetime:
        return self.fixed_now or timezone.now()

    def cap(self, endpoint_id: str) -> int:
        """In flight at once to one endpoint: one while it is on trial after its breaker opened."""
        return 1 if endpoint_id in self.trial else self.per_endpoint

    def allowance(self, endpoint_id: str) -> int:
        """How many more of the endpoint's deliveries may be claimed: its cap in flight and
        CLAIM_AHEAD - 1 times as many waiting for a slot (sending never waits for a claim or a
        record), one at a time on trial."""
        held = self.claimed.get(endpoint_id, 0)
        return 1 - held if endpoint_id in self.trial else CLAIM_AHEAD * self.per_endpoint - held

    def claim(self, want: int) -> list[_Job]:
        """Claim up to `want` due deliveries (SELECT ... FOR UPDATE SKIP LOCKED, then a lease in
        locked_until), at most each endpoint's allowance, one per order and endpoint at a time;
        endpoints at their allowance and endpoints whose breaker is open are not even read.
        Deliveries of a disabled endpoint are canceled on the way."""
        now = self.now()
        # An endpoint is claimed for again once half its allowance can be taken (fewer, larger
        # claims: a claim's round trips cost more than sending a few deliveries).
        full = [endpoint_id for endpoint_id in self.claimed
                if self.allowance(endpoint_id) < (1 if endpoint_id in self.trial else CLAIM_AHEAD * self.per_endpoint // 2)]
        postgres = connection.vendor == "postgresql"
        with _bookkeeping():
            due = (Delivery.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
                   .select_related("event", "endpoint")
                   .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                   .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
                   .filter(Q(endpoint__circuit_open_until__isnull=True) | Q(endpoint__circuit_open_until__lte=now))
                   .order_by("next_attempt_at", "id"))
            if postgres:  # the same statement text every time, so psycopg prepares it once
                due = due.extra(where=[f"NOT ({_DELIVERY}.endpoint_id = ANY(%s))"], params=[full])
            else:
                due = due.exclude(endpoint_id__in=full)
            if self.ids is not None:
                due = due.filter(pk__in=self.ids)
            chosen, canceled, taken = [], [], {}
            # At most one endpoint's allowance is read: reading further mostly meets rows of an
            # endpoint that is already at its allowance (each read row costs more than its claim).
            for delivery in due[:_bucket(min(want, CLAIM_AHEAD * self.per_endpoint))]:
                endpoint = delivery.endpoint
                if not endpoint.enabled:
                    canceled.append(delivery.pk)
                    continue
                if endpoint.circuit_open_until is not None:
                    self.trial.add(endpoint.id)  # the open period is over: one delivery at a time
                    if self.sender is not None:
                        self.sender.on_trial(endpoint.id)
                if len(chosen) >= want or taken.get(endpoint.id, 0) >= self.allowance(endpoint.id):
                    continue
                subject = _subject(delivery)
                if subject is not None:
                    if subject in self.subjects:
                        continue  # an earlier event about the same order is still on its way there
                    self.subjects.add(subject)
                taken[endpoint.id] = taken.get(endpoint.id, 0) + 1
                chosen.append(delivery)
            if canceled:
                Delivery.objects.filter(pk__in=canceled).update(status=DeliveryStatus.CANCELED, locked_until=None,
                                                                updated_at=now)
            lease = claim_seconds()
            if chosen and postgres:
                with connection.cursor() as cursor:
                    cursor.execute(f"UPDATE {_DELIVERY} SET locked_until = %s, updated_at = %s WHERE id = ANY(%s)",
                                   [now + timedelta(seconds=lease), now, [d.pk for d in chosen]])
            elif chosen:
                Delivery.objects.filter(pk__in=[d.pk for d in chosen]).update(
                    locked_until=now + timedelta(seconds=lease), updated_at=now)
        # An attempt starts only while the lease still outlasts it (the deadline, and a margin).
        send_by = time.monotonic() + lease - settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS - 10
        secrets: dict[str, list[str]] = {}
        jobs = []
        for delivery in chosen:
            endpoint = delivery.endpoint
            if endpoint.id not in secrets:
                secrets[endpoint.id] = endpoint.signing_secrets(now)
            self.claimed[endpoint.id] = self.claimed.get(endpoint.id, 0) + 1
            self.total += 1
            jobs.append(_Job(delivery=delivery, number=delivery.attempt_count + 1, url=endpoint.url,
                             mode=endpoint.mode, event_id=delivery.event_id, body=event_body(delivery.event),
                             secrets=secrets[endpoint.id], now=self.fixed_now, send_by=send_by))
        return jobs

    def _forget(self, delivery: Delivery) -> None:
        self.claimed[delivery.endpoint_id] -= 1
        self.total -= 1
        self.subjects.discard(_subject(delivery))

    def release(self, jobs: list[_Job], *, next_attempt_at: datetime | None = None) -> None:
        """Give claimed deliveries back unsent (their lease cleared; moved to `next_attempt_at`
        when given): nothing is lost, and no attempt of their schedule is spent."""
        if not jobs:
            return
        update = {"locked_until": None, "updated_at": self.now()}
        if next_attempt_at is not None:
            update["next_attempt_at"] = next_attempt_at
        Delivery.objects.filter(pk__in=[job.delivery.pk for job in jobs], status=DeliveryStatus.PENDING).update(**update)
        for job in jobs:
            self._forget(job.delivery)

    def record(self, done: list[_Done]) -> None:
        """The attempts and the deliveries' outcomes of everything finished, in one
        transaction (one INSERT, one UPDATE); then the breaker's bookkeeping."""
        now = self.now()
        attempts, deliveries, exhausted = [], [], []
        for item in done:
            job, outcome = item.job, item.outcome
            delivery = job.delivery
            self._forget(delivery)
            attempts.append(Attempt(
                delivery=delivery, number=job.number, attempted_at=item.attempted_at,
                duration_ms=outcome.duration_ms, response_status=outcome.status,
                response_excerpt=outcome.excerpt, error=outcome.error[:500]))
            delivery.attempt_count = F("attempt_count") + 1
            delivery.locked_until = None
            delivery.last_response_status = outcome.status
            delivery.last_error = outcome.error[:500]
            delivery.receiver_fault = outcome.receiver_fault
            delivery.updated_at = now
            if outcome.ok:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
            else:
                delay = next_delay(job.number)
                if delay is None:
                    delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
                    exhausted.append(delivery)
                else:
                    delivery.next_attempt_at = item.attempted_at + timedelta(seconds=delay)
            deliveries.append(delivery)
        with _bookkeeping():
            # Locked, so a delivery deleted meanwhile (with its endpoint) is seen missing, and one
            # canceled meanwhile (endpoint disabled) stays canceled; the attempt is recorded anyway.
            current = _lock_current([d.pk for d in deliveries])
            self.attempts.extend(Attempt.objects.bulk_create([a for a in attempts if a.delivery_id in current]))
            deliveries = [d for d in deliveries if current.get(d.pk) == DeliveryStatus.PENDING]
            exhausted = [d for d in exhausted if d in deliveries]
            _update_outcomes(deliveries)
            for delivery in exhausted:
                _disable_if_failing(delivery.endpoint, since=delivery.created_at, now=now)
        self._breaker([(item.job.delivery.endpoint_id, item.outcome) for item in done], now)

    def _breaker(self, outcomes, now: datetime) -> None:
        """The breaker's database side: the sender tripped it (it stops starting an endpoint's
        deliveries the moment the failures add up, without waiting for this record); here it
        opens for every worker, and a trial delivery that succeeded closes it."""
        tripped = self.sender.take_tripped() if self.sender is not None else set()
        for endpoint_id, outcome in outcomes:
            if endpoint_id in self.trial and endpoint_id not in tripped and not _breaker_counts(outcome):
                self.trial.discard(endpoint_id)
                WebhookEndpoint.objects.filter(pk=endpoint_id).update(circuit_open_until=None)
        for endpoint_id in tripped:
            until = breaker_open(endpoint_id=endpoint_id, now=now)
            self.release(self.sender.drop(endpoint_id), next_attempt_at=until)
            self.trial.discard(endpoint_id)


_DELIVERY = Delivery._meta.db_table
_OUTCOME_FIELDS = ("last_response_status", "last_error", "receiver_fault", "updated_at", "status", "delivered_at",
                   "next_attempt_at")
_OUTCOMES_SQL = (
    f"UPDATE {_DELIVERY} d SET attempt_count = d.attempt_count + 1, locked_until = NULL, "
    + ", ".join(f"{name} = v.{name}" for name in _OUTCOME_FIELDS)
    + " FROM json_to_recordset(%s::json) AS v(id bigint, last_response_status integer, last_error text, "
      "receiver_fault boolean, updated_at timestamptz, status text, delivered_at timestamptz, "
      "next_attempt_at timestamptz) WHERE d.id = v.id"
)


@contextmanager
def _bookkeeping():
    """A transaction of the batch path's own (a claim, or recording attempts). On PostgreSQL,
    when it is not nested in a caller's, it commits asynchronously (synchronous_commit off): a
    WAL flush less per batch. Only a crash of PostgreSQL itself can lose such a commit, and
    losing one is what at-least-once allows for: a lost claim makes the deliveries claimable
    again, a lost record sends them again (receivers dedupe on the event id)."""
    own = not connection.in_atomic_block
    with transaction.atomic():
        if own and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        yield


def _lock_current(ids: list[int]) -> dict[int, str]:
    """The status of these deliveries, their rows locked for the update that follows."""
    if connection.vendor != "postgresql":
        return dict(Delivery.objects.select_for_update().filter(pk__in=ids).values_list("pk", "status"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, status FROM {_DELIVERY} WHERE id = ANY(%s) FOR NO KEY UPDATE", [ids])
        return dict(cursor.fetchall())


def _update_outcomes(deliveries: list[Delivery]) -> None:
    """Write the attempts' outcomes onto their deliveries: on PostgreSQL one UPDATE from a JSON
    parameter (the statement's text never changes; Django's bulk_update would build a CASE per
    field and row, which cost more CPU than the attempts themselves)."""
    if not deliveries:
        return
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_update(deliveries, ["attempt_count", "locked_until", *_OUTCOME_FIELDS])
        return
    rows = [{"id": d.pk, "last_response_status": d.last_response_status, "last_error": d.last_error,
             "receiver_fault": d.receiver_fault, "updated_at": d.updated_at.isoformat(), "status": d.status,
             "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
             "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None}
            for d in deliveries]
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOMES_SQL, [json.dumps(rows)])


def breaker_open(*, endpoint_id: str, now: datetime) -> datetime:
    """Open the endpoint's circuit breaker: nothing is sent to it for
    FLUXA_WEBHOOK_BREAKER_SECONDS, and its pending deliveries due before then (not claimed by
    a live batch) move to that moment, without spending an attempt of their schedule. Returns
    that moment."""
    until = now + timedelta(seconds=settings.FLUXA_WEBHOOK_BREAKER_SECONDS)
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(circuit_open_until=until)
        moved = (Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING,
                                         next_attempt_at__lt=until)
                 .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
                 .update(next_attempt_at=until, updated_at=now))
    logger.warning("webhook endpoint %s: circuit breaker open until %s (%d deliveries rescheduled)",
                   endpoint_id, iso_utc(until), moved)
    return until


CLAIM_AHEAD = 8  # claimed per slot: in flight, and waiting to be sent
GATHER_SECONDS = 0.05  # after a first result, how long to wait for more to record together
IDLE_POLL_SECONDS = 0.5  # how often a batch with free threads looks for new due deliveries


def deliveries_run(*, ids: list[int] | None = None, now: datetime | None = None, threads: int | None = None) -> list[Attempt]:
    """Deliver due deliveries in batches until none is due (or the budget is spent): claim
    (FOR UPDATE SKIP LOCKED, a lease), send concurrently on `threads` threads over kept-alive
    connections (webhooks.transport), at most FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY in flight per
    endpoint, record what finished in bulk, and claim again as threads free up, so a slow
    endpoint holds only its own slots. `ids` limits it to those deliveries; `now` fixes the
    clock (tests). Returns the attempts made. The HTTP calls hold no row lock and run outside
    any transaction: only the lease protects a claimed delivery, and it outlasts any attempt."""
    return _run(ids=ids, now=now, threads=threads, budget_seconds=None)[0]


def deliveries_drain(*, budget_seconds: float) -> tuple[int, bool]:
    """deliveries_run over everything due, claiming for at most `budget_seconds` (then what is in
    flight finishes): the number of attempts made, and whether the budget ran out (work may be
    left)."""
    attempts, budget_spent = _run(ids=None, now=None, threads=None, budget_seconds=budget_seconds)
    return len(attempts), budget_spent


def _run(*, ids, now, threads, budget_seconds) -> tuple[list[Attempt], bool]:
    threads = threads or settings.FLUXA_WEBHOOK_THREADS
    batch = _Batch(ids=ids, now=now, per_endpoint=settings.FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY)
    stop_at = time.monotonic() + budget_seconds if budget_seconds else None
    target = CLAIM_AHEAD * threads  # claimed and not yet recorded: every thread busy, more waiting
    last_empty = None  # when a claim last found nothing
    claiming = True
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook") as pool:
        sender = batch.sender = _Sender(pool, threads, batch.cap)
        while True:
            claiming = stop_at is None or time.monotonic() < stop_at
            want = target - batch.total
            if (claiming and want >= max(1, threads // 4)
                    and (last_empty is None or time.monotonic() - last_empty >= IDLE_POLL_SECONDS)):
                jobs = batch.claim(want)
                last_empty = None if jobs else time.monotonic()
                sender.add(jobs)
                if ids is not None and not jobs and not batch.total:
                    break
            if not batch.total:
                if last_empty is not None or not claiming:
                    break  # nothing due and nothing claimed
                continue
            try:
                items = [sender.results.get(timeout=IDLE_POLL_SECONDS)]
            except queue.Empty:
                continue
            gather_until = time.monotonic() + GATHER_SECONDS
            while len(items) < batch.total:
                try:
                    items.append(sender.results.get(timeout=max(0.0, gather_until - time.monotonic())))
                except queue.Empty:
                    break
            batch.release([job for kind, job in items if kind == "stale"])
            done = [item for kind, item in items if kind == "done"]
            if done:
                batch.record(done)
            last_empty = None  # threads (and orders) freed up: claim again at once
    return batch.attempts, not claiming


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
