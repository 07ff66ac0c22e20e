"""Watching the chains for the catalogue's channels.

The channel catalogue (charges.models.Channel) says what to look for on each network: the
assets with their decimals, the token contracts of test and live mode, the confirmations
each channel requires, and which networks have an enabled channel. wallets records what
arrives and keeps the deposit address pool, knowing no channel; orders applies what was
recorded. This module is the one place that joins the three, for the beat jobs in
charges/tasks.py (docs/chains.md, docs/wallets.md).
"""

from __future__ import annotations

import logging

from chains.adapters.base import ChainAdapter
from chains.networks import get_network
from charges.models import Channel
from orders.services import orders_apply_transfers
from wallets.scanning import ScanResult, WatchedAssets, scan_network, scan_orders_applied

logger = logging.getLogger("fluxa.charges.watching")


def watched_assets(*, network: str, mode: str) -> WatchedAssets:
    """Every channel of the network, enabled or not: a payment to an order of a channel
    disabled since is still money that arrived."""
    decimals: dict[str, int] = {}
    contracts: dict[str, str] = {}
    confirmations: dict[str, int] = {}
    for channel in Channel.objects.filter(network=network):
        decimals[channel.asset] = channel.asset_decimals
        confirmations[channel.code] = channel.required_confirmations
        contract = channel.token_contract_for(mode)
        if contract:
            contracts[channel.asset] = contract
    return WatchedAssets(decimals=decimals, contracts=contracts, confirmations=confirmations)


def network_scan(*, adapter: ChainAdapter, batch: int | None = None, start_back: int | None = None) -> ScanResult:
    """One pass over the adapter's (network, mode), then the orders it touched recomputed
    from their transfers, each once, locked in id order, after the scanner's transaction has
    committed (orders.services.orders_apply_transfers). The pass left them pending on its
    cursor; the applied ones are cleared, and whatever is left (a worker killed in between, an
    order that failed) the next pass applies again."""
    result = scan_network(adapter=adapter, assets=watched_assets(network=adapter.network, mode=adapter.mode),
                          batch=batch, start_back=start_back)
    changes = orders_apply_transfers(order_ids=result.orders, actor=f"system:scanner:{adapter.network}")
    scan_orders_applied(result=result, order_ids={change.order.pk for change in changes})
    return result


def enabled_networks() -> list[str]:
    """Networks of the enabled channels that the network registry knows."""
    labels = set(Channel.objects.filter(enabled=True).values_list("network", flat=True))
    known = []
    for label in sorted(labels):
        try:
            known.append(get_network(label).label)
        except ValueError:
            logger.warning("Channel network %r is not a known network; no pool for it.", label)
    return known
