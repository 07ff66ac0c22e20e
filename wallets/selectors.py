"""Reads of what the wallets hold: funds received by an order, and how far behind each scanned
chain is."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q, Sum
from django.utils import timezone

from wallets.models import ChainCursor, Transfer, TransferStatus, arrived_by


class Funds(NamedTuple):
    received: Decimal  # every transfer to the order that is not reverted
    confirmed: Decimal  # those of them with their confirmations


def funds_received(*, order, arrived_until: datetime | None = None) -> Funds:
    """The funds an order received, from its Transfer rows (one aggregate): what
    Order.amount_received and amount_confirmed are recomputed from, what refuses a DELETE,
    and (with `arrived_until`, the order's expiry) what arrived in time, by block time."""
    transfers = Transfer.objects.filter(order=order).exclude(status=TransferStatus.REVERTED)
    if arrived_until is not None:
        transfers = transfers.filter(arrived_by(arrived_until))
    sums = transfers.aggregate(received=Sum("amount"),
                               confirmed=Sum("amount", filter=Q(status=TransferStatus.CONFIRMED)))
    return Funds(sums["received"] or Decimal(0), sums["confirmed"] or Decimal(0))


def funds_arrived_after(*, order, moment: datetime) -> bool:
    """Did any live transfer of the order arrive after `moment` (by block time)?"""
    after = Q(block_time__gt=moment) | Q(block_time__isnull=True, detected_at__gt=moment)
    return Transfer.objects.filter(after, order=order).exclude(status=TransferStatus.REVERTED).exists()


def network_lag_seconds(*, network: str, mode: str) -> float | None:
    """Age of the newest block the scanner saw (None when the network is not scanned)."""
    cursor = ChainCursor.objects.filter(network=network, mode=mode).only("head_timestamp").first()
    if cursor is None or cursor.head_timestamp is None:
        return None
    return (timezone.now() - cursor.head_timestamp).total_seconds()
