"""Chain adapters, one per family (base.py has the interface)."""

from collections.abc import Callable

from wallets.networks import get_network


def normalizer(network: str) -> Callable[[str], str]:
    """How addresses of `network` compare: EVM addresses case-insensitively, others as is."""
    if get_network(network).family == "evm":
        return lambda address: address.lower()
    return lambda address: address
