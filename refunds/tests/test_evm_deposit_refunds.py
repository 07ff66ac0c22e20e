"""Deposit refunds on the session's anvil: live orders paid in part for real, canceled, quoted
and refunded through the signed API, the transfers built and sent by the refunds' beat job, and
the result read from the chain itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order
from refunds.models import Refund
from settlements.models import Outbound
from testing.crash import run_killed
from testing.evm_settlements import WEI, evm, new_address  # noqa: F401  (evm: the fixture)
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def _refund_events(order_id: str) -> list[str]:
    return list(Event.objects.filter(type__startswith="refund.", data__order__id=order_id)
                .order_by("created_at", "id").values_list("type", flat=True))


def _confirmed(order_id: str):
    return lambda: Refund.objects.get(order_id=order_id).status == "confirmed"


def test_a_canceled_ether_order_goes_back_to_the_payer_at_exactly_the_quoted_net(evm, live_api):
    order_id, deposit = evm.canceled_order(live_api, eth="0.02", due="0.05")
    payer = new_address()

    quote = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}")

    assert quote.status_code == 200, quote.body
    q = quote.body["quote"]
    assert Decimal(q["amount"]) == Decimal("0.02") and q["paid_by"] == "payer" and q["network_cost_asset"] == "ETH"
    assert Decimal(q["net"]) + Decimal(q["network_cost"]) == Decimal("0.02")
    assert "0.02 ETH leaves the deposit address" in q["message"] and "E-" not in q["message"]

    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})

    assert created.status_code == 201, created.body
    refund = created.body["refund"]
    assert refund["id"].startswith("rfd_") and refund["kind"] == "deposit" and refund["status"] == "pending"
    assert refund["quoted_net"] == q["net"] and refund["refund_address"].lower() == payer
    evm.refund_until(_confirmed(order_id))

    # On the chain: the payer received exactly the quoted net, the deposit address is empty.
    assert evm.balance(payer) == int(Decimal(q["net"]) * WEI)
    assert evm.balance(deposit) == 0
    stored = Refund.objects.get(order_id=order_id)
    assert stored.net == Decimal(q["net"]) and stored.network_cost == Decimal(q["network_cost"])
    assert stored.tx_hash == Outbound.objects.get(refund_legs__refund=stored).txid != ""
    body = live_api.get(f"/api/v1/orders/{order_id}").body
    assert body["order"]["status"] == "refunded" and Decimal(body["remaining"]) == 0
    assert body["refunds"][0]["status"] == "confirmed" and body["refunds"][0]["tx_hash"] == stored.tx_hash
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
    confirmed = Event.objects.get(type="refund.confirmed", data__order__id=order_id).data["refund"]
    assert confirmed["net"] == q["net"] and confirmed["tx_hash"] == stored.tx_hash
    assert Event.objects.filter(type="order.refunded", data__order__id=order_id).count() == 1


def test_a_canceled_token_order_is_refunded_in_full_with_a_gas_top_up(evm, live_api):
    order_id, deposit = evm.canceled_order(live_api, usdt="4")
    payer = new_address()
    fee_payer_before = evm.balance(evm.fee_payer)

    q = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}").body["quote"]
    assert (q["amount"], q["net"], q["paid_by"]) == ("4", "4", "operator")
    assert "4 USDT reaches" in q["message"]
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer}).status_code == 201
    evm.refund_until(_confirmed(order_id))

    assert evm.token_balance(payer) == 4 * 10**6 and evm.token_balance(deposit) == 0
    assert evm.balance(evm.fee_payer) < fee_payer_before  # the operator paid the gas
    roles = sorted(Outbound.objects.filter(refund_legs__refund__order_id=order_id).values_list("purpose", flat=True))
    assert roles == ["refund", "topup"]
    assert Order.objects.get(pk=order_id).status == "refunded"
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]


def test_refusals_use_the_error_envelope(evm, live_api):
    pending_id, _ = evm.paid_order(live_api, eth="0.01")  # paid in full: nothing beyond the amount due
    order_id, deposit = evm.canceled_order(live_api, eth="0.02", due="0.05")
    payer = new_address()

    paid = live_api.post(f"/api/v1/orders/{pending_id}/refund", {"refund_address": payer})
    wrong_network = live_api.post(f"/api/v1/orders/{order_id}/refund",
                                  {"refund_address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"})
    no_address = live_api.post(f"/api/v1/orders/{order_id}/refund", {})
    first = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    second = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})

    assert (paid.status_code, paid.error_code) == (422, "nothing_to_refund")
    assert (wrong_network.status_code, wrong_network.error_code) == (422, "invalid_address")
    assert wrong_network.body["error"]["param"] == "refund_address"
    assert (no_address.status_code, no_address.error_code) == (400, "refund_address_required")
    assert first.status_code == 201
    assert (second.status_code, second.error_code) == (409, "refund_in_progress")
    assert first.body["refund"]["id"] in second.body["error"]["message"]

    evm.refund_until(_confirmed(order_id))
    again = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    assert (again.status_code, again.error_code) == (422, "nothing_to_refund")


def test_a_pending_order_is_not_refundable_and_dust_is_refused(evm, live_api):
    evm.fresh_head()
    from testing.client import charge_to_pay
    open_id, _ = charge_to_pay(live_api, channel="eth", currency="ETH", amount="0.05")
    dust_id, _ = evm.canceled_order(live_api, eth="0.000001", due="0.05")
    payer = new_address()

    pending = live_api.post(f"/api/v1/orders/{open_id}/refund", {"refund_address": payer})
    dust = live_api.get(f"/api/v1/orders/{dust_id}/refund_quote?refund_address={payer}")

    assert (pending.status_code, pending.error_code) == (409, "order_not_refundable")
    assert f"PATCH /api/v1/orders/{open_id}" in pending.body["error"]["message"]
    assert (dust.status_code, dust.error_code) == (422, "below_network_cost")
    assert "0.000001 ETH" in dust.body["error"]["message"]


def test_the_cancel_warning_suggests_a_refund_call_that_works(evm, live_api):
    evm.fresh_head()
    from testing.client import charge_to_pay
    order_id, address = charge_to_pay(live_api, channel="usdt_erc20", currency="USDT", amount="25")
    evm.send_tokens(address, 4 * 10**6)
    evm.mine(1)
    evm.scan()

    warning = live_api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).body["warnings"][0]["message"]

    assert "{id}" not in warning and "4 USDT" in warning and "4.000000" not in warning
    assert f"POST /api/v1/orders/{order_id}/refund" in warning
    payer = new_address()
    assert live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}").status_code == 200
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer}).status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_refund_never_sends_twice(evm, live_api, point):
    order_id, deposit = evm.canceled_order(live_api, eth="0.02", due="0.05")
    payer = new_address()
    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    assert created.status_code == 201
    # The refund was enqueued after commit; the suite's broker holds it and no worker runs.
    start_nonce, start_balance = evm.nonce(deposit), evm.balance(deposit)

    killed = run_killed(point, purposes=["refund"])

    assert killed.killed, killed.stderr[-3000:]
    outbound = Outbound.objects.get(refund_legs__refund__order_id=order_id)
    assert outbound.status == {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    assert evm.nonce(deposit) - start_nonce == (0 if point == "after_sign" else 1)

    evm.refund_until(_confirmed(order_id))  # the restart

    assert evm.nonce(deposit) - start_nonce == 1  # one transfer, whatever was killed
    assert evm.balance(payer) == int(Refund.objects.get(order_id=order_id).quoted_net * WEI)
    # Exactly what the order received left the address (a flushed database derives the same
    # addresses again, so an earlier test's leftovers may be on it).
    assert start_balance - evm.balance(deposit) == int(Decimal("0.02") * WEI)


def test_a_node_that_cannot_be_read_answers_503_and_writes_nothing(evm, live_api, settings):
    order_id, _ = evm.canceled_order(live_api, eth="0.02", due="0.05")
    settings.FLUXA_CHAINS = {"ethereum": {"live": "http://127.0.0.1:9"}}  # nothing listens there

    response = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": new_address()})

    assert (response.status_code, response.error_code) == (503, "chain_unavailable")
    assert not Refund.objects.filter(order_id=order_id).exists()
