"""The peers' order API in fluxa's vocabulary, through signed HTTP requests: the spellings a
merchant migrating from a peer gateway sends (network codes, "cancelled",
X-Idempotency-Key), delete by reference, reusing the reference of a deleted or canceled
order, the payer-address filter and the presentation fields."""

import re
from decimal import Decimal

import pytest

from orders.models import Order
from testing.client import charge, clients_like, post_charge, run_concurrently, simulate_payment
from wallets.models import Transfer

pytestmark = pytest.mark.django_db


# --- network codes and names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["TRON", "Tron", "TRX", "trx", " tron "])
def test_a_charge_routes_on_a_network_code_or_name(api, name):
    body = charge(api, network=name)

    assert body["order"]["network"] == "tron" and body["order"]["channel_code"] == "usdt_trc20"


@pytest.mark.parametrize("name, channel", [("LTC", "ltc"), ("XRP", "xrp"), ("SOL", "sol"),
                                           ("Bitcoin", "btc"), ("ETH", "eth")])
def test_the_peers_uppercase_codes_route_to_their_network(live_api, name, channel):
    # Priced in the native coin: the peers' code picks the network, the currency the channel.
    currency = {"ltc": "LTC", "xrp": "XRP", "sol": "SOL", "btc": "BTC", "eth": "ETH"}[channel]
    response = post_charge(live_api, network=name, currency=currency, amount="1")

    assert response.status_code == 201, response.body
    assert response.body["order"]["channel_code"] == channel


def test_an_unknown_network_still_has_no_route(api):
    assert post_charge(api, network="DOGE").error_code == "no_route"


@pytest.mark.parametrize("name", ["TRON", "tron", "TRX", "Tron"])
def test_the_network_filter_takes_any_case_and_the_codes(api, name):
    tron = charge(api)["order"]["id"]
    charge(api, channel="usdc_base", currency="USDC")

    response = api.get("/api/v1/orders", query=f"network={name}")

    assert response.status_code == 200
    assert [o["id"] for o in response.body["data"]] == [tron] and response.body["total"] == 1


def test_the_network_filter_refuses_a_network_that_does_not_exist(api):
    response = api.get("/api/v1/orders", query="network=dogechain")

    assert response.status_code == 400
    assert response.error_code == "unknown_network" and response.body["error"]["param"] == "network"


# --- "cancelled" ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["cancelled", "Cancelled", "CANCELED", "canceled"])
def test_patch_takes_cancelled_for_canceled(api, spelling):
    order_id = charge(api)["order"]["id"]

    response = api.patch(f"/api/v1/orders/{order_id}", {"status": spelling})

    assert response.status_code == 200, response.body
    assert response.body["order"]["status"] == "canceled"
    assert Order.objects.get(pk=order_id).status == "canceled"


def test_the_status_filter_takes_cancelled(api):
    canceled = charge(api)["order"]["id"]
    charge(api)
    api.patch(f"/api/v1/orders/{canceled}", {"status": "canceled"})

    for spelling in ("cancelled", "canceled", "Cancelled"):
        response = api.get("/api/v1/orders", query=f"status={spelling}")
        assert [o["id"] for o in response.body["data"]] == [canceled], spelling


def test_a_status_that_is_no_alias_is_still_refused(api):
    order_id = charge(api)["order"]["id"]

    assert api.patch(f"/api/v1/orders/{order_id}", {"status": "cancel"}).status_code == 400
    assert api.get("/api/v1/orders", query="status=cancel").status_code == 400


# --- X-Idempotency-Key ------------------------------------------------------------------------


