"""POST /api/v1/orders/{id}/refund: custodial orders only, in parts or the rest, never more than
is left, never twice at once."""

from decimal import Decimal

import pytest

from charges.models import Channel
from orders.models import Order
from refunds.models import Refund
from testing.client import charge, clients_like, run_concurrently, simulate_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def custodial():
    """Operator-internal: the operator switched usdt_trc20 to custodial in the admin."""
    Channel.objects.filter(code="usdt_trc20").update(settlement_mode="custodial")


def _paid_order(api):
    order = charge(api)["order"]
    assert simulate_payment(api, order["id"]).body["order"]["status"] == "paid"
    return order


def test_partial_refund_leaves_the_order_partially_refunded(api, custodial):
    order = _paid_order(api)

    response = api.post(f"/api/v1/orders/{order['id']}/refund", {"amount": "10.00", "reason": "partial refund"})

    assert response.status_code == 201
    body = response.body["order"]
    assert body["id"] == order["id"] and body["status"] == "partially_refunded"
    assert Decimal(body["amount"]) == Decimal("49.90") and Decimal(body["refunded_amount"]) == Decimal("10.00")
    assert body["currency"] == "USDT"
    refund = response.body["refund"]
    assert refund["id"].startswith("rfd_") and refund["reason"] == "partial refund"
    assert refund["status"] == "pending"  # the operator pays custodial refunds out


def test_refund_the_rest_then_nothing_is_left(api, custodial):
    order = _paid_order(api)
    api.post(f"/api/v1/orders/{order['id']}/refund", {"amount": "10"})

    rest = api.post(f"/api/v1/orders/{order['id']}/refund", {})
    again = api.post(f"/api/v1/orders/{order['id']}/refund", {})

    assert rest.body["order"]["status"] == "refunded"
    assert Decimal(rest.body["refund"]["amount"]) == Decimal("39.9")
    assert (again.status_code, again.error_code) == (409, "order_not_refundable")


def test_refund_more_than_is_left(api, custodial):
    order = _paid_order(api)

    response = api.post(f"/api/v1/orders/{order['id']}/refund", {"amount": "50"})

    assert (response.status_code, response.error_code) == (422, "refund_exceeds_balance")
    assert Order.objects.get(pk=order["id"]).refunded_amount == 0


def test_unpaid_orders_are_not_refundable(api, custodial):
    order = charge(api, amount="5")["order"]

    response = api.post(f"/api/v1/orders/{order['id']}/refund", {"amount": "1"})

    assert (response.status_code, response.error_code) == (409, "order_not_refundable")


def test_a_direct_order_is_refunded_from_its_deposit_address_never_silently(api):
    order = _paid_order(api)

    with_amount = api.post(f"/api/v1/orders/{order['id']}/refund", {"amount": "1", "refund_address": "TX"})
    no_address = api.post(f"/api/v1/orders/{order['id']}/refund", {})
    simulated = api.post(f"/api/v1/orders/{order['id']}/refund",
                         {"refund_address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"})

    # An amount a deposit refund cannot honour, and a missing address, are refused, not ignored.
    assert (with_amount.status_code, with_amount.error_code) == (400, "amount_not_accepted")
    assert (no_address.status_code, no_address.error_code) == (400, "refund_address_required")
    # A test order paid by simulation holds nothing on-chain, and the merchant is told so.
    assert (simulated.status_code, simulated.error_code) == (422, "nothing_to_refund")
    assert "simulated" in simulated.body["error"]["message"]


def test_refund_of_someone_elses_order_is_404(api, other_merchant, custodial):
    order = _paid_order(api)

    assert other_merchant.test.post(f"/api/v1/orders/{order['id']}/refund", {}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_amount(merchant_keys, custodial):
    api = merchant_keys.test
    order = _paid_order(api)

    clients = clients_like(api, 8)
    results = run_concurrently(8, lambda i: clients[i].post(f"/api/v1/orders/{order['id']}/refund",
                                                                      {"amount": "10"}))

    assert sorted(r.status_code for r in results) == [201] * 4 + [422] * 4
    assert Order.objects.get(pk=order["id"]).refunded_amount == Decimal("40")
    assert Refund.objects.count() == 4
