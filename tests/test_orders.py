"""Orders through signed HTTP requests: the list (newest first, paged, filtered) and the
detail with their fields, the lifecycle through simulate_payment, expiry, manual status
changes and deletion."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.services import orders_expire_due
from testing.client import charge, simulate_payment

pytestmark = pytest.mark.django_db

LIST_ITEM_FIELDS = {"id", "merchant_order_id", "channel_code", "amount", "refunded_amount", "currency", "status",
                  "paid_at", "created_at"}


def _statuses(order_id):
    return list(OrderEvent.objects.filter(order_id=order_id).values_list("to_status", flat=True))


# --- list ---------------------------------------------------------------------------------------


def test_list_shows_the_newest_first_with_the_item_fields(api):
    first = charge(api, merchant_order_id="order-1001")["order"]
    second = charge(api, merchant_order_id="order-1002")["order"]

    response = api.get("/api/v1/orders")

    assert response.status_code == 200
    assert set(response.body) == {"data", "total", "limit", "offset"}
    assert (response.body["total"], response.body["limit"], response.body["offset"]) == (2, 20, 0)
    assert [o["id"] for o in response.body["data"]] == [second["id"], first["id"]]  # newest first
    item = response.body["data"][0]
    assert set(item) >= LIST_ITEM_FIELDS
    assert item["channel_code"] == "usdt_trc20" and Decimal(item["amount"]) == Decimal("49.90")
    assert item["refunded_amount"] == "0" and item["currency"] == "USDT" and item["status"] == "created"
    # The list renders rows, the detail a model instance: every field they share reads the same.
    detail = api.get(f"/api/v1/orders/{item['id']}").body["order"]
    shared = set(item) & set(detail)
    assert shared >= {"is_test", "created_at", "expires_at", "paid_at", "amount", "channel_code"}
    assert {k: item[k] for k in shared} == {k: detail[k] for k in shared}
    assert item["is_test"] is True


def test_list_status_limit_offset(api):
    ids = [charge(api, merchant_order_id=f"order-{1000 + n}")["order"]["id"] for n in range(5)]
    simulate_payment(api, ids[0])

    paid = api.get("/api/v1/orders", query="status=paid&limit=20")
    page = api.get("/api/v1/orders", query="limit=2&offset=1")

    assert [o["id"] for o in paid.body["data"]] == [ids[0]] and paid.body["total"] == 1
    assert [o["id"] for o in page.body["data"]] == [ids[3], ids[2]]
    assert page.body["total"] == 5 and page.body["limit"] == 2 and page.body["offset"] == 1


@pytest.mark.parametrize("query, param", [("limit=201", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"),
                                          ("status=done", "status"), ("colour=red", "colour")])
def test_list_refuses_bad_parameters(api, query, param):
    response = api.get("/api/v1/orders", query=query)

    assert response.status_code == 400
    assert response.body["error"]["param"] == param


def test_list_filters(api):
    a = charge(api, merchant_order_id="INV-1", customer={"email": "john@example.com", "name": "John Smith"})
    b = charge(api, merchant_order_id="INV-2", channel="usdc_base", currency="USDC")
    c = charge(api, merchant_order_id="X-3", customer={"email": "ann@shop.test", "name": "Ann Lee"})
    a, b, c = a["order"], b["order"], c["order"]
    Order.objects.filter(pk=a["id"]).update(created_at=timezone.now() - timedelta(days=3))

    def ids(query):
        response = api.get("/api/v1/orders", query=query)
        assert response.status_code == 200, response.body
        return {o["id"] for o in response.body["data"]}

    assert ids("merchant_order_id=INV-1") == {a["id"]}
    assert ids("merchant_order_id_prefix=INV-") == {a["id"], b["id"]}
    assert ids("channel=usdc_base") == {b["id"]}
    assert ids("network=tron") == {a["id"], c["id"]}
    since = int((timezone.now() - timedelta(days=1)).timestamp())
    assert ids(f"created_from={since}") == {b["id"], c["id"]}
    assert ids(f"created_to={since}") == {a["id"]}
    assert ids("customer=smith") == {a["id"]}
    assert ids("customer=SHOP.TEST") == {c["id"]}
    payer = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    assert simulate_payment(api, c["id"], from_address=payer).status_code == 201
    assert ids(f"from_address={payer}") == {c["id"]}
    assert ids("from_address=TPL66VK2gCXNCD7EJg9pgJRfqcRazjhUZY") == set()


def test_list_is_scoped_to_merchant_and_mode(merchant_keys, other_merchant):
    charge(merchant_keys.test, merchant_order_id="order-1001")

    assert merchant_keys.live.get("/api/v1/orders").body["total"] == 0
    assert other_merchant.test.get("/api/v1/orders").body["total"] == 0
    assert merchant_keys.test.get("/api/v1/orders").body["total"] == 1


# --- retrieve -------------------------------------------------------------------------------------


def test_retrieve_shows_payment_transfers_totals_events_and_fees(api):
    order = charge(api)["order"]

    response = api.get(f"/api/v1/orders/{order['id']}")

    assert response.status_code == 200
    body = response.body
    assert set(body) >= {"order", "payment", "settlements", "checkout_url", "transfers", "running_total",
                         "remaining", "instruction", "events"}
    assert body["order"]["id"] == order["id"] and body["order"]["status"] == "created"
    assert body["payment"]["id"].startswith("pay_") and body["payment"]["status"] == "initiated"
    assert body["settlements"] == [] and body["checkout_url"].startswith("http://testserver/pay/")
    assert body["running_total"] == "0" and body["remaining"] == "0"  # nothing on the deposit address
    assert Decimal(body["order"]["amount_outstanding"]) == Decimal("49.9")
    fees = body["order"]["fees"]
    assert Decimal(fees["fee_percent"]) == 1 and Decimal(fees["fee_amount"]) == Decimal("0.499")
    assert Decimal(fees["merchant_net"]) + Decimal(fees["fee_amount"]) == Decimal(fees["customer_pays"])


def test_retrieve_someone_elses_order_is_404(merchant_keys, other_merchant):
    order = charge(merchant_keys.test)["order"]

    for client in (other_merchant.test, merchant_keys.live):
        response = client.get(f"/api/v1/orders/{order['id']}")
        assert response.status_code == 404 and response.error_code == "not_found"


# --- lifecycle ------------------------------------------------------------------------------------


def test_partial_then_full_payment(api):
    order = charge(api)["order"]

    partial = simulate_payment(api, order["id"], amount="20")
    assert partial.status_code == 201
    assert partial.body["order"]["status"] == "pending"
    assert partial.body["order"]["payment_exception"] == "underpaid"
    assert partial.body["payment"]["status"] == "processing"

    rest = simulate_payment(api, order["id"])  # defaults to what remains due
    assert Decimal(rest.body["transfer"]["amount"]) == Decimal("29.9")
    assert rest.body["order"]["status"] == "paid"
    assert rest.body["order"]["payment_exception"] == ""
    assert rest.body["order"]["paid_at"] is not None
    assert rest.body["payment"]["status"] == "succeeded"
    assert rest.body["payment"]["channel_ref"] == partial.body["transfer"]["tx_hash"]

    detail = api.get(f"/api/v1/orders/{order['id']}").body
    assert Decimal(detail["running_total"]) == Decimal("49.9") and Decimal(detail["remaining"]) == Decimal("49.9")
    assert detail["order"]["amount_outstanding"] == "0"
    assert [t["amount"] for t in detail["transfers"]] == ["29.9", "20"]  # newest first
    assert _statuses(order["id"]) == ["created", "pending", "paid"]


def test_confirmations_move_the_order(api):
    order = charge(api)["order"]

    seen = simulate_payment(api, order["id"], confirmations=0)
    assert seen.body["order"]["status"] == "pending" and seen.body["order"]["payment_exception"] == ""
    assert seen.body["transfer"]["status"] == "seen"
    tx = seen.body["transfer"]["tx_hash"]

    still = simulate_payment(api, order["id"], tx_hash=tx, confirmations=18)
    assert still.body["order"]["status"] == "pending"

    done = simulate_payment(api, order["id"], tx_hash=tx, confirmations=19)
    assert done.body["order"]["status"] == "paid"
    assert done.body["transfer"]["status"] == "confirmed"
    assert len(done.body["transfers"]) == 1


def test_crossing_confirmation_updates_never_take_a_payment_back(api):
    """Two updates that cross (the higher first): the higher count stands, and the order stays
    paid with its amount confirmed; only a reorg takes confirmations back."""
    order = charge(api)["order"]
    tx = simulate_payment(api, order["id"], confirmations=19).body["transfer"]["tx_hash"]

    late = simulate_payment(api, order["id"], tx_hash=tx, confirmations=3)

    assert late.body["transfer"]["confirmations"] == 19 and late.body["transfer"]["status"] == "confirmed"
    assert late.body["order"]["status"] == "paid"
    assert late.body["order"]["amount_confirmed"] == order["amount_due"]


def test_overpayment(api):
    order = charge(api)["order"]

    response = simulate_payment(api, order["id"], amount="60")

    assert response.body["order"]["status"] == "paid"
    assert response.body["order"]["payment_exception"] == "overpaid"


def test_tolerance_counts_a_small_shortfall_as_paid(api, merchant_keys):
    merchant_keys.merchant.underpaid_tolerance_percent = Decimal("1")
    merchant_keys.merchant.save()
    order = charge(api, amount="100")["order"]

    assert simulate_payment(api, order["id"], amount="99.5").body["order"]["status"] == "paid"


def test_simulate_is_test_mode_only(live_api):
    order = charge(live_api)["order"]

    response = simulate_payment(live_api, order["id"])

    assert response.status_code == 403
    assert response.error_code == "test_mode_only"


def test_simulate_refuses_bad_amounts(api):
    order = charge(api)["order"]

    assert simulate_payment(api, order["id"], amount="1.1234567").error_code == "parameter_invalid"
    assert simulate_payment(api, order["id"], amount=5).error_code == "parameter_invalid"
    assert simulate_payment(api, order["id"], tx_hash="sim_nope").status_code == 404


# --- expiry -----------------------------------------------------------------------------------------


def _expire_now(order_id):
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    return orders_expire_due()


def test_expiry_moves_unpaid_orders_to_expired(api):
    unpaid = charge(api, merchant_order_id="order-1001")["order"]
    partial = charge(api, merchant_order_id="order-1002")["order"]
    in_flight = charge(api, merchant_order_id="order-1003")["order"]
    fresh = charge(api, merchant_order_id="order-1004")["order"]
    simulate_payment(api, partial["id"], amount="10")
    simulate_payment(api, in_flight["id"], confirmations=1)  # all of it, waiting for confirmations
    cutoff = timezone.now()  # the funds above arrived before this expiry
    Order.objects.exclude(pk=fresh["id"]).update(expires_at=cutoff)

    assert orders_expire_due(now=cutoff + timedelta(seconds=1)) == 2

    status = {o.id: (o.status, o.payment_exception) for o in Order.objects.all()}
    assert status[unpaid["id"]] == ("expired", "")
    assert status[partial["id"]] == ("expired", "underpaid")
    assert status[in_flight["id"]] == ("pending", "")
    assert status[fresh["id"]] == ("created", "")
    assert orders_expire_due(now=cutoff + timedelta(seconds=2)) == 0  # idempotent


def test_expire_orders_task(api):
    from orders.tasks import expire_orders

    order = charge(api)["order"]
    Order.objects.filter(pk=order["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_orders() == 1
    assert Order.objects.get(pk=order["id"]).status == "expired"


def test_late_full_payment_is_accepted_when_the_merchant_allows_it(api):
    order = charge(api)["order"]
    _expire_now(order["id"])

    response = simulate_payment(api, order["id"])

    assert response.body["order"]["status"] == "paid"
    assert response.body["order"]["payment_exception"] == "paid_late"
    assert _statuses(order["id"]) == ["created", "expired", "paid"]


def test_late_payment_is_recorded_not_lost_when_refused(api, merchant_keys):
    merchant_keys.merchant.accept_late_payments = False
    merchant_keys.merchant.save()
    order = charge(api)["order"]
    _expire_now(order["id"])

    response = simulate_payment(api, order["id"])

    assert response.body["order"]["status"] == "expired"
    assert response.body["order"]["payment_exception"] == "paid_late"
    assert Decimal(response.body["running_total"]) == Decimal("49.9")


# --- manual status changes ----------------------------------------------------------------------


def test_mark_paid_then_again_is_no_change(api):
    order = charge(api)["order"]

    marked = api.patch(f"/api/v1/orders/{order['id']}", {"status": "paid"})
    again = api.patch(f"/api/v1/orders/{order['id']}", {"status": "paid"})

    assert marked.status_code == 200 and marked.body["success"] is True
    assert marked.body["order"]["status"] == "paid"
    assert [w["code"] for w in marked.body["warnings"]] == ["no_funds_received"]
    assert again.status_code == 200
    assert again.body["warnings"] == [{"code": "no_change", "message": 'Order is already "paid". No action taken.'}]
    assert _statuses(order["id"]) == ["created", "paid"]  # the repeat wrote nothing
    event = OrderEvent.objects.filter(order_id=order["id"]).last()
    assert event.actor == f"merchant:{api.key_id}" and event.reason == "marked paid by the merchant"


def test_cancel_and_reopen(api):
    order = charge(api)["order"]

    canceled = api.patch(f"/api/v1/orders/{order['id']}", {"status": "canceled"})
    reopened = api.patch(f"/api/v1/orders/{order['id']}", {"status": "pending"})

    assert canceled.body["order"]["status"] == "canceled"
    assert reopened.body["order"]["status"] == "pending"
    assert reopened.body["order"]["expires_at"] > order["expires_at"]


def test_transition_outside_the_table_is_a_conflict(api):
    order = charge(api)["order"]
    simulate_payment(api, order["id"])

    response = api.patch(f"/api/v1/orders/{order['id']}", {"status": "canceled"})

    assert response.status_code == 409
    assert response.error_code == "invalid_status_transition"
    assert Order.objects.get(pk=order["id"]).status == "paid"


def test_paid_on_chain_cannot_be_reopened(api):
    order = charge(api)["order"]
    simulate_payment(api, order["id"])

    assert api.patch(f"/api/v1/orders/{order['id']}", {"status": "pending"}).error_code == "order_paid_on_chain"


def test_patch_refuses_other_statuses(api):
    order = charge(api)["order"]

    response = api.patch(f"/api/v1/orders/{order['id']}", {"status": "refunded"})

    assert response.status_code == 400 and response.body["error"]["param"] == "status"


# --- delete -----------------------------------------------------------------------------------------


def test_delete_an_order_that_never_received_funds(api):
    order = charge(api)["order"]

    response = api.delete(f"/api/v1/orders/{order['id']}")

    assert response.status_code == 204
    assert api.get(f"/api/v1/orders/{order['id']}").status_code == 404
    assert api.get("/api/v1/orders").body["total"] == 0
    assert Order.objects.get(pk=order["id"]).status == "canceled"  # the row and its audit stay


def test_delete_an_order_with_funds_is_refused(api):
    order = charge(api)["order"]
    simulate_payment(api, order["id"], amount="1")
    api.patch(f"/api/v1/orders/{order['id']}", {"status": "canceled"})

    response = api.delete(f"/api/v1/orders/{order['id']}")

    assert response.status_code == 409
    assert response.error_code == "order_has_funds"
    assert "1 USDT" in response.body["error"]["message"]


@pytest.mark.parametrize("accept, status, exception", [(False, "expired", "paid_late"), (True, "paid", "paid_late")])
def test_a_late_payment_before_the_expiry_job_ran_meets_the_late_payment_setting(
        api, merchant_keys, accept, status, exception):
    merchant_keys.merchant.accept_late_payments = accept
    merchant_keys.merchant.save()
    order = charge(api)["order"]
    Order.objects.filter(pk=order["id"]).update(expires_at=timezone.now() - timedelta(minutes=5))

    response = simulate_payment(api, order["id"])  # the beat job has not expired it yet

    assert (response.body["order"]["status"], response.body["order"]["payment_exception"]) == (status, exception)
    assert _statuses(order["id"])[:2] == ["created", "expired"]


def test_reopening_after_the_address_was_released_never_shares_it(api):
    from wallets.services import deposit_address_release_idle

    first = charge(api, merchant_order_id="order-1001")["order"]
    _expire_now(first["id"])
    Order.objects.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(days=3))
    assert deposit_address_release_idle() == 1
    second = charge(api, amount="5")
    old_address = api.get(f"/api/v1/orders/{first['id']}").body["instruction"]["deposit_address"]
    assert second["instruction"]["deposit_address"] == old_address  # the released address was reused

    reopened = api.patch(f"/api/v1/orders/{first['id']}", {"status": "pending"})

    assert reopened.status_code == 200
    assert [w["code"] for w in reopened.body["warnings"]] == ["new_deposit_address"]
    detail = api.get(f"/api/v1/orders/{first['id']}").body["instruction"]
    assert detail["deposit_address"] != old_address
    assert detail["payment_uri"].startswith(f"tron:{detail['deposit_address']}?")


def test_simulate_default_counts_unconfirmed_funds(api):
    order = charge(api)["order"]
    simulate_payment(api, order["id"], confirmations=0)

    second = simulate_payment(api, order["id"])

    assert second.status_code == 400 and second.error_code == "parameter_invalid"
    assert Order.objects.get(pk=order["id"]).amount_received == Decimal("49.9")


def _plan(qs) -> str:
    from django.db import connection

    sql, args = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, args)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_every_list_filter_can_use_an_index(api, merchant_keys):
    """With sequential scans off, the planner finds an index for each filter's query, and the
    PostgreSQL-only indexes match the SQL Django generates (docs/benchmarks.md has the plans
    on a million orders)."""
    from orders.selectors import order_list

    charge(api, merchant_order_id="order-1001", customer={"email": "john@example.com", "name": "John Smith"})
    filters = [{"status": "paid"}, {"merchant_order_id": "order-1001"}, {"merchant_order_id_prefix": "order-10"},
               {"channel": "usdt_trc20"}, {"network": "tron"}, {"created_from": timezone.now()},
               {"customer": "smith"}, {"from_address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"}]
    for params in filters:
        plan = _plan(order_list(merchant=merchant_keys.merchant, mode="test", filters=params))
        assert "Seq Scan" not in plan, (params, plan)

    customer = Order.objects.filter(customer_name__icontains="smith").values("id")
    assert "order_customer_trgm_idx" in _plan(customer)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'order_moid_prefix_idx'")
        assert "varchar_pattern_ops" in cursor.fetchone()[0]  # prefix LIKE under any collation
