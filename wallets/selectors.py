"""Reads of deposit addresses and transfers."""

from __future__ import annotations

from django.db.models import QuerySet

from wallets.models import AddressState, DepositAddress, Transfer
from chains.networks import get_network


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
