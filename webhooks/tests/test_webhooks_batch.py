"""Issue 18, point 1: the batch delivery path (webhooks.services.deliveries_run) with real HTTP
receivers on 127.0.0.1, the suite's PostgreSQL, and a real worker process killed mid-batch.
Bounds are counts (what was delivered while what else was still in flight), never times."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from fluxa_client import verify_webhook
from testing.crash import run_killed
from testing.httpserver import QuietHandler, closed_url, start_server, stop_server, url_of
from webhooks import services
from webhooks.models import Attempt, Delivery, DeliveryStatus, WebhookEndpoint

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP/1.1 keep-alive server; with `hold`, each request waits until released."""

    def __init__(self, *, hold: bool = False):
        self.bodies: list[bytes] = []
        self.headers: list[dict] = []
        self.answered = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()
        receiver = self
        lock = threading.Lock()

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (the crash test): not a delivery
                    return
                with lock:
                    receiver.bodies.append(body)
                    receiver.headers.append(dict(self.headers))
                receiver.release.wait(120)
                self.reply(200, b"{}")
                with lock:
                    receiver.answered += 1

        self.server = start_server(Handler, name="batch-receiver")
        self.url = url_of(self.server, "/hooks")

    def event_ids(self) -> list[str]:
        return [json.loads(body)["id"] for body in self.bodies]

    def close(self):
        self.release.set()
        stop_server(self.server)


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _emit(merchant, count: int, tag: str) -> None:
    """`count` events, each about its own order, without waking a worker (the test runs the batch)."""
    original = services.enqueue
    services.enqueue = lambda ids: None
    try:
        for n in range(count):
            services.event_emit(merchant=merchant, mode="test", type="order.paid",
                                data={"order": {"id": f"ord_{tag}{n}", "status": "paid"}})
    finally:
        services.enqueue = original


def _succeeded(endpoint) -> int:
    return Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED).count()


def test_a_batch_delivers_many_events_to_several_endpoints(merchant_keys, receivers, settings):
    settings.FLUXA_WEBHOOK_THREADS = 6
    settings.FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY = 2
    merchant = merchant_keys.merchant
    hooks = [receivers() for _ in range(3)]
    endpoints = [services.endpoint_create(merchant=merchant, mode="test", url=r.url) for r in hooks]
    _emit(merchant, 25, "many")

    attempts = services.deliveries_run()

    assert len(attempts) == 75 and Attempt.objects.count() == 75
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 75
    for receiver, (endpoint, secret) in zip(hooks, endpoints):
        assert len(receiver.bodies) == 25 and len(set(receiver.event_ids())) == 25
        for body, headers in zip(receiver.bodies, receiver.headers):
            assert verify_webhook(secret=secret, timestamp=headers["X-Fluxa-Timestamp"], body=body,
                                  signature=headers["X-Fluxa-Signature"])
        assert _succeeded(endpoint) == 25
    assert not Delivery.objects.exclude(locked_until=None).exists()  # every lease given back


@pytest.mark.django_db(transaction=True)
def test_a_slow_receiver_does_not_hold_up_a_fast_one(merchant_keys, receivers, settings):
    settings.FLUXA_WEBHOOK_THREADS = 4
    settings.FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY = 2
    settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS = 120  # the slow one answers when the test lets it
    merchant = merchant_keys.merchant
    slow, fast = receivers(hold=True), receivers()
    slow_endpoint, _ = services.endpoint_create(merchant=merchant, mode="test", url=slow.url)
    _emit(merchant, 10, "slow")  # the slow endpoint's deliveries are due first
    fast_endpoint, _ = services.endpoint_create(merchant=merchant, mode="test", url=fast.url)
    _emit(merchant, 30, "fast")
    assert Delivery.objects.count() == 10 + 2 * 30  # the first 10 went to the slow endpoint only

    errors = []

    def run():
        try:
            services.deliveries_run()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 90
        while _succeeded(fast_endpoint) < 30:
            assert time.monotonic() < deadline and not errors, (errors, _succeeded(fast_endpoint))
            time.sleep(0.05)
        # Every fast delivery succeeded while the slow endpoint answered none and has exactly its
        # cap in flight: it held its own two slots and nothing else.
        assert slow.answered == 0 and len(slow.bodies) == 2
        assert _succeeded(slow_endpoint) == 0
    finally:
        slow.release.set()
        worker.join(120)
    assert not worker.is_alive() and not errors
    assert _succeeded(slow_endpoint) == 40 and _succeeded(fast_endpoint) == 30
    assert len(slow.bodies) == 40 and len(set(slow.event_ids())) == 40


