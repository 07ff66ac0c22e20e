"""The merchant's automatic refunds (Merchant.auto_refund, off by default) on the session's
anvil: an overpayment's excess once the order is settled, and a late payment the late-payment
setting refused, go back by themselves to the refund address given at charge time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from merchants.models import Merchant
from orders.models import Order
from refunds.models import Refund
from refunds.tasks import auto_refunds
from settlements.models import Settlement
from testing.client import charge, order_state
from testing.evm_settlements import WEI, evm, new_address, payout_address  # noqa: F401  (evm: the fixture)

pytestmark = pytest.mark.django_db


def _charge(api, payer: str, **fields) -> tuple[str, str]:
    body = charge(api, refund_address=payer, **fields)
    assert body["order"]["refund_address"].lower() == payer
    return body["order"]["id"], body["instruction"]["deposit_address"]


def test_an_overpayment_excess_goes_back_by_itself_once_settled(evm, live_api, merchant_keys):
    Merchant.objects.filter(pk=merchant_keys.merchant.pk).update(auto_refund=True)
    payout_address(merchant_keys.merchant, new_address())
    payer = new_address()
    evm.fresh_head()
    order_id, deposit = _charge(live_api, payer, channel="eth", currency="ETH", amount="0.05")
    evm.send_eth(deposit, int(Decimal("0.06") * WEI))
    evm.mine(1)
    evm.scan()
    assert order_state(order_id) == ("paid", "overpaid")

    assert auto_refunds() == 0  # not before the order's settlement is confirmed
    evm.settle_until(lambda: Settlement.objects.get(order_id=order_id).status == "confirmed")
    # What is left on the deposit address, by the records: the excess (the settlement took its gross).
    assert Decimal(live_api.get(f"/api/v1/orders/{order_id}").body["order"]["remaining"]) == Decimal("0.01")
    assert auto_refunds() == 1
    evm.refund_until(lambda: Refund.objects.get(order_id=order_id).status == "confirmed")
    detail = live_api.get(f"/api/v1/orders/{order_id}").body
    assert Decimal(detail["remaining"]) == Decimal(detail["order"]["remaining"]) == 0

    refund = Refund.objects.get(order_id=order_id)
    assert refund.cause == "overpayment" and refund.amount == Decimal("0.01") and refund.actor == "system:auto_refund"
    assert evm.balance(payer) == int(refund.quoted_net * WEI) and refund.net == refund.quoted_net
    assert Order.objects.get(pk=order_id).status == "paid"  # the order stays paid: only the excess went back
    assert auto_refunds() == 0  # once


def test_a_refused_late_payment_goes_back_by_itself_and_nothing_happens_when_off(evm, live_api, merchant_keys):
    Merchant.objects.filter(pk=merchant_keys.merchant.pk).update(accept_late_payments=False)
    payer = new_address()
    evm.fresh_head()
    order_id, deposit = _charge(live_api, payer, channel="usdt_erc20", currency="USDT", amount="25")
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(minutes=5))
    evm.send_tokens(deposit, 25 * 10**6)
    evm.mine(1)
    evm.scan()
    assert order_state(order_id) == ("expired", "paid_late")

    assert auto_refunds() == 0  # the setting is off by default
    assert not Refund.objects.filter(order_id=order_id).exists()
    Merchant.objects.filter(pk=merchant_keys.merchant.pk).update(auto_refund=True)
    assert auto_refunds() == 1
    evm.refund_until(lambda: Refund.objects.get(order_id=order_id).status == "confirmed")

    assert evm.token_balance(payer) == 25 * 10**6
    assert Order.objects.get(pk=order_id).status == "refunded"


def test_a_refund_address_of_another_network_is_refused_at_charge_time(live_api):
    response = live_api.post("/api/v1/charges", {"amount": "25", "currency": "USDT", "channel": "usdt_erc20",
                                                 "refund_address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"})

    assert (response.status_code, response.error_code) == (422, "invalid_address")
    assert response.body["error"]["param"] == "refund_address"
