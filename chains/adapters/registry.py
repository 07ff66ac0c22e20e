"""Adapters for the (network, mode) pairs the operator configured in FLUXA_CHAINS:

    FLUXA_CHAINS={"ethereum": {"live": "https://eth.example/rpc", "test": "http://127.0.0.1:8545"}}

Only configured networks are scanned (and watched for lag); the others take test-mode
simulated payments only.
"""

from __future__ import annotations

from django.conf import settings

from chains.networks import get_network

from chains.adapters.base import ChainAdapter


def configured() -> list[tuple[str, str]]:
    return [(network, mode) for network, modes in sorted(settings.FLUXA_CHAINS.items()) for mode in sorted(modes)]


def rpc_url(network: str, mode: str) -> str | None:
    return settings.FLUXA_CHAINS.get(network, {}).get(mode)


def adapter_for(network: str, mode: str) -> ChainAdapter | None:
    url = rpc_url(network, mode)
    if not url:
        return None
    family = get_network(network).family
    if family == "evm":
        from chains.adapters.evm import EvmAdapter

        return EvmAdapter(network=network, mode=mode, rpc_url=url)
    if family == "utxo":
        from chains.adapters.utxo import UtxoAdapter

        return UtxoAdapter(network=network, mode=mode, rpc_url=url)
    if family == "solana":
        from chains.adapters.solana import SolanaAdapter

        return SolanaAdapter(network=network, mode=mode, rpc_url=url)
    if family == "xrpl":
        from chains.adapters.xrpl import XrplAdapter

        return XrplAdapter(network=network, mode=mode, rpc_url=url)
    if family == "tron":
        from chains.adapters.tron import TronAdapter

        return TronAdapter(network=network, mode=mode, rpc_url=url)
    raise NotImplementedError(f"no chain adapter for the {family} family yet ({network})")