def test_the_breaker_opens_on_a_dead_endpoint_and_its_deliveries_wait_not_lost(merchant_keys, receivers,
                                                                              settings):
    settings.FLUXA_WEBHOOK_THREADS = 4
    settings.FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY = 2
    settings.FLUXA_WEBHOOK_BREAKER_FAILURES = 3
    settings.FLUXA_WEBHOOK_BREAKER_SECONDS = 60
    merchant = merchant_keys.merchant
    dead, _ = services.endpoint_create(merchant=merchant, mode="test", url=closed_url("/hooks"))
    live = receivers()
    live_endpoint, _ = services.endpoint_create(merchant=merchant, mode="test", url=live.url)
    _emit(merchant, 20, "both")
    now = timezone.now()

    services.deliveries_run(now=now)

    dead.refresh_from_db()
    assert dead.circuit_open_until == now + timedelta(seconds=60)
    tried = Delivery.objects.filter(endpoint=dead, attempt_count__gt=0)
    waiting = Delivery.objects.filter(endpoint=dead, attempt_count=0)
    # Three failures in a row trip it; at most the other one in flight (cap 2) fails with them.
    assert 3 <= tried.count() <= 4
    assert waiting.count() == 20 - tried.count()
    assert set(waiting.values_list("status", "next_attempt_at", "locked_until")) == {
        ("pending", dead.circuit_open_until, None)}  # rescheduled to the breaker's end, unclaimed
    assert _succeeded(live_endpoint) == 20 and len(live.bodies) == 20  # the live one was not held up

    # Nothing goes to it while the breaker is open, even though some retries are due by then.
    assert services.deliveries_run(now=now + timedelta(seconds=59)) == []

    # The receiver is back: after the open period one trial delivery succeeds, the breaker
    # closes, and every delivery arrives; none was lost.
    back = receivers()
    WebhookEndpoint.objects.filter(pk=dead.pk).update(url=back.url)
    services.deliveries_run(now=now + timedelta(seconds=61))

    dead.refresh_from_db()
    assert dead.circuit_open_until is None
    assert _succeeded(dead) == 20 and sorted(back.event_ids()) == sorted(
        Delivery.objects.filter(endpoint=dead).values_list("event_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_its_lease_lets_another_retry(merchant_keys, receivers,
                                                                                 settings):
    settings.FLUXA_WEBHOOK_THREADS = 4
    settings.FLUXA_WEBHOOK_ENDPOINT_CONCURRENCY = 4
    merchant = merchant_keys.merchant
    receiver = receivers()
    endpoint, _ = services.endpoint_create(merchant=merchant, mode="test", url=receiver.url)
    _emit(merchant, 40, "crash")
    events = set(Delivery.objects.values_list("event_id", flat=True))

    crash = run_killed("webhook_after_posts", after_posts=10)

    assert crash.killed, crash.stderr
    assert len(receiver.bodies) >= 10
    pending = Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED)
    assert pending.count() > 0
    leased = set(pending.filter(locked_until__gt=timezone.now()).values_list("pk", flat=True))
    assert leased  # the dead worker's claims: sent or about to be, not recorded

    # Another worker now: the leased deliveries are left alone until the lease expires...
    services.deliveries_run()
    assert set(Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).values_list("pk", flat=True)) == leased
    assert not Attempt.objects.filter(delivery_id__in=leased).exists()

    # ...then it retries them: every delivery succeeds, every event reached the receiver.
    services.deliveries_run(now=timezone.now() + timedelta(seconds=services.claim_seconds() + 1))
    assert _succeeded(endpoint) == 40
    assert set(receiver.event_ids()) == events
    assert Attempt.objects.filter(delivery__endpoint=endpoint, response_status=200).count() == 40
