"""Beat jobs that need the channel catalogue: rates, chain scanning and the address pool."""

from celery import shared_task

from chains.adapters.base import ChainUnavailable
from chains.adapters.registry import adapter_for, configured
from charges.rates import rates_refresh
from charges.watching import enabled_networks, network_scan
from wallets.services import deposit_address_pools_replenish


@shared_task(name="charges.tasks.refresh_rates", ignore_result=True)
def refresh_rates() -> dict:
    """Beat, every minute: fetch, check and store the latest exchange rates (docs/rates.md)."""
    return rates_refresh()


@shared_task(name="charges.tasks.scan_networks", ignore_result=True)
def scan_networks() -> int:
    """Beat: one scan task per configured (network, mode); each takes the network's lease,
    so a network is scanned in exactly one place at a time."""
    pairs = configured()
    for network, mode in pairs:
        scan_network.delay(network, mode)
    return len(pairs)


@shared_task(name="charges.tasks.scan_network", ignore_result=True)
def scan_network(network: str, mode: str) -> None:
    adapter = adapter_for(network, mode)
    if adapter is None:
        return
    try:
        network_scan(adapter=adapter)
    except ChainUnavailable:
        pass  # logged and recorded on the cursor; the next beat tries again


@shared_task(name="charges.tasks.replenish_address_pool", ignore_result=True)
def replenish_address_pool() -> int:
    """Beat: top up the free addresses of every enabled (network, mode) to
    FLUXA_ADDRESS_POOL_SIZE. Returns how many addresses were derived."""
    return deposit_address_pools_replenish(networks=enabled_networks())
