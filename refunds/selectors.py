"""Reads of refunds."""

from __future__ import annotations

from refunds.models import OPEN_DEPOSIT, Refund, RefundLeg
from settlements.models import OPEN, Outbound


def refunds_of_order(order) -> list[Refund]:
    return list(Refund.objects.filter(order=order).order_by("created_at", "id"))


def refund_ids_of_outbound(outbound_id: str) -> list[str]:
    return list(RefundLeg.objects.filter(outbound_id=outbound_id).values_list("refund_id", flat=True).distinct())


def open_outbound_ids_of_refund(refund_id: str) -> list[str]:
    return list(Outbound.objects.filter(refund_legs__refund_id=refund_id, status__in=OPEN)
                .order_by("created_at", "id").values_list("id", flat=True).distinct())


def open_refund_outbounds():
    """The ids of the outbounds of deposit refunds still open, as a subquery."""
    return RefundLeg.objects.filter(refund__status__in=OPEN_DEPOSIT).values("outbound_id")

