"""Refunds of custodial orders: the merchant asks, fluxa books it on the order under
the row lock, and the operator pays it out (the admin records the payout)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from core.errors import Conflict, Unprocessable
from core.money import FIAT_DECIMALS, amount_text, check_decimal_places, money
from orders.models import OrderStatus, SettlementMode
from orders.services import order_lock, order_snapshot, order_transition
from refunds.models import Refund
from webhooks.models import EventType
from webhooks.services import event_emit

REFUNDABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)


def refund_snapshot(refund) -> dict:
    """The refund as webhook payloads carry it."""
    return {"id": refund.id, "order_id": refund.order_id, "amount": money(refund.amount),
            "currency": refund.currency, "reason": refund.reason, "status": refund.status}


def _currency_decimals(order) -> int:
    return FIAT_DECIMALS.get(order.currency, order.channel.asset_decimals)


def refund_create(*, order_id: str, amount: Decimal | None, reason: str, actor: str) -> Refund:
    """Refund `amount` (default: all that is left) in the order's currency."""
    with transaction.atomic():
        order = order_lock(order_id)
        if order.settlement_mode != SettlementMode.CUSTODIAL:
            raise Unprocessable("not_platform_refundable", (
                "This order settles directly on-chain to your own wallet, so fluxa never holds its "
                "funds: refund the payer from your wallet."))
        if order.status not in REFUNDABLE:
            raise Conflict("order_not_refundable", f"A {order.status} order cannot be refunded.")
        balance = order.amount - order.refunded_amount
        amount = balance if amount is None else amount
        check_decimal_places(amount, _currency_decimals(order), currency=order.currency, param="amount")
        if amount > balance:
            raise Unprocessable("refund_exceeds_balance", (
                f"Only {amount_text(balance, order.currency)} is left to refund."), param="amount")
        refund = Refund.objects.create(order=order, amount=amount, currency=order.currency, reason=reason,
                                       actor=actor)
        order.refunded_amount = order.refunded_amount + amount
        target = OrderStatus.REFUNDED if order.refunded_amount == order.amount else OrderStatus.PARTIALLY_REFUNDED
        fields = ["refunded_amount", "updated_at"]
        fields += order_transition(order, target, actor=actor,
                                   reason=f"refund {refund.id}: {amount_text(amount, order.currency)}",
                                   data={"refund_id": refund.id, "amount": money(amount)})
        order.save(update_fields=sorted(set(fields)))
        event_emit(merchant=order.merchant, mode=order.mode, type=EventType.REFUND_CREATED,
                   data={"refund": refund_snapshot(refund), "order": order_snapshot(order)})
    return refund
