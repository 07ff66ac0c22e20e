"""The registry of event types and their payloads. Add a type here, then emit it with
webhooks.services.event_emit in the transaction of the change it announces."""

from __future__ import annotations

from core.money import money
from core.times import iso_utc

EVENT_TYPES: dict[str, str] = {
    "order.created": "A charge created an order.",
    "order.pending": "Funds were seen for the order; waiting for confirmations or the rest.",
    "order.paid": "The order is paid.",
    "order.expired": "The order expired unpaid.",
    "order.canceled": "The order was canceled.",
    "order.failed": "The payment failed terminally.",
    "order.refunded": "The order was refunded in full.",
    "order.partially_refunded": "Part of the order was refunded.",
    "order.payment_exception": "An underpayment, overpayment or late payment was recorded.",
    "refund.created": "A refund was booked.",
}


def order_snapshot(order) -> dict:
    """The order as webhook payloads carry it (the fields of GET /api/v1/orders/{id}'s order
    that a receiver acts on)."""
    return {
        "id": order.id,
        "merchant_order_id": order.merchant_order_id,
        "channel_code": order.channel_id,
        "network": order.network,
        "status": order.status,
        "payment_exception": order.payment_exception,
        "is_test": order.is_test,
        "amount": money(order.amount),
        "currency": order.currency,
        "asset": order.asset,
        "amount_due": money(order.amount_due),
        "amount_received": money(order.amount_received),
        "amount_confirmed": money(order.amount_confirmed),
        "refunded_amount": money(order.refunded_amount),
        "deposit_address": order.deposit_address,
        "metadata": order.metadata,
        "expires_at": iso_utc(order.expires_at),
        "paid_at": iso_utc(order.paid_at),
        "created_at": iso_utc(order.created_at),
    }


def refund_snapshot(refund) -> dict:
    return {"id": refund.id, "order_id": refund.order_id, "amount": money(refund.amount),
            "currency": refund.currency, "reason": refund.reason, "status": refund.status}
