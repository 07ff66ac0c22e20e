"""core/fastsql.py: rows written in one statement are the rows save() would write, a
conflict fails all of them, and webhook deliveries go to exactly the subscribed endpoints."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import signals
from django.utils import timezone

from core import fastsql
from orders.models import Order, OrderEvent, Payment
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.services import event_emit

pytestmark = pytest.mark.django_db

WRITTEN = (Order, Payment, OrderEvent, Event, Delivery)


def test_no_model_written_this_way_has_signal_receivers():
    for model in WRITTEN:
        for signal in (signals.pre_save, signals.post_save):
            assert not signal.has_listeners(model), f"{signal} has receivers for {model.__name__}"


EXPIRES = timezone.now() + timedelta(hours=1)


def _order(merchant, moid, **extra):
    return Order(
        merchant=merchant, mode="test", merchant_order_id=moid, channel_id="usdt_trc20", network="tron",
        settlement_mode="direct", amount=Decimal("49.90"), currency="EUR", asset="USDT",
        amount_due=Decimal("53.123456"), rate=Decimal("1.0646"), rate_source="median", fee_percent=Decimal("1.5"),
        fee_amount=Decimal("0.796851"), metadata={"cart": [1, 2], "note": "ünïcode"}, customer_email="a@b.example",
        expires_at=EXPIRES, deposit_address="TXyz", payment_uri="tron:TXyz", **extra,
    )


def _row(model, pk):
    # per row by design: ids, times, and the random checkout token (compared by shape below)
    skip = {"id", "created_at", "updated_at", "merchant_order_id", "order_id", "order", "deposit_address",
            "checkout_token"}
    return {k: v for k, v in model.objects.filter(pk=pk).values().first().items() if k not in skip}


def test_rows_are_what_save_writes(merchant_keys):
    merchant = merchant_keys.merchant
    saved = _order(merchant, "by-save")
    saved.save()
    Payment.objects.create(order=saved, amount=saved.amount_due, currency="USDT")
    saved_payment = Payment.objects.get(order=saved)

    new = _order(merchant, "by-insert")
    payment = Payment(order=new, amount=new.amount_due, currency="USDT")
    event = OrderEvent(order=new, from_status="", to_status="created", actor="test", reason="r")
    with transaction.atomic():
        assert fastsql.execute([fastsql.insert(new), fastsql.insert(payment), fastsql.insert(event)]) == []
    fastsql.mark_saved(new, payment)
    assert _row(Order, new.pk) == _row(Order, saved.pk)
    tokens = list(Order.objects.filter(pk__in=[new.pk, saved.pk]).values_list("checkout_token", flat=True))
    assert len(set(tokens)) == 2 and all(len(token) == 32 for token in tokens)
    assert _row(Payment, payment.pk) == _row(Payment, saved_payment.pk)
    assert new.created_at is not None and Order.objects.get(pk=new.pk).created_at == new.created_at
    assert OrderEvent.objects.get(order=new).reason == "r"
    new.subject = "mark_saved: a later save() updates the row"
    new.save()
    assert Order.objects.filter(merchant_order_id="by-insert").count() == 1


def test_a_conflict_fails_every_row_of_the_statement(merchant_keys):
    merchant = merchant_keys.merchant
    _order(merchant, "taken").save()
    new = _order(merchant, "taken")
    payment = Payment(order=new, amount=new.amount_due, currency="USDT")
    with pytest.raises(IntegrityError), transaction.atomic():
        fastsql.execute([fastsql.insert(payment), fastsql.insert(new)])
    assert not Payment.objects.filter(pk=payment.pk).exists()
    assert not Order.objects.filter(pk=new.pk).exists()


def test_one_round_trip_on_postgresql(merchant_keys):
    from django.test.utils import CaptureQueriesContext

    new = _order(merchant_keys.merchant, "one-trip")
    rows = [fastsql.insert(new), fastsql.insert(Payment(order=new, amount=Decimal(1), currency="USDT"))]
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        fastsql.execute(rows)
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].startswith(("WITH", "INSERT"))]
    assert len(statements) == (1 if connection.vendor == "postgresql" else 2)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the JSON rows and the CTE are PostgreSQL's")
def test_a_charges_statement_is_one_psycopg_parses_once(merchant_keys):
    """psycopg caches its parse of a statement only up to a length and a number of parameters:
    a charge's statement (order, payment, event, webhook event and deliveries) keeps within
    both, and its text does not change from one order to the next."""
    from psycopg import _queries

    from webhooks.services import event_statements

    def statement(moid):
        order = _order(merchant_keys.merchant, moid)
        event, emitting = event_statements(merchant_id=order.merchant_id, mode="test", type="order.created",
                                           data={"order": {"id": order.id}})
        return fastsql.compose([
            fastsql.insert(order), fastsql.insert(Payment(order=order, amount=Decimal(1), currency="USDT")),
            fastsql.insert(OrderEvent(order=order, from_status="", to_status="created", actor="a", reason="r")),
            *emitting])

    first, second = statement("a"), statement("b")
    assert first.sql == second.sql and first.params != second.params
    assert len(first.sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(first.params) <= _queries.MAX_CACHED_STATEMENT_PARAMS
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(first.sql, first.params)
    assert Order.objects.filter(merchant_order_id="a").exists()


def test_deliveries_go_to_the_enabled_subscribed_endpoints_of_the_mode(merchant_keys, other_merchant):
    merchant = merchant_keys.merchant

    def endpoint(events, mode="test", enabled=True, owner=merchant):
        return WebhookEndpoint.objects.create(merchant=owner, mode=mode, url="https://example.com/hook",
                                              secret_encrypted="x", enabled_events=events, enabled=enabled)

    wanted = {endpoint(["order.created"]).pk, endpoint(["*"]).pk, endpoint(["order.paid", "order.created"]).pk}
    endpoint(["order.paid"])
    endpoint(["order.created"], enabled=False)
    endpoint(["order.created"], mode="live")
    endpoint(["*"], owner=other_merchant.merchant)
    with transaction.atomic():
        event = event_emit(merchant=merchant, mode="test", type="order.created", data={"order": {"id": "ord_x"}})
    assert set(Delivery.objects.filter(event=event).values_list("endpoint_id", flat=True)) == wanted
    assert Event.objects.get(pk=event.pk).data == {"order": {"id": "ord_x"}}
    for endpoint_row in WebhookEndpoint.objects.all():  # the SQL agrees with the model's own rule
        chosen = endpoint_row.pk in wanted
        assert chosen == (endpoint_row.enabled and endpoint_row.mode == "test" and endpoint_row.merchant_id == merchant.pk
                          and endpoint_row.subscribes_to("order.created"))
