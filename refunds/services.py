"""Refunds of custodial orders: the merchant asks, fluxa books it on the order under
the row lock, and the operator pays it out (the admin records the payout)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from api.errors import ApiError
from api.fields import money
from charges.models import SettlementMode
from orders.models import OrderStatus
from orders.services import order_lock, order_transition

from webhooks.events import order_snapshot, refund_snapshot
from webhooks.models import EventType
from webhooks.services import event_emit

from refunds.models import Refund

REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


def _currency_decimals(order) -> int:
    from charges.rates import FIAT_DECIMALS

    return FIAT_DECIMALS.get(order.currency, order.channel.asset_decimals)


def refund_create(*, order_id: str, amount: Decimal | None, reason: str, actor: str) -> Refund:
    """Refund `amount` (default: all that is left) in the order's currency."""
    with transaction.atomic():
        order = order_lock(order_id)
        if order.settlement_mode != SettlementMode.CUSTODIAL:
            raise ApiError("not_platform_refundable", (
                "This order settles directly on-chain to your own wallet, so fluxa never holds its "
                "funds: refund the payer from your wallet."), status=422)
        if order.status not in REFUNDABLE:
            raise ApiError("order_not_refundable", f"A {order.status} order cannot be refunded.", status=409)
        balance = order.amount - order.refunded_amount
        amount = balance if amount is None else amount
        decimals = _currency_decimals(order)
        if -amount.normalize().as_tuple().exponent > decimals:
            raise ApiError("parameter_invalid", f"amount: {order.currency} has at most {decimals} decimals.",
                           param="amount")
        if amount > balance:
            raise ApiError("refund_exceeds_balance", (
                f"Only {money(balance)} {order.currency} is left to refund."), param="amount", status=422)
        refund = Refund.objects.create(order=order, amount=amount, currency=order.currency, reason=reason,
                                       actor=actor)
        order.refunded_amount = order.refunded_amount + amount
        target = OrderStatus.REFUNDED if order.refunded_amount == order.amount else OrderStatus.PARTIALLY_REFUNDED
        fields = ["refunded_amount", "updated_at"]
        fields += order_transition(order, target, actor=actor,
                                   reason=f"refund {refund.id}: {money(amount)} {order.currency}",
                                   data={"refund_id": refund.id, "amount": money(amount)})
        order.save(update_fields=sorted(set(fields)))
        event_emit(merchant=order.merchant, mode=order.mode, type=EventType.REFUND_CREATED,
                   data={"refund": refund_snapshot(refund), "order": order_snapshot(order)})
    return refund