def test_x_idempotency_key_replays_like_idempotency_key(api):
    first = post_charge(api, headers={"X-Idempotency-Key": "k-1"})
    replay = post_charge(api, headers={"X-Idempotency-Key": "k-1"})
    other_name = post_charge(api, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == replay.status_code == other_name.status_code == 201
    assert replay.body == first.body == other_name.body
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert other_name.headers.get("Idempotent-Replayed") == "true"  # one key, whichever name
    assert Order.objects.count() == 1


def test_x_idempotency_key_with_another_body_is_a_conflict(api):
    post_charge(api, amount="10", headers={"X-Idempotency-Key": "k-1"})

    response = post_charge(api, amount="11", headers={"X-Idempotency-Key": "k-1"})

    assert response.status_code == 409 and response.error_code == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_both_names_with_different_keys_are_refused(api):
    response = post_charge(api, headers={"Idempotency-Key": "k-1", "X-Idempotency-Key": "k-2"})

    assert response.status_code == 400 and response.error_code == "parameter_invalid"
    assert response.body["error"]["param"] == "Idempotency-Key"
    assert Order.objects.count() == 0


def test_the_schema_documents_both_idempotency_headers(api):
    from django.test import Client

    schema = Client().get("/api/v1/schema", HTTP_ACCEPT="application/json")
    charges = schema.json()["paths"]["/api/v1/charges"]["post"]
    headers = {p["name"] for p in charges["parameters"] if p["in"] == "header"}

    assert {"Idempotency-Key", "X-Idempotency-Key"} <= headers


# --- the reference of a deleted or canceled order can be used again ---------------------------


def test_a_deleted_orders_reference_makes_a_new_order(api):
    old = charge(api, merchant_order_id="INV-7")["order"]["id"]
    assert api.delete(f"/api/v1/orders/{old}").status_code == 204

    again = post_charge(api, merchant_order_id="INV-7")

    assert again.status_code == 201 and again.body["idempotent"] is False
    new = again.body["order"]["id"]
    assert new != old and api.get(f"/api/v1/orders/{old}").status_code == 404
    listed = api.get("/api/v1/orders", query="merchant_order_id=INV-7").body["data"]
    assert [o["id"] for o in listed] == [new]  # the deleted one stays hidden
    retry = post_charge(api, merchant_order_id="INV-7")  # the new order holds it now
    assert retry.status_code == 200 and retry.body["idempotent"] is True and retry.body["order"]["id"] == new


def test_a_canceled_orders_reference_makes_a_new_order_and_the_old_keeps_it(api):
    old = charge(api, merchant_order_id="INV-8")["order"]["id"]
    api.patch(f"/api/v1/orders/{old}", {"status": "cancelled"})

    again = post_charge(api, merchant_order_id="INV-8", amount="12")  # other parameters are fine too

    assert again.status_code == 201 and again.body["idempotent"] is False
    new = again.body["order"]["id"]
    listed = api.get("/api/v1/orders", query="merchant_order_id=INV-8").body["data"]
    assert [(o["id"], o["status"]) for o in listed] == [(new, "created"), (old, "canceled")]
    assert api.get(f"/api/v1/orders/{old}").body["order"]["merchant_order_id"] == "INV-8"


def test_a_live_orders_reference_is_still_idempotent_or_a_conflict(api):
    first = charge(api, merchant_order_id="INV-9")["order"]["id"]
    api.patch(f"/api/v1/orders/{first}", {"status": "paid"})

    same = post_charge(api, merchant_order_id="INV-9")
    other = post_charge(api, merchant_order_id="INV-9", amount="1")

    assert same.status_code == 200 and same.body["order"]["id"] == first
    assert other.status_code == 409 and other.error_code == "idempotency_conflict"


def test_reopening_a_canceled_order_whose_reference_was_reused_is_a_conflict(api):
    old = charge(api, merchant_order_id="INV-10")["order"]["id"]
    api.patch(f"/api/v1/orders/{old}", {"status": "canceled"})
    new = charge(api, merchant_order_id="INV-10")["order"]["id"]

    refused = api.patch(f"/api/v1/orders/{old}", {"status": "pending"})

    assert refused.status_code == 409 and refused.error_code == "merchant_order_id_in_use"
    assert refused.body["error"]["order_id"] == new and new in refused.body["error"]["message"]
    assert Order.objects.get(pk=old).status == "canceled"  # nothing of the reopening stayed
    api.patch(f"/api/v1/orders/{new}", {"status": "canceled"})
    reopened = api.patch(f"/api/v1/orders/{old}", {"status": "pending"})
    assert reopened.status_code == 200 and reopened.body["order"]["status"] == "pending"
    assert post_charge(api, merchant_order_id="INV-10").body["order"]["id"] == old  # it holds it again


def test_one_live_order_per_reference_is_a_database_constraint(api):
    from django.db import IntegrityError, transaction

    order = Order.objects.get(pk=charge(api, merchant_order_id="INV-11")["order"]["id"])
    twin = Order.objects.get(pk=charge(api, merchant_order_id="INV-12")["order"]["id"])

    twin.merchant_order_id = "INV-11"
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save(update_fields=["merchant_order_id"])
    twin.reference_released = True  # a released reference may repeat
    twin.save(update_fields=["merchant_order_id", "reference_released"])
    assert Order.objects.filter(merchant_order_id="INV-11").count() == 2 and order.reference_released is False


def test_a_deleted_order_that_receives_funds_shows_again_without_taking_its_reference_back(api):
    from orders.services import order_simulate_payment

    old = charge(api, merchant_order_id="INV-13")["order"]["id"]
    api.delete(f"/api/v1/orders/{old}")
    new = charge(api, merchant_order_id="INV-13")["order"]["id"]

    order_simulate_payment(order_id=old, amount=None, actor="test")  # funds reach the old address

    shown = api.get(f"/api/v1/orders/{old}")
    assert shown.status_code == 200 and shown.body["order"]["payment_exception"] == "after_close"
    assert post_charge(api, merchant_order_id="INV-13").body["order"]["id"] == new


@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_reusing_a_canceled_reference_make_exactly_one_order(merchant_keys):
    api = merchant_keys.test
    # Another amount than the racers': a racer signing in the same second as this charge would
    # otherwise send its exact bytes again (a replay, refused by contract).
    old = charge(api, merchant_order_id="race-2", amount="24")["order"]["id"]
    api.patch(f"/api/v1/orders/{old}", {"status": "canceled"})

    clients = clients_like(api, 20)
    results = run_concurrently(20, lambda i: post_charge(clients[i], merchant_order_id="race-2", amount="25"))

    assert sorted(r.status_code for r in results) == [200] * 19 + [201], {r.error_code for r in results}
    ids = {r.body["order"]["id"] for r in results}
    assert len(ids) == 1 and old not in ids
    assert Order.objects.filter(merchant_order_id="race-2").count() == 2
    assert Order.objects.filter(merchant_order_id="race-2", reference_released=False).get().id in ids


# --- DELETE /api/v1/orders?merchant_order_id=... ----------------------------------------------


def test_delete_by_reference(api):
    order_id = charge(api, merchant_order_id="INV-20")["order"]["id"]
    other = charge(api, merchant_order_id="INV-21")["order"]["id"]

    response = api.delete("/api/v1/orders", query="merchant_order_id=INV-20")

    assert response.status_code == 204
    assert api.get(f"/api/v1/orders/{order_id}").status_code == 404
    order = Order.objects.get(pk=order_id)
    assert order.deleted_at is not None and order.status == "canceled" and order.reference_released
    assert api.get(f"/api/v1/orders/{other}").status_code == 200
    assert api.delete("/api/v1/orders", query="merchant_order_id=INV-20").status_code == 404  # gone now


def test_delete_by_a_reference_with_a_nul_character_is_a_clear_400_not_a_server_error(api):
    order_id = charge(api, merchant_order_id="INV-24")["order"]["id"]

    response = api.delete("/api/v1/orders", query="merchant_order_id=INV-24%00")

    assert response.status_code == 400 and response.error_code == "parameter_invalid"
    assert response.body["error"]["param"] == "merchant_order_id"
    assert Order.objects.get(pk=order_id).deleted_at is None


def test_delete_by_reference_follows_the_rules_of_delete_by_id(api):
    funded = charge(api, merchant_order_id="INV-22")["order"]["id"]
    simulate_payment(api, funded, amount="1")
    paid = charge(api, merchant_order_id="INV-23")["order"]["id"]
    api.patch(f"/api/v1/orders/{paid}", {"status": "paid"})

    has_funds = api.delete("/api/v1/orders", query="merchant_order_id=INV-22")
    is_paid = api.delete("/api/v1/orders", query="merchant_order_id=INV-23")

    assert has_funds.status_code == 409 and has_funds.error_code == "order_has_funds"
    assert "1 USDT" in has_funds.body["error"]["message"]
    assert is_paid.status_code == 409 and is_paid.error_code == "order_paid"
    assert Order.objects.filter(pk__in=[funded, paid], deleted_at__isnull=True).count() == 2


def test_delete_by_reference_takes_the_holder_then_the_newest_canceled(api):
    old = charge(api, merchant_order_id="INV-24")["order"]["id"]
    api.patch(f"/api/v1/orders/{old}", {"status": "canceled"})
    new = charge(api, merchant_order_id="INV-24")["order"]["id"]

    assert api.delete("/api/v1/orders", query="merchant_order_id=INV-24").status_code == 204
    assert Order.objects.get(pk=new).deleted_at is not None and Order.objects.get(pk=old).deleted_at is None
    assert api.delete("/api/v1/orders", query="merchant_order_id=INV-24").status_code == 204
    assert Order.objects.get(pk=old).deleted_at is not None


def test_delete_by_reference_is_scoped_to_merchant_and_mode(merchant_keys, other_merchant):
    theirs = charge(other_merchant.test, merchant_order_id="INV-25")["order"]["id"]
    live = charge(merchant_keys.live, merchant_order_id="INV-25")["order"]["id"]

    response = merchant_keys.test.delete("/api/v1/orders", query="merchant_order_id=INV-25")

    assert response.status_code == 404 and response.error_code == "not_found"
    assert response.body["error"]["param"] == "merchant_order_id"
    assert Order.objects.filter(pk__in=[theirs, live], deleted_at__isnull=True).count() == 2


@pytest.mark.parametrize("query, code, param", [("", "parameter_missing", "merchant_order_id"),
                                                ("merchant_order_id=", "parameter_missing", "merchant_order_id"),
                                                ("reference=INV-1", "unknown_parameter", "reference"),
                                                ("merchant_order_id=INV-1&status=paid", "unknown_parameter",
                                                 "status")])
def test_delete_by_reference_refuses_bad_queries(api, query, code, param):
    order_id = charge(api, merchant_order_id="INV-1")["order"]["id"]

    response = api.delete("/api/v1/orders", query=query)

    assert response.status_code == 400 and response.error_code == code
    assert response.body["error"]["param"] == param
    assert Order.objects.get(pk=order_id).deleted_at is None


# --- messages merchants read: plain amounts, calls that work ----------------------------------

_UNPLAIN = re.compile(r"\d\.\d*0\b|\dE[+-]\d|\{[a-z_]*\}")  # trailing zeros, exponents, placeholders


def _readable(message: str) -> str:
    assert not _UNPLAIN.search(message), message
    return message


def test_canceling_a_funded_order_warns_in_plain_amounts_with_calls_that_work(api):
    order_id = charge(api)["order"]["id"]
    simulate_payment(api, order_id, amount="4")

    canceled = api.patch(f"/api/v1/orders/{order_id}", {"status": "cancelled"})

    warning = canceled.body["warnings"][0]
    assert warning["code"] == "funds_received"
    message = _readable(warning["message"])
    assert message.startswith("4 USDT reached the deposit address")
    # Both calls it suggests name this order and work.
    assert f"GET /api/v1/orders/{order_id} " in message and f"PATCH /api/v1/orders/{order_id} " in message
    detail = api.get(f"/api/v1/orders/{order_id}")
    assert detail.status_code == 200 and [t["amount"] for t in detail.body["transfers"]] == ["4"]
    reopened = api.patch(f"/api/v1/orders/{order_id}", {"status": "pending"})
    assert reopened.status_code == 200 and reopened.body["order"]["status"] == "pending"


def test_reopening_an_order_whose_funds_arrived_after_the_cancel_takes_the_payment(api):
    order_id = charge(api, amount="4")["order"]["id"]
    api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"})
    simulate_payment(api, order_id)  # 4 USDT reach the canceled order: recorded, not applied
    assert api.get(f"/api/v1/orders/{order_id}").body["order"]["payment_exception"] == "after_close"

    reopened = api.patch(f"/api/v1/orders/{order_id}", {"status": "pending"})

    assert reopened.status_code == 200 and reopened.body["order"]["status"] == "paid"
    reasons = [_readable(e["reason"]) for e in api.get(f"/api/v1/orders/{order_id}").body["events"]]
    assert "4 USDT arrived on a canceled order" in reasons
    assert "received 4 USDT, confirmed 4" in reasons


def test_marking_paid_without_funds_warns_in_plain_amounts(api):
    order_id = charge(api)["order"]["id"]

    marked = api.patch(f"/api/v1/orders/{order_id}", {"status": "paid"})

    message = _readable(marked.body["warnings"][0]["message"])
    assert message.startswith("Marked paid with 0 USDT confirmed of 49.9 USDT due")


def test_an_amount_outside_the_limits_is_written_plainly(api):
    from charges.models import Channel

    Channel.objects.filter(code="usdt_trc20").update(min_amount="1", max_amount="100")
    Channel.objects.get(code="usdt_trc20").save()  # the catalogue forgets its snapshot

    response = post_charge(api, amount="150")

    assert response.error_code == "amount_out_of_range"
    assert _readable(response.body["error"]["message"]) == "150 USDT is outside usdt_trc20's limits (1 to 100 USDT)."


def test_a_funded_order_that_cannot_be_deleted_says_how_much_plainly(api):
    order_id = charge(api)["order"]["id"]
    simulate_payment(api, order_id, amount="0.5")

    refused = api.delete(f"/api/v1/orders/{order_id}")

    assert "received 0.5 USDT." in _readable(refused.body["error"]["message"])


# --- presentation fields: display_status, minor units, network_fees / total_to_send, remaining -


def test_display_status_follows_the_order_and_filters_the_list(api):
    created = charge(api)["order"]["id"]
    processing = charge(api)["order"]["id"]
    simulate_payment(api, processing, confirmations=0)
    short = charge(api)["order"]["id"]
    simulate_payment(api, short, amount="1")
    paid = charge(api)["order"]["id"]
    simulate_payment(api, paid)
    canceled = charge(api)["order"]["id"]
    api.patch(f"/api/v1/orders/{canceled}", {"status": "canceled"})
    funded_canceled = charge(api)["order"]["id"]
    simulate_payment(api, funded_canceled, amount="2")
    api.patch(f"/api/v1/orders/{funded_canceled}", {"status": "canceled"})
    expected = {created: "Pending", processing: "Processing", short: "Action Required", paid: "Paid",
                canceled: "Canceled", funded_canceled: "Action Required"}

    listed = {o["id"]: o["display_status"] for o in api.get("/api/v1/orders").body["data"]}
    detailed = {i: api.get(f"/api/v1/orders/{i}").body["order"]["display_status"] for i in expected}

    assert listed == detailed == expected
    for name, query in [("Action Required", "action_required"), ("Action Required", "Action%20Required"),
                        ("Paid", "PAID"), ("Processing", "processing"), ("Canceled", "canceled")]:
        response = api.get("/api/v1/orders", query=f"display_status={query}")
        assert response.status_code == 200, response.body
        assert {o["id"] for o in response.body["data"]} == {i for i, d in expected.items() if d == name}, query
        assert response.body["total"] == sum(d == name for d in expected.values())


def test_display_status_filter_refuses_an_unknown_name(api):
    response = api.get("/api/v1/orders", query="display_status=Disputed")

    assert response.status_code == 400 and response.body["error"]["param"] == "display_status"


def test_every_status_and_exception_has_one_display_status():
    from django.db.models import Q

    from orders.models import OrderStatus, PaymentException
    from orders.presentation import DISPLAY_STATUSES, display_status, display_status_q

    for status in OrderStatus.values:
        for exception in PaymentException.values:
            name = display_status(status, exception)
            assert name in DISPLAY_STATUSES
            # The filter's condition agrees with the mapping, for every pair.
            matching = [n for n in DISPLAY_STATUSES
                        if _q_matches(display_status_q(n), status=status, payment_exception=exception)]
            assert matching == [name], (status, exception, matching)
    assert isinstance(display_status_q("Paid"), Q)


def _q_matches(q, **row) -> bool:
    """Evaluate a Q of exact / __in lookups (and negations) against one row, in Python."""
    if not q.children:
        return not q.negated and False
    results = []
    for child in q.children:
        if isinstance(child, tuple):
            lookup, value = child
            field, _, op = lookup.partition("__")
            if field == "pk":
                results.append(False)
            elif op == "in":
                results.append(row[field] in value)
            else:
                results.append(row[field] == value)
        else:
            results.append(_q_matches(child, **row))
    result = all(results) if q.connector == "AND" else any(results)
    return not result if q.negated else result


def test_amounts_in_minor_units(api):
    from django.utils import timezone

    from charges.rates import ExchangeRate

    ExchangeRate.objects.get_or_create(base="USDT", quote="EUR", defaults={
        "rate": Decimal("0.9213"), "source": "median(test)", "sources_used": [], "fetched_at": timezone.now()})
    in_usdt = charge(api, amount="49.90")["order"]["id"]  # USDT on tron: 6 decimals
    in_eur = charge(api, amount="49.90", currency="EUR")["order"]["id"]
    simulate_payment(api, in_usdt, amount="1.5")

    usdt = api.get(f"/api/v1/orders/{in_usdt}").body["order"]
    eur = api.get(f"/api/v1/orders/{in_eur}").body["order"]
    listed = {o["id"]: o for o in api.get("/api/v1/orders").body["data"]}

    assert (usdt["amount_minor"], usdt["amount_due_minor"], usdt["amount_received_minor"]) == (
        49_900_000, 49_900_000, 1_500_000)
    assert eur["amount_minor"] == 4990  # cents of the price
    assert eur["amount_due_minor"] == int(Decimal(eur["amount_due"]) * 10**6)  # base units of the asset
    assert listed[in_usdt]["amount_minor"] == 49_900_000 and listed[in_eur]["amount_minor"] == 4990
    assert listed[in_eur]["refunded_amount_minor"] == 0


def test_minor_units_of_an_18_decimal_asset_are_exact(api):
    order_id = charge(api, channel="eth_base", currency="ETH", amount="1.000000000000000001")["order"]["id"]

    order = api.get(f"/api/v1/orders/{order_id}").body["order"]

    assert order["amount_minor"] == 10**18 + 1 and order["amount_due_minor"] == 10**18 + 1


def test_total_to_send_is_what_the_payment_uri_asks_and_network_fees_are_zero(api):
    body = charge(api, amount="68")
    order = api.get(f"/api/v1/orders/{body['order']['id']}").body["order"]

    assert order["network_fees"] == "0" and order["total_to_send"] == "68"
    assert body["order"]["total_to_send"] == "68"
    assert "?amount=68&" in body["instruction"]["payment_uri"]  # what the payer's wallet is asked


def test_remaining_is_what_the_recorded_transfers_left_on_the_deposit_address(api):
    order_id = charge(api)["order"]["id"]
    assert api.get(f"/api/v1/orders/{order_id}").body["remaining"] == "0"

    simulate_payment(api, order_id, amount="4")
    partly = api.get(f"/api/v1/orders/{order_id}").body
    simulate_payment(api, order_id, amount="50")
    over = api.get(f"/api/v1/orders/{order_id}").body

    assert partly["remaining"] == partly["order"]["remaining"] == "4"
    assert partly["order"]["amount_outstanding"] == "45.9"
    assert over["remaining"] == "54" and over["order"]["amount_outstanding"] == "0"
    assert over["order"]["display_status"] == "Paid"


# --- from_address: the payer's sending address ------------------------------------------------

PAYER_EVM = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
OTHER_EVM = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
PAYER_TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
PAYER_XRPL = "rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe"
PAYER_XRPL_X_TEST = "TVeG6DZkiwxmsLrXeYEu5WuSxJDWudgMDR839hr9vgTeK2C"  # the same account, test X-address


def _ids(api, query):
    response = api.get("/api/v1/orders", query=query)
    assert response.status_code == 200, response.body
    return {o["id"] for o in response.body["data"]}


def test_from_address_finds_the_orders_a_payer_paid_in_any_spelling(api):
    from wallets.models import Transfer

    base = dict(channel="usdc_base", currency="USDC", amount="10")
    paid = charge(api, **base)["order"]["id"]
    simulate_payment(api, paid, from_address=PAYER_EVM.lower())
    again = charge(api, **base)["order"]["id"]
    simulate_payment(api, again, amount="1", from_address=PAYER_EVM)
    other = charge(api, **base)["order"]["id"]
    simulate_payment(api, other, from_address=OTHER_EVM)
    tron = charge(api)["order"]["id"]
    simulate_payment(api, tron, from_address=PAYER_TRON)
    charge(api)  # never paid

    assert Transfer.objects.get(order_id=paid).sender == PAYER_EVM  # recorded in its normal form
    for spelling in (PAYER_EVM, PAYER_EVM.lower(), "0x" + PAYER_EVM[2:].upper(), f"%20{PAYER_EVM}%20"):
        assert _ids(api, f"from_address={spelling}") == {paid, again}, spelling
    assert _ids(api, f"from_address={PAYER_TRON}") == {tron}
    assert _ids(api, f"from_address={PAYER_EVM}&network=base&display_status=paid") == {paid}


def test_from_address_takes_an_xrpl_x_address_for_its_account(api):
    order_id = charge(api, channel="xrp", currency="XRP", amount="5")["order"]["id"]
    simulate_payment(api, order_id, from_address=PAYER_XRPL_X_TEST)

    assert _ids(api, f"from_address={PAYER_XRPL}") == {order_id}
    assert _ids(api, f"from_address={PAYER_XRPL_X_TEST}") == {order_id}


def test_from_address_is_scoped_to_the_merchant_and_mode(merchant_keys, other_merchant):
    theirs = charge(other_merchant.test, channel="usdc_base", currency="USDC")["order"]["id"]
    simulate_payment(other_merchant.test, theirs, from_address=PAYER_EVM)

    assert _ids(merchant_keys.test, f"from_address={PAYER_EVM}") == set()
    assert _ids(other_merchant.test, f"from_address={PAYER_EVM}") == {theirs}


@pytest.mark.parametrize("query", ["from_address=not-an-address", f"from_address={PAYER_EVM}&network=tron",
                                   f"from_address={PAYER_EVM[:-1]}"])
def test_from_address_refuses_what_is_no_address(api, query):
    response = api.get("/api/v1/orders", query=query)

    assert response.status_code == 400 and response.error_code == "invalid_address"
    assert response.body["error"]["param"] == "from_address"


def test_simulate_refuses_a_from_address_of_another_network(api):
    order_id = charge(api)["order"]["id"]  # tron

    response = simulate_payment(api, order_id, from_address=PAYER_EVM)

    assert response.status_code == 400 and response.error_code == "invalid_address"
    assert Order.objects.get(pk=order_id).amount_received == 0


def test_the_from_address_filter_uses_the_sender_index(api, merchant_keys):
    from django.db import connection

    from orders.selectors import order_list

    # Enough transfers, analyzed, that the plan reflects real choices: on an empty table any
    # index scan (say, of order_id) costs the same and the planner's pick is arbitrary.
    order = Order.objects.get(pk=charge(api)["order"]["id"])
    Transfer.objects.bulk_create(
        Transfer(network="tron", mode="test", tx_hash=f"{i:064x}", order=order, asset="USDT", amount=Decimal(1),
                 sender=f"T{i:033d}") for i in range(500))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE wallets_transfer")
    qs = order_list(merchant=merchant_keys.merchant, mode="test", filters={"from_address": PAYER_EVM})
    sql, args = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, args)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "transfer_sender_idx" in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("name", ["Action Required", "Paid", "Pending"])
def test_the_display_status_filter_can_use_an_index(api, merchant_keys, name):
    from django.db import connection

    from orders.selectors import order_list

    charge(api)
    qs = order_list(merchant=merchant_keys.merchant, mode="test", filters={"display_status": name})
    sql, args = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, args)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan" not in plan, plan
