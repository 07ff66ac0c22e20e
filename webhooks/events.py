"""The registry of event types and their payloads. Add a type here, then emit it with
webhooks.services.event_emit in the transaction of the change it announces."""

from __future__ import annotations

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
