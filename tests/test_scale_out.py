"""Scale-out (docs/deploy.md): tasks go to their own queues, and two workers with two beats on
one Redis and one PostgreSQL do every job once.

The end-to-end test runs real processes: two Celery workers (one consuming every queue by
default, as `make run`'s does, one naming the four queues) and two `celery beat` processes, on
the suite's Redis broker and PostgreSQL. It waits for events, never for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.leases import Lease
from fluxa_site.celery import app as celery_app
from orders.models import Order, OrderEvent, OrderStatus
from testing.client import charge
from testing.httpserver import QuietHandler, start_server, stop_server, url_of
from webhooks import services as webhook_services
from webhooks.models import Attempt, Delivery, DeliveryStatus

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("task, queue", [
    ("charges.tasks.scan_networks", "scan"),
    ("charges.tasks.scan_network", "scan"),
    ("settlements.tasks.plan_settlements", "settlements"),
    ("settlements.tasks.advance_outbounds", "settlements"),
    ("settlements.tasks.advance_settlement", "settlements"),
    ("settlements.tasks.check_fee_payers", "settlements"),
    ("webhooks.tasks.deliver", "webhooks"),
    ("webhooks.tasks.dispatch_due_deliveries", "webhooks"),
    ("orders.tasks.expire_orders", "maintenance"),
    ("charges.tasks.refresh_rates", "maintenance"),
    ("charges.tasks.replenish_address_pool", "maintenance"),
    ("wallets.tasks.release_idle_addresses", "maintenance"),
    ("merchants.tasks.purge_request_nonces", "maintenance"),
    ("api.tasks.purge_idempotency_keys", "maintenance"),
])
def test_each_task_goes_to_its_queue(task, queue):
    celery_app.loader.import_default_modules()
    assert task in celery_app.tasks  # a renamed task would silently leave its queue
    assert celery_app.amqp.router.route({}, task)["queue"].name == queue


def test_every_scheduled_task_is_routed_to_a_consumed_queue():
    consumed = set(celery_app.amqp.queues)
    assert consumed == set(settings.FLUXA_QUEUES)  # a worker without -Q consumes all of them
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert celery_app.amqp.router.route({}, entry["task"])["queue"].name in consumed


def test_a_lease_has_one_holder_at_a_time():
    first, second = Lease("test-one-holder", seconds=30), Lease("test-one-holder", seconds=30)
    assert first.hold() and first.hold()  # taken, then extended
    assert not second.hold()
    assert first.holder() == first.token
    second.release()  # not its lease: nothing happens
    assert first.holder() == first.token and not second.hold()
    first.release()
    assert first.holder() is None
    assert second.hold() and not first.hold()
    second.release()


def test_an_expired_lease_goes_to_the_next_holder():
    first, second = Lease("test-expiry", seconds=0.2), Lease("test-expiry", seconds=30)
    assert first.hold() and not second.hold()
    deadline = time.monotonic() + 10
    while not second.hold():  # Redis expires the key; no clock is asserted
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.05)
    assert not first.hold() and second.holder() == second.token
    second.release()


class CountingReceiver:
    def __init__(self):
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                receiver.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.reply(200, b"{}")

        self.server = start_server(Handler, name="scale-receiver")
        self.url = url_of(self.server, "/hooks")

    def event_ids(self) -> list[str]:
        return [json.loads(body)["id"] for body in self.bodies]


def _wait(condition, what: str, timeout: float = 90.0, procs=()):
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            assert proc.poll() is None, f"{proc.args} exited with {proc.returncode} while waiting for {what}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


SENT = re.compile(r"Sending due task \S+ \((\S+)\)")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_and_two_beats_do_every_job_once(merchant_keys, tmp_path, monkeypatch):
    receiver = CountingReceiver()
    merchant = merchant_keys.merchant
    webhook_services.endpoint_create(merchant=merchant, mode="test", url=receiver.url,
                                     enabled_events=["order.paid"])
    # 40 deliveries whose tasks were never sent (as after a broker outage): the first 20 are
    # then sent twice each by hand, the last 20 are left for beat's dispatch_due to find.
    with monkeypatch.context() as patch, transaction.atomic():
        patch.setattr(webhook_services, "enqueue", lambda ids: None)
        for n in range(40):
            webhook_services.event_emit(merchant=merchant, mode="test", type="order.paid", data={"order": {"n": n}})
    deliveries = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    assert len(deliveries) == 40
    # 5 orders past their expiry, for beat's expire_orders.
    expiring = [charge(merchant_keys.test)["order"]["id"] for _ in range(5)]
    Order.objects.filter(id__in=expiring).update(expires_at=timezone.now() - timedelta(minutes=1))

    db = settings.DATABASES["default"]
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "FLUXA_BEAT_LEASE_SECONDS": "4", "PYTHONUNBUFFERED": "1"}
    celery = [sys.executable, "-m", "celery", "-A", "fluxa_site"]
    logs: dict[str, Path] = {}
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, argv: list[str]) -> None:
        logs[name] = tmp_path / f"{name}.log"
        procs[name] = subprocess.Popen([*celery, *argv], cwd=ROOT, env=env, stdout=logs[name].open("w"),
                                       stderr=subprocess.STDOUT, start_new_session=True)

    def log(name: str) -> str:
        return logs[name].read_text()

    def sent(name: str) -> list[str]:
        return SENT.findall(log(name))

    common = ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--pool", "threads", "--concurrency", "2"]
    try:
        start("worker-a", ["worker", "-n", "a@%h", *common])  # no -Q: every queue
        start("worker-b", ["worker", "-n", "b@%h", "-Q", ",".join(settings.FLUXA_QUEUES), *common])
        for name in ("beat-1", "beat-2"):
            start(name, ["beat", "--loglevel", "INFO", "--schedule", str(tmp_path / f"{name}-schedule")])
        _wait(lambda: all(" ready." in log(name) for name in ("worker-a", "worker-b")), "both workers",
              procs=list(procs.values()))
        for delivery_id in deliveries[:20]:
            for _ in range(2):
                current_app.send_task(webhook_services.DELIVER_TASK, args=[delivery_id])

        running = list(procs.values())
        _wait(lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 40,
              "all 40 deliveries", procs=running)
        _wait(lambda: OrderEvent.objects.filter(order_id__in=expiring, to_status=OrderStatus.EXPIRED).count() == 5,
              "the 5 orders expired", procs=running)

        # One beat holds the lease and sends; the other stands by and sends nothing.
        leaders = [name for name in ("beat-1", "beat-2") if "holding the schedule lease" in log(name)]
        assert len(leaders) == 1, {name: log(name) for name in ("beat-1", "beat-2")}
        leader = leaders[0]
        standby = "beat-2" if leader == "beat-1" else "beat-1"
        assert "standing by" in log(standby) and sent(standby) == []
        assert {"webhooks.tasks.dispatch_due_deliveries", "orders.tasks.expire_orders"} <= set(sent(leader))

        # The leader dies without releasing its lease: the standby takes over once it expires.
        os.killpg(procs[leader].pid, signal.SIGKILL)
        procs[leader].wait()
        sent_by_dead = len(sent(leader))
        running = [procs[name] for name in ("worker-a", "worker-b", standby)]
        _wait(lambda: "holding the schedule lease" in log(standby) and sent(standby), "the standby to take over",
              procs=running)
        assert len(sent(leader)) == sent_by_dead
    finally:
        for proc in procs.values():
            _stop(proc)
        stop_server(receiver.server)

    # Every delivery went out once, though 20 were enqueued twice and two workers took tasks:
    # the receiver saw each event once and each delivery has one attempt.
    ids = receiver.event_ids()
    assert len(ids) == 40 and len(set(ids)) == 40, ids
    assert Attempt.objects.count() == 40
    assert set(Attempt.objects.values_list("delivery_id", flat=True)) == set(deliveries)
    # Both workers did some of it (each delivery once, by one of them).
    assert "webhooks.tasks.deliver" in log("worker-a") and "webhooks.tasks.deliver" in log("worker-b")
    # Each expired order moved once, with one event.
    assert OrderEvent.objects.filter(order_id__in=expiring, to_status=OrderStatus.EXPIRED).count() == 5
