"""Beat tasks of the deposit address pool (docs/wallets.md)."""

from __future__ import annotations

import logging

from celery import shared_task

from wallets.keys import WalletRootMissing
from chains.networks import get_network
from core.modes import MODES
from wallets.services import deposit_address_pool_replenish, deposit_address_release_idle, pool_size

logger = logging.getLogger("fluxa.wallets")


def enabled_networks() -> list[str]:
    """Networks of the enabled channels (charges.Channel), known to the registry."""
    from charges.models import Channel

    labels = set(Channel.objects.filter(enabled=True).values_list("network", flat=True))
    known = []
    for label in sorted(labels):
        try:
            known.append(get_network(label).label)
        except ValueError:
            logger.warning("Channel network %r is not a known network; no pool for it.", label)
    return known


@shared_task(name="wallets.tasks.replenish_address_pool", ignore_result=True)
def replenish_address_pool() -> int:
    """Top up the free addresses of every enabled (network, mode) to FLUXA_ADDRESS_POOL_SIZE.
    Returns how many addresses were derived."""
    size = pool_size()
    if size <= 0:
        return 0
    created = 0
    try:
        for network in enabled_networks():
            for mode in MODES:
                created += deposit_address_pool_replenish(network=network, mode=mode, size=size)
    except WalletRootMissing:
        logger.warning("No HD wallet root yet: the deposit address pool stays empty.")
    if created:
        logger.info("Derived %d deposit address(es) into the pool.", created)
    return created


@shared_task(name="wallets.tasks.release_idle_addresses", ignore_result=True)
def release_idle_addresses() -> int:
    """Return the unfunded addresses of expired/canceled orders to the pool once their
    monitoring window is over. Returns how many were released."""
    released = total = deposit_address_release_idle()
    while released:  # one bounded batch per transaction
        released = deposit_address_release_idle()
        total += released
    if total:
        logger.info("Released %d idle deposit address(es) back to the pool.", total)
    return total


@shared_task(name="wallets.tasks.scan_networks", ignore_result=True)
def scan_networks() -> int:
    """Beat: one scan task per configured (network, mode); each takes the network's lease,
    so a network is scanned in exactly one place at a time."""
    from chains.adapters.registry import configured

    pairs = configured()
    for network, mode in pairs:
        scan_network_task.delay(network, mode)
    return len(pairs)


@shared_task(name="wallets.tasks.scan_network", ignore_result=True)
def scan_network_task(network: str, mode: str) -> None:
    from chains.adapters.base import ChainUnavailable
    from chains.adapters.registry import adapter_for
    from wallets.scanning import scan_network

    adapter = adapter_for(network, mode)
    if adapter is None:
        return
    try:
        scan_network(adapter=adapter)
    except ChainUnavailable:
        pass  # logged and recorded on the cursor; the next beat tries again
