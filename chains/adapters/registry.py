"""Adapters for the (network, mode) pairs the operator configured in FLUXA_CHAINS:

    FLUXA_CHAINS={"ethereum": {"live": "https://eth.example/rpc", "test": "http://127.0.0.1:8545"}}

Only configured networks are scanned (and watched for lag); the others take test-mode
simulated payments only.
"""

from __future__ import annotations

from django.conf import settings

from chains.adapters.base import ChainAdapter
from chains.adapters.evm import EvmAdapter
from chains.adapters.solana import SolanaAdapter
from chains.adapters.tron import TronAdapter
from chains.adapters.utxo import UtxoAdapter
from chains.adapters.xrpl import XrplAdapter
from chains.networks import get_network


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
        return EvmAdapter(network=network, mode=mode, rpc_url=url)
    if family == "utxo":
        return UtxoAdapter(network=network, mode=mode, rpc_url=url)
    if family == "solana":
        return SolanaAdapter(network=network, mode=mode, rpc_url=url)
    if family == "xrpl":
        return XrplAdapter(network=network, mode=mode, rpc_url=url)
    if family == "tron":
        return TronAdapter(network=network, mode=mode, rpc_url=url)
    raise NotImplementedError(f"no chain adapter for the {family} family yet ({network})")
