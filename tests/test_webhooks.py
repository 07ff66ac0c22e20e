"""Webhooks end to end with a real HTTP receiver on 127.0.0.1. Time is driven by passing `now`
to the delivery services (no sleeping for minutes); one test runs a real Celery worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.urls import resolve
from django.utils import timezone

from fluxa_client import verify_webhook
from testing.admin import admin_change_url
from testing.client import charge, charge_to_pay, simulate_payment
from testing.httpserver import QuietHandler, start_server, stop_server, url_of
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.services import SCHEDULE, delivery_attempt, dispatch_due, event_emit

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server. `script` is what it answers, in order (the last one repeats): a
    status code, ("sleep", seconds, status), or ("redirect", location)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list = [200]
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                step = receiver.script[min(len(receiver.requests), len(receiver.script)) - 1]
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = step[2]
                if isinstance(step, tuple) and step[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", step[1])
                    self.end_headers()
                    return
                self.send_response(step)
                self.end_headers()
                self.wfile.write(b'{"received": true}' if step < 300 else b"receiver says no")

        self.server = start_server(Handler, name="webhook-receiver")
        self.url = url_of(self.server, "/hooks")

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        stop_server(self.server)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _endpoint(api, url, **extra):
    response = api.post("/api/v1/webhook_endpoints", {"url": url, **extra})
    assert response.status_code == 201, response.body
    return response.body["endpoint"]["id"], response.body["secret"]


def _deliver_due(now=None) -> int:
    """What the worker does, synchronously: attempt every delivery that is due."""
    now = now or timezone.now()
    done = 0
    for delivery_id in Delivery.objects.filter(status="pending", next_attempt_at__lte=now).values_list("pk", flat=True):
        done += delivery_attempt(delivery_id=delivery_id, now=now) is not None
    return done


def _verify(request, secret):
    headers = request["headers"]
    return verify_webhook(secret=secret, timestamp=headers["X-Fluxa-Timestamp"], body=request["body"],
                          signature=headers["X-Fluxa-Signature"])


def test_a_paid_test_order_is_announced_with_verifiable_signatures(api, receiver):
    _, secret = _endpoint(api, receiver.url)
    order_id, _ = charge_to_pay(api)
    simulate_payment(api, order_id, amount="20")
    simulate_payment(api, order_id)

    _deliver_due()

    types = [e["type"] for e in receiver.events()]
    assert types == ["order.created", "order.pending", "order.payment_exception", "order.paid"]
    for request, event in zip(receiver.requests, receiver.events()):
        assert _verify(request, secret)
        assert request["headers"]["X-Fluxa-Event-Id"] == event["id"] and event["id"].startswith("evt_")
        assert set(event) == {"id", "type", "created_at", "data"}
        assert event["data"]["order"]["id"] == order_id
    paid = receiver.events()[-1]["data"]["order"]
    assert paid["status"] == "paid" and paid["amount_confirmed"] == "49.9"
    assert receiver.events()[2]["data"]["order"]["payment_exception"] == "underpaid"
    assert not _verify({**receiver.requests[0], "body": receiver.requests[0]["body"] + b" "}, secret)


def test_subscriptions_filter_event_types(api, receiver):
    _endpoint(api, receiver.url, enabled_events=["order.paid"])
    order_id, _ = charge_to_pay(api)
    simulate_payment(api, order_id)

    _deliver_due()

    assert [e["type"] for e in receiver.events()] == ["order.paid"]


def test_fails_twice_then_succeeds_with_growing_gaps(api, receiver):
    receiver.script = [500, 503, 200]
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()

    now = timezone.now()
    moments = []
    for _ in range(3):
        delivery.refresh_from_db()
        now = max(now, delivery.next_attempt_at)
        assert delivery_attempt(delivery_id=delivery.pk, now=now) is not None
        moments.append(now)

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_count == 3
    assert [a.response_status for a in delivery.attempts.all()] == [500, 503, 200]
    first_gap, second_gap = (moments[1] - moments[0]).total_seconds(), (moments[2] - moments[1]).total_seconds()
    assert 27 <= first_gap <= 33 and 108 <= second_gap <= 132  # 30 s then 2 min, ±10 % jitter
    assert len(receiver.requests) == 3
    assert len({r["headers"]["X-Fluxa-Event-Id"] for r in receiver.requests}) == 1


def test_a_retry_is_not_sent_before_it_is_due(api, receiver):
    receiver.script = [500]
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()
    now = timezone.now()
    delivery_attempt(delivery_id=delivery.pk, now=now)

    assert delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(seconds=20)) is None
    assert len(receiver.requests) == 1


def test_a_timeout_is_retried(api, receiver, settings):
    settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.script = [("sleep", 1.0, 200), 200]
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()

    first = delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    second = delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)

    assert first.response_status is None and first.error.startswith("timeout")
    assert second.response_status == 200
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_a_delivery_whose_worker_died_is_picked_up_again(api, receiver):
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()
    now = timezone.now()
    # A worker claimed it and died before recording anything.
    Delivery.objects.filter(pk=delivery.pk).update(locked_until=now + timedelta(seconds=60))

    assert dispatch_due(now=now) == []  # still claimed
    assert dispatch_due(now=now + timedelta(seconds=61)) == [delivery.pk]  # the claim expired
    assert delivery_attempt(delivery_id=delivery.pk, now=now + timedelta(seconds=61)).response_status == 200
    assert len(receiver.requests) == 1


def test_redeliver_sends_the_same_event_again(api, receiver):
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    _deliver_due()
    event = Event.objects.get(type="order.created")

    response = api.post(f"/api/v1/events/{event.id}/redeliver", {})
    _deliver_due()

    assert response.status_code == 202
    assert [r["headers"]["X-Fluxa-Event-Id"] for r in receiver.requests] == [event.id, event.id]
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_receiver_4xx_is_its_fault_and_retried(api, receiver):
    receiver.script = [404, 200]
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()

    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.receiver_fault is True and delivery.status == "pending"

    delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.receiver_fault is False


def test_an_endpoint_failing_its_whole_schedule_is_disabled_with_a_notice(api, receiver):
    receiver.script = [500]
    endpoint_id, _ = _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()

    now = timezone.now()
    for _ in range(len(SCHEDULE) + 1):
        delivery.refresh_from_db()
        now = max(now, delivery.next_attempt_at)
        delivery_attempt(delivery_id=delivery.pk, now=now)

    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempt_count == len(SCHEDULE) + 1
    assert 46 * 3600 <= sum(SCHEDULE) <= 50 * 3600  # about two days in all
    endpoint = api.get(f"/api/v1/webhook_endpoints/{endpoint_id}").body
    assert endpoint["enabled"] is False and "every delivery failed" in endpoint["disabled_reason"]
    notices = api.get("/api/v1/notices").body["data"]
    assert notices[0]["kind"] == "webhook_endpoint_disabled" and endpoint_id in notices[0]["message"]
    # Nothing more is delivered to a disabled endpoint.
    charge(api)
    assert _deliver_due(now + timedelta(days=1)) == 0


def test_a_redirect_to_a_private_address_is_not_followed(api, receiver):
    receiver.script = [("redirect", "http://10.0.0.1/steal")]
    _endpoint(api, receiver.url, enabled_events=["order.created"])
    charge(api)
    delivery = Delivery.objects.get()

    attempt = delivery_attempt(delivery_id=delivery.pk)

    assert attempt.response_status == 302
    assert "not followed" in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == "pending"  # a redirect is not success
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x",
                                 "http://192.168.0.10/x", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]/x"])
def test_live_endpoints_on_private_addresses_are_refused(live_api, settings, url):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False

    response = live_api.post("/api/v1/webhook_endpoints", {"url": url})

    assert (response.status_code, response.error_code) == (400, "url_not_allowed")


def test_private_targets_refused_at_delivery_time_too(live_api, receiver, settings):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = True
    _endpoint(live_api, receiver.url, enabled_events=["order.created"])
    charge(live_api)
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False

    attempt = delivery_attempt(delivery_id=Delivery.objects.get().pk)

    assert attempt.error.startswith("refused:") and receiver.requests == []


def test_urls_must_be_http(api, live_api, settings):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False
    assert api.post("/api/v1/webhook_endpoints", {"url": "ftp://example.com/x"}).status_code == 400
    assert live_api.post("/api/v1/webhook_endpoints", {"url": "https://93.184.215.14/hooks"}).status_code == 201
    # Test mode is no exception (issue 16, point 2): every merchant has a test key.
    assert api.post("/api/v1/webhook_endpoints", {"url": "http://127.0.0.1:8080/x"}).status_code == 400


def test_secret_rotation_signs_with_both_during_the_overlap(api, receiver):
    endpoint_id, old = _endpoint(api, receiver.url, enabled_events=["order.created"])
    rotated = api.post(f"/api/v1/webhook_endpoints/{endpoint_id}/rotate_secret", {"overlap_seconds": 3600})
    new = rotated.body["secret"]
    charge(api)
    _deliver_due()

    request = receiver.requests[0]
    headers = request["headers"]
    assert new != old
    assert verify_webhook(secret=new, timestamp=headers["X-Fluxa-Timestamp"], body=request["body"],
                          signature=headers["X-Fluxa-Signature"])
    old_signatures = headers["X-Fluxa-Signatures"].split(",")
    assert any(verify_webhook(secret=old, timestamp=headers["X-Fluxa-Timestamp"], body=request["body"],
                              signature=s) for s in old_signatures)

    # After the overlap only the new secret signs.
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(previous_secret_expires_at=timezone.now())
    charge(api)
    _deliver_due()
    assert receiver.requests[1]["headers"]["X-Fluxa-Signatures"] == receiver.requests[1]["headers"]["X-Fluxa-Signature"]


def test_endpoint_api_shows_the_secret_once(api, other_merchant, receiver):
    endpoint_id, secret = _endpoint(api, receiver.url, description="shop")

    listed = api.get("/api/v1/webhook_endpoints")
    detail = api.get(f"/api/v1/webhook_endpoints/{endpoint_id}")
    updated = api.patch(f"/api/v1/webhook_endpoints/{endpoint_id}", {"enabled_events": ["order.paid"]})

    assert secret.startswith("whsec_")
    for response in (listed, detail, updated):
        assert response.status_code == 200 and secret not in json.dumps(response.body)
    assert updated.body["enabled_events"] == ["order.paid"]
    assert api.patch(f"/api/v1/webhook_endpoints/{endpoint_id}", {"enabled_events": ["order.nope"]}).status_code == 400
    assert other_merchant.test.get(f"/api/v1/webhook_endpoints/{endpoint_id}").status_code == 404
    assert WebhookEndpoint.objects.get().secret_encrypted != secret
    assert api.delete(f"/api/v1/webhook_endpoints/{endpoint_id}").status_code == 204
    assert api.get("/api/v1/webhook_endpoints").body["data"] == []


def test_events_api_lists_and_shows_deliveries(api, receiver):
    _endpoint(api, receiver.url)
    order_id, _ = charge_to_pay(api)
    simulate_payment(api, order_id)
    _deliver_due()

    listed = api.get("/api/v1/events", query="type=order.paid")
    event = api.get(f"/api/v1/events/{listed.body['data'][0]['id']}").body

    assert listed.body["total"] == 1
    assert event["type"] == "order.paid" and event["data"]["order"]["id"] == order_id
    assert event["deliveries"][0]["status"] == "succeeded"
    assert event["deliveries"][0]["attempts"][0]["response_status"] == 200
    assert {t["type"] for t in api.get("/api/v1/event_types").body["data"]} >= {"order.paid", "refund.created"}


def test_the_admin_url_of_an_id_with_an_escape_in_it_reaches_that_id():
    # "we_2F..." is what the random part of an endpoint id is now and then: the admin reads
    # "_2F" in its URLs as "/", so a raw id in the URL would open no endpoint
    url = admin_change_url(WebhookEndpoint, "we_2Fab")

    assert unquote(resolve(url).kwargs["object_id"]) == "we_2Fab"


def test_admin_never_shows_an_endpoint_secret(admin_client, api, receiver):
    endpoint_id, secret = _endpoint(api, receiver.url)

    page = admin_client.get(admin_change_url(WebhookEndpoint, endpoint_id))

    assert page.status_code == 200 and receiver.url in page.content.decode()
    assert secret not in page.content.decode()
    assert WebhookEndpoint.objects.get().secret_encrypted not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_before_commit(merchant_keys, monkeypatch, receiver):
    from webhooks import services

    sent = []
    monkeypatch.setattr(services, "enqueue", lambda ids: sent.extend(ids))
    services.endpoint_create(merchant=merchant_keys.merchant, mode="test", url=receiver.url)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            event_emit(merchant=merchant_keys.merchant, mode="test", type="order.paid", data={"order": {}})
            assert Delivery.objects.count() == 1 and sent == []  # written, not sent
            raise RuntimeError("the change failed")

    assert Event.objects.count() == 0 and Delivery.objects.count() == 0 and sent == []

    with transaction.atomic():
        event_emit(merchant=merchant_keys.merchant, mode="test", type="order.paid", data={"order": {}})
        assert sent == []
    assert sent == [Delivery.objects.get().pk]  # enqueued once committed
    assert receiver.requests == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_after_commit(merchant_keys, receiver, settings):
    """End to end with a real Celery worker on the test Redis and PostgreSQL."""
    from webhooks.services import endpoint_create

    _, secret = endpoint_create(merchant=merchant_keys.merchant, mode="test", url=receiver.url)
    db = settings.DATABASES["default"]
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fluxa_site", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "webhooks"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        api = merchant_keys.test
        order_id, _ = charge_to_pay(api)
        simulate_payment(api, order_id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(receiver.requests) < 2:
            time.sleep(0.2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert [e["type"] for e in receiver.events()] == ["order.created", "order.paid"], output
    assert all(_verify(r, secret) for r in receiver.requests)
