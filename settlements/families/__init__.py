"""The chain family rules the engine uses, by family (chains.networks.Network.family)."""

from __future__ import annotations

from chains.networks import get_network
from settlements.families.base import Family
from settlements.families.tron import TronFamily
from settlements.families.xrpl import XrplFamily

FAMILIES: dict[str, type[Family]] = {}
FAMILIES["tron"] = TronFamily
FAMILIES["xrpl"] = XrplFamily


def family_for(network: str, mode: str) -> Family:
    net = get_network(network)
    try:
        cls = FAMILIES[net.family]
    except KeyError:
        raise NotImplementedError(f"no settlement rules for the {net.family} family ({network})") from None
    return cls(network=net.label, mode=mode)


def supported(network: str) -> bool:
    return get_network(network).family in FAMILIES
