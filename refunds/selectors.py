"""Reads of refunds."""

from __future__ import annotations

from decimal import Decimal

from refunds.models import OPEN_DEPOSIT, Refund, RefundKind, RefundLeg, RefundStatus
from settlements.models import OPEN, Outbound, SettlementStatus

_SENT_SETTLEMENT = (SettlementStatus.BROADCAST, SettlementStatus.CONFIRMED, SettlementStatus.NEEDS_REVIEW)
_SENT_REFUND = (RefundStatus.BROADCAST, RefundStatus.CONFIRMED, RefundStatus.NEEDS_REVIEW)


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


def sent_from_deposit(settlements, refunds) -> Decimal:
    """What fluxa sent from an order's deposit address, in its asset: the gross of its
    settlement and the amount of its deposit refunds, once broadcast."""
    return (sum((s.gross for s in settlements if s.status in _SENT_SETTLEMENT), Decimal(0))
            + sum((r.amount for r in refunds if r.kind == RefundKind.DEPOSIT and r.status in _SENT_REFUND),
                  Decimal(0)))
