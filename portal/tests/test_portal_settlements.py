"""The settlements a merchant sees in the portal: on the order's page (status, net, fee,
network cost, the transaction with its explorer link), the mark-paid action reporting the
settlement it could not start, and the dashboard's notice of a fee payer running low."""

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from settlements.models import FeePayerBalance, Settlement, SettlementStatus
from testing.client import charge

pytestmark = pytest.mark.django_db


def test_the_order_page_shows_its_settlement(live_owner, live_api):
    order = Order.objects.get(pk=charge(live_api, network="ethereum", currency="ETH", amount="0.05")["order"]["id"])
    settlement = Settlement.objects.create(
        order=order, merchant_id=order.merchant_id, mode=order.mode, network=order.network, asset=order.asset,
        gross=Decimal("0.05"), fee=Decimal("0.0005"), amount=Decimal("0.0494"), status=SettlementStatus.CONFIRMED,
        to_address="0x" + "12" * 20, tx_hash="0x" + "ab" * 32, confirmations=12, network_cost=Decimal("0.0001"),
        network_cost_asset="ETH")

    html = live_owner.get(f"/portal/orders/{order.id}").content.decode()

    assert settlement.id in html and "confirmed" in html
    assert "0.0494 ETH" in html and "0.0005 ETH" in html and "0.0001 ETH" in html
    assert "etherscan.io/tx/0x" + "ab" * 32 in html


def test_marking_a_live_order_paid_without_funds_says_the_settlement_did_not_start(live_owner, live_api):
    order_id = charge(live_api, network="ethereum", currency="ETH", amount="0.05")["order"]["id"]

    page = live_owner.post(f"/portal/orders/{order_id}/status", {"status": "paid"}, follow=True)

    assert Order.objects.get(pk=order_id).status == "paid"
    assert b"settlement_not_started" in page.content and b"no confirmed funds" in page.content
    assert not Settlement.objects.filter(order_id=order_id).exists()


def test_the_dashboard_warns_when_a_fee_payer_runs_low(live_owner):
    FeePayerBalance.objects.create(network="ethereum", mode="live", address="0x" + "34" * 20,
                                   balance=Decimal("0.001"), asset="ETH", low=True, checked_at=timezone.now())
    html = live_owner.get("/portal/").content.decode()
    assert "fee payer on ethereum is low" in html and "0.001 ETH" in html
