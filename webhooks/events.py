"""The registry of event types and their payloads. Add a type to webhooks.models.EventType,
then emit it with webhooks.services.event_emit in the transaction of the change it announces."""

from __future__ import annotations

from api.fields import money
from webhooks.models import EventType

EVENT_TYPES: dict[str, str] = dict(EventType.choices)  # type -> what happened


def order_snapshot(order) -> dict:
    """The order as webhook payloads carry it (the fields of GET /api/v1/orders/{id}'s order
    that a receiver acts on)."""

    def ts(value):
        return value.isoformat().replace("+00:00", "Z") if value else None

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
        "expires_at": ts(order.expires_at),
        "paid_at": ts(order.paid_at),
        "created_at": ts(order.created_at),
    }


def refund_snapshot(refund) -> dict:
    return {"id": refund.id, "order_id": refund.order_id, "amount": money(refund.amount),
            "currency": refund.currency, "reason": refund.reason, "status": refund.status}
