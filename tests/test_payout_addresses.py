"""Payout addresses through the signed API: every network's address form, per mode."""

import pytest

from chains.derivation import derive_address
from chains.networks import NETWORKS

pytestmark = pytest.mark.django_db

MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def _valid(network: str, mode: str) -> str:
    return derive_address(mnemonic=MNEMONIC, network=network, mode=mode, index=7).address


def _corrupt(network: str, address: str) -> str:
    """One character changed in the middle, so the checksum no longer matches. A Solana
    address has no checksum (any 32 bytes is an address): it is cut short instead."""
    if network == "solana":
        return address[:-4]
    middle = len(address) // 2
    replacement = "q" if address[middle] != "q" else "p"
    if address.startswith("0x"):
        replacement = "A" if address[middle] != "A" else "B"  # breaks the EIP-55 checksum
    return address[:middle] + replacement + address[middle + 1:]


@pytest.mark.parametrize("network", sorted(NETWORKS))
@pytest.mark.parametrize("mode", ["live", "test"])
def test_each_network_accepts_its_addresses_and_refuses_bad_ones(merchant_keys, network, mode):
    client = getattr(merchant_keys, mode)
    good = _valid(network, mode)

    accepted = client.post("/api/v1/payout_addresses", {"network": network, "address": good})
    refused = client.post("/api/v1/payout_addresses", {"network": network, "address": _corrupt(network, good)})
    garbage = client.post("/api/v1/payout_addresses", {"network": network, "address": "not-an-address"})

    assert accepted.status_code in (200, 201), accepted.body
    for response in (refused, garbage):
        assert (response.status_code, response.error_code) == (400, "invalid_address"), response.body
        assert response.body["error"]["param"] == "address"


@pytest.mark.parametrize("network", ["bitcoin", "litecoin"])
def test_a_test_network_address_is_refused_in_live_mode(live_api, network):
    response = live_api.post("/api/v1/payout_addresses", {"network": network, "address": _valid(network, "test")})

    assert (response.status_code, response.error_code) == (400, "invalid_address")
