"""Reads of what the wallets hold: funds received by an order, and how far behind each scanned
chain is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from chains.networks import get_network
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


class OrderFunds(NamedTuple):
    """The funds of one order, for recomputing it (orders.services)."""
    received: Decimal  # every transfer to the order that is not reverted
    confirmed: Decimal  # those of them with their confirmations
    in_time: Funds  # what of it arrived by the order's expiry, by block time (nothing without one)
    late: bool  # a live transfer arrived after the expiry
    reverted: bool  # a transfer of the order was reverted (a reorg dropped it)


NO_FUNDS = OrderFunds(Decimal(0), Decimal(0), Funds(Decimal(0), Decimal(0)), False, False)


def funds_received_by_order(*, order_ids) -> dict[str, OrderFunds]:
    """funds_received, funds_received(arrived_until=expiry) and funds_arrived_after(expiry) of
    many orders in one aggregate, grouped by order; an order without transfers is missing
    (NO_FUNDS). The expiry is each order's own `expires_at`."""
    live = ~Q(status=TransferStatus.REVERTED)
    confirmed = Q(status=TransferStatus.CONFIRMED)
    expiry = F("order__expires_at")
    after = Q(block_time__gt=expiry) | Q(block_time__isnull=True, detected_at__gt=expiry)
    rows = (Transfer.objects.filter(order_id__any=list(order_ids)).order_by().values("order_id").annotate(
        received=Sum("amount", filter=live), confirmed=Sum("amount", filter=confirmed),
        in_time_received=Sum("amount", filter=live & arrived_by(expiry)),
        in_time_confirmed=Sum("amount", filter=confirmed & arrived_by(expiry)),
        late=Count("id", filter=live & after), reverted=Count("id", filter=~live)))
    zero = Decimal(0)
    return {row["order_id"]: OrderFunds(
        row["received"] or zero, row["confirmed"] or zero,
        Funds(row["in_time_received"] or zero, row["in_time_confirmed"] or zero),
        row["late"] > 0, row["reverted"] > 0) for row in rows}


def orders_paid_from(*, mode: str, senders: set[str]):
    """The ids of the orders that received a transfer from one of `senders` (recorded senders
    in their normal form, chains.addresses.normalize_address), as a subquery: served by
    transfer_sender_idx."""
    return Transfer.objects.filter(mode=mode, sender__in=sorted(senders), order__isnull=False).values("order_id")


def funds_arrived_after(*, order, moment: datetime) -> bool:
    """Did any live transfer of the order arrive after `moment` (by block time)?"""
    after = Q(block_time__gt=moment) | Q(block_time__isnull=True, detected_at__gt=moment)
    return Transfer.objects.filter(after, order=order).exclude(status=TransferStatus.REVERTED).exists()


@dataclass(frozen=True)
class NetworkHealth:
    ok: bool
    lag_seconds: float | None  # the age of the newest block the scanner saw (None: never)
    problem: str = ""  # why not ok, as the end of "The <network> node ..."


def network_health(*, network: str, mode: str, now: datetime | None = None) -> NetworkHealth:
    """Can fluxa see payments on (network, mode) now? The scanner must have reached the node
    and finished a pass lately; the node must be of the right chain and, where it can tell,
    in step with its network; and in live mode its newest block must be younger than the
    network's limit (FLUXA_CHAIN_MAX_LAG_SECONDS for this network, else the registry's
    max_head_age_seconds: twelve block intervals). Test mode does not judge by block age: a
    test or local chain may sit idle for hours and still be in step."""
    now = now or timezone.now()
    cursor = ChainCursor.objects.filter(network=network, mode=mode).first()
    if cursor is None or cursor.head_timestamp is None:
        return NetworkHealth(False, None, "has not been reached yet")
    lag = (now - cursor.head_timestamp).total_seconds()
    if cursor.last_error.startswith("wrong chain"):
        return NetworkHealth(False, lag, "is a node of another chain")
    stale = getattr(settings, "FLUXA_SCAN_STALE_SECONDS", 120)
    if cursor.scanned_at is None or (now - cursor.scanned_at).total_seconds() > stale:
        return NetworkHealth(False, lag, "has not been scanned for a while")
    if cursor.node_synced is False:
        return NetworkHealth(False, lag, "says it is not in step with its network")
    if mode == "live" and lag > max_lag_seconds(network):
        return NetworkHealth(False, lag, f"is {int(lag)} s behind")
    return NetworkHealth(True, lag)


def max_lag_seconds(network: str) -> float:
    configured = getattr(settings, "FLUXA_CHAIN_MAX_LAG_SECONDS", {}) or {}
    if isinstance(configured, (int, float)):  # one number (the old form): every network
        return float(configured)
    return float(configured.get(network, get_network(network).max_head_age_seconds))


def network_lag_seconds(*, network: str, mode: str) -> float | None:
    """Age of the newest block the scanner saw (None when the network is not scanned)."""
    cursor = ChainCursor.objects.filter(network=network, mode=mode).only("head_timestamp").first()
    if cursor is None or cursor.head_timestamp is None:
        return None
    return (timezone.now() - cursor.head_timestamp).total_seconds()
