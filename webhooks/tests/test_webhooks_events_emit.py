"""events_emit (a scan pass's events, written together): the same deliveries as event_emit
one event at a time, in the events' order, sent only after commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from testing.factories import MerchantFactory
from webhooks import services
from webhooks.models import Delivery, Event
from webhooks.services import NewEvent, endpoint_create, events_emit

pytestmark = pytest.mark.django_db


def test_each_event_gets_a_delivery_per_enabled_endpoint_subscribed_to_its_type(monkeypatch,
                                                                                  django_capture_on_commit_callbacks):
    merchant, other = MerchantFactory(), MerchantFactory()
    everything, _ = endpoint_create(merchant=merchant, mode="live", url="http://127.0.0.1:9/all")
    paid_only, _ = endpoint_create(merchant=merchant, mode="live", url="http://127.0.0.1:9/paid",
                                   enabled_events=["order.paid"])
    disabled, _ = endpoint_create(merchant=merchant, mode="live", url="http://127.0.0.1:9/off")
    disabled.enabled = False
    disabled.save()
    endpoint_create(merchant=merchant, mode="test", url="http://127.0.0.1:9/test-mode")
    endpoint_create(merchant=other, mode="live", url="http://127.0.0.1:9/other")
    sent = []
    monkeypatch.setattr(services, "enqueue", sent.extend)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            events = events_emit([
                NewEvent(merchant.pk, "live", "order.pending", {"order": {"id": "ord_1"}}),
                NewEvent(merchant.pk, "live", "order.paid", {"order": {"id": "ord_1"}}),
                NewEvent(other.pk, "live", "order.paid", {"order": {"id": "ord_2"}}),
            ])
            assert sent == []  # nothing before commit

    assert len(callbacks) == 1
    pending, paid, others = events
    assert [(e.type, e.data) for e in Event.objects.filter(pk__in=[pending.pk, paid.pk]).order_by("created_at")] == [
        ("order.pending", {"order": {"id": "ord_1"}}), ("order.paid", {"order": {"id": "ord_1"}})]
    assert pending.created_at < paid.created_at
    deliveries = list(Delivery.objects.order_by("id").values_list("event_id", "endpoint_id"))
    assert sorted(deliveries[:3]) == sorted([(pending.pk, everything.pk), (paid.pk, everything.pk),
                                             (paid.pk, paid_only.pk)])
    assert [event for event, _ in deliveries] == [pending.pk, paid.pk, paid.pk, others.pk]  # the events' order
    assert sorted(sent) == [pk for pk in Delivery.objects.order_by("id").values_list("id", flat=True)]


def test_an_unregistered_type_writes_nothing():
    merchant = MerchantFactory()
    with pytest.raises(ValueError):
        events_emit([NewEvent(merchant.pk, "live", "order.paid", {}), NewEvent(merchant.pk, "live", "order.nope", {})])
    assert not Event.objects.exists()
