"""What an operator sees and does: Django admin's settlements with every candidate txid, the
retry and mark-for-review actions, the owed-fee ledger; /healthz reporting a fee payer low."""

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from settlements import engine
from settlements.models import (
    Candidate,
    FeePayerBalance,
    LegRole,
    Outbound,
    OutboundStatus,
    OwedFee,
    SenderRole,
    Settlement,
    SettlementLeg,
    SettlementStatus,
)
from testing.admin import admin_change_url
from testing.client import charge

pytestmark = pytest.mark.django_db


@pytest.fixture
def settlement_in_review(live_api):
    order = Order.objects.get(pk=charge(live_api)["order"]["id"])
    settlement = Settlement.objects.create(
        order=order, merchant_id=order.merchant_id, mode=order.mode, network=order.network, asset=order.asset,
        gross=Decimal("49.9"), fee=Decimal("0.499"), amount=Decimal("49.401"), to_address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        status=SettlementStatus.NEEDS_REVIEW, fee_owed=True)
    account = engine.sending_account(network=order.network, mode=order.mode, address=order.deposit_address,
                                     role=SenderRole.DEPOSIT, derivation_index=0)
    outbound = Outbound.objects.create(network=order.network, mode=order.mode, purpose="settlement", sender=account,
                                       asset=order.asset, outputs=[], status=OutboundStatus.NEEDS_REVIEW,
                                       last_error="the node refused the signed transaction: bandwidth")
    for txid in ("aa" * 32, "bb" * 32):
        Candidate.objects.create(outbound=outbound, network=order.network, txid=txid, raw="00",
                                 network_cost=Decimal("1"), outputs=[])
    SettlementLeg.objects.create(settlement=settlement, outbound=outbound, role=LegRole.NET)
    OwedFee.objects.create(settlement=settlement, merchant_id=order.merchant_id, network=order.network,
                           asset=order.asset, amount=Decimal("0.499"), held_at=order.deposit_address,
                           reason="no platform address for tron")
    return settlement, outbound


def test_the_admin_shows_every_candidate_txid_and_the_owed_fee_ledger(admin_client, settlement_in_review):
    settlement, outbound = settlement_in_review

    page = admin_client.get(admin_change_url(Settlement, settlement.id)).content.decode()
    assert "aa" * 32 in page and "bb" * 32 in page and "needs_review" in page
    assert "0.499" in admin_client.get("/admin/settlements/owedfee/").content.decode()
    assert admin_client.get(admin_change_url(Outbound, outbound.id)).status_code == 200


def test_retry_puts_a_signed_transfer_back_to_broadcast_without_rebuilding(admin_client, settlement_in_review):
    settlement, outbound = settlement_in_review

    admin_client.post("/admin/settlements/outbound/", {"action": "retry", "_selected_action": [outbound.id]})

    outbound.refresh_from_db()
    assert outbound.status == OutboundStatus.BROADCAST and outbound.candidates.count() == 2
    settlement.refresh_from_db()
    assert settlement.status != SettlementStatus.NEEDS_REVIEW


def test_mark_for_review_stops_the_engine(admin_client, settlement_in_review):
    _, outbound = settlement_in_review
    Outbound.objects.filter(pk=outbound.pk).update(status=OutboundStatus.BROADCAST)

    admin_client.post("/admin/settlements/outbound/", {"action": "mark_for_review", "_selected_action": [outbound.id]})

    assert Outbound.objects.get(pk=outbound.pk).status == OutboundStatus.NEEDS_REVIEW
    assert outbound.id not in engine.outbounds_due()


def test_healthz_reports_a_fee_payer_running_low(client):
    assert "fee_payers_low" not in client.get("/healthz").json()
    FeePayerBalance.objects.create(network="ethereum", mode="live", address="0x" + "34" * 20,
                                   balance=Decimal("0.001"), asset="ETH", low=True, checked_at=timezone.now())
    body = client.get("/healthz").json()
    assert body["fee_payers_low"][0]["network"] == "ethereum" and body["fee_payers_low"][0]["balance"] == "0.001"
    assert body["status"] == "degraded"
