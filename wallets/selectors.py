"""Reads of deposit addresses and transfers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q, QuerySet, Sum

from chains.networks import get_network
from wallets.models import AddressState, DepositAddress, Transfer, TransferStatus


def deposit_address_for_order(*, order, network: str) -> DepositAddress | None:
    """The order's open (assigned) or funded (used) address on `network`, newest first."""
    return (
        DepositAddress.objects.filter(
            order=order, network=network, state__in=[AddressState.ASSIGNED, AddressState.USED]
        )
        .order_by("-assigned_at", "-pk")
        .first()
    )


def deposit_address_lookup(
    *, network: str, mode: str, address: str, destination_tag: int | None = None
) -> DepositAddress | None:
    """The deposit address funds were sent to (chain watcher), whatever its state. On the XRP
    Ledger the destination tag identifies it; EVM addresses match in any letter case."""
    net = get_network(network)
    rows = DepositAddress.objects.filter(network=net.label, mode=mode)
    if net.family == "xrpl":
        if destination_tag is None:
            return None
        return rows.filter(address=address, destination_tag=destination_tag).first()
    if net.family == "evm":
        from eth_utils import is_hex_address, to_checksum_address

        if not is_hex_address(address):
            return None
        address = to_checksum_address(address)
    return rows.filter(address=address, destination_tag__isnull=True).first()


def transfer_list_for_order(*, order) -> QuerySet[Transfer]:
    return Transfer.objects.filter(order=order).order_by("detected_at", "pk")


class Funds(NamedTuple):
    received: Decimal  # every transfer to the order that is not reverted
    confirmed: Decimal  # those of them with their confirmations


def funds_received(*, order, detected_until: datetime | None = None) -> Funds:
    """The funds an order received, from its Transfer rows (one aggregate): what
    Order.amount_received and amount_confirmed are recomputed from, what refuses a DELETE,
    and (with `detected_until`, the order's expiry) what arrived in time."""
    transfers = Transfer.objects.filter(order=order).exclude(status=TransferStatus.REVERTED)
    if detected_until is not None:
        transfers = transfers.filter(detected_at__lte=detected_until)
    sums = transfers.aggregate(received=Sum("amount"),
                               confirmed=Sum("amount", filter=Q(status=TransferStatus.CONFIRMED)))
    return Funds(sums["received"] or Decimal(0), sums["confirmed"] or Decimal(0))
