"""Planning and following settlements, rule by rule, on rows alone (no node is called while
planning; the chains are in the family tests): an order marked paid without funds never
blocks the others, and a fee transfer that failed is recorded owed."""

from decimal import Decimal

import pytest
from django.utils import timezone

from merchants.services import payout_address_set
from orders.models import Order, OrderStatus
from settlements import engine, services
from settlements.models import (
    LegRole,
    Outbound,
    OutboundStatus,
    OwedFee,
    SenderRole,
    Settlement,
    SettlementLeg,
    SettlementStatus,
)
from testing.client import charge
from wallets.models import Transfer, TransferStatus
from wallets.services import wallet_root_ensure

pytestmark = pytest.mark.django_db


def _paid(live_api, *, funded: bool) -> Order:
    order = Order.objects.get(pk=charge(live_api, network="ethereum", currency="ETH", amount="0.05")["order"]["id"])
    if funded:
        Transfer.objects.create(network="ethereum", mode="live", tx_hash="0x" + order.id.encode().hex()[:64].ljust(64, "0"),
                                log_index=0, order=order, deposit_address=order.deposit_addresses.first(), asset="ETH",
                                amount=Decimal("0.05"), confirmations=100, status=TransferStatus.CONFIRMED)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID, paid_at=timezone.now(),
                                             amount_received=Decimal("0.05") if funded else 0,
                                             amount_confirmed=Decimal("0.05") if funded else 0)
    return order


def test_orders_marked_paid_without_funds_never_hold_up_the_planning_of_funded_ones(live_api, merchant_keys, settings):
    wallet_root_ensure()
    settings.FLUXA_PLATFORM_ADDRESSES = {"ethereum": "0x" + "56" * 20}
    payout_address_set(merchant=merchant_keys.merchant, mode="live", network="ethereum", address="0x" + "78" * 20)
    unfunded = [_paid(live_api, funded=False) for _ in range(3)]
    funded = _paid(live_api, funded=True)

    planned = services.settlements_plan_due(limit=2)

    assert [Settlement.objects.get(pk=pk).order_id for pk in planned] == [funded.id]
    assert not Settlement.objects.filter(order__in=unfunded).exists()


def test_a_failed_fee_transfer_is_recorded_owed_where_it_stayed(live_api):
    order = _paid(live_api, funded=True)
    settlement = Settlement.objects.create(
        order=order, merchant_id=order.merchant_id, mode="live", network="ethereum", asset="ETH",
        gross=Decimal("0.05"), fee=Decimal("0.0005"), amount=Decimal("0.0494"), to_address="0x" + "78" * 20)
    account = engine.sending_account(network="ethereum", mode="live", address=order.deposit_address,
                                     role=SenderRole.DEPOSIT, derivation_index=0)
    net = Outbound.objects.create(network="ethereum", mode="live", purpose="settlement", sender=account, asset="ETH",
                                  outputs=[], status=OutboundStatus.CONFIRMED, txid="0x" + "ab" * 32)
    fee = Outbound.objects.create(network="ethereum", mode="live", purpose="fee", sender=account, asset="ETH",
                                  outputs=[], status=OutboundStatus.FAILED, last_error="reverted on-chain")
    SettlementLeg.objects.create(settlement=settlement, outbound=net, role=LegRole.NET)
    SettlementLeg.objects.create(settlement=settlement, outbound=fee, role=LegRole.FEE)

    services.settlement_sync(settlement_id=settlement.id)
    services.settlement_sync(settlement_id=settlement.id)  # once

    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.CONFIRMED and settlement.fee_owed
    owed = OwedFee.objects.get(settlement=settlement)
    assert owed.amount == Decimal("0.0005") and owed.held_at == order.deposit_address
    assert "reverted" in owed.reason
