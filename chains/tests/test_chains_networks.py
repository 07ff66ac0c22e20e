"""Tests for chains.networks: registry contents and mode helpers."""

import dataclasses

import pytest

from chains.networks import (
    NETWORKS,
    UnknownMode,
    UnknownNetwork,
    check_mode,
    get_network,
)

EXPECTED_LABELS = {
    "tron",
    "ethereum",
    "base",
    "bsc",
    "polygon",
    "arbitrum",
    "bitcoin",
    "litecoin",
    "solana",
    "xrpl",
}


def test_registry_has_exactly_the_supported_networks():
    assert set(NETWORKS) == EXPECTED_LABELS
    for label, net in NETWORKS.items():
        assert net.label == label == label.lower()


def test_registry_is_read_only_and_entries_frozen():
    with pytest.raises(TypeError):
        NETWORKS["doge"] = NETWORKS["bitcoin"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        NETWORKS["bitcoin"].native_decimals = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "label,family,symbol,decimals,coin,coin_test",
    [
        ("bitcoin", "utxo", "BTC", 8, 0, 1),
        ("litecoin", "utxo", "LTC", 8, 2, 1),
        ("ethereum", "evm", "ETH", 18, 60, 60),
        ("base", "evm", "ETH", 18, 60, 60),
        ("arbitrum", "evm", "ETH", 18, 60, 60),
        ("bsc", "evm", "BNB", 18, 60, 60),
        ("polygon", "evm", "POL", 18, 60, 60),
        ("tron", "tron", "TRX", 6, 195, 195),
        ("solana", "solana", "SOL", 9, 501, 501),
        ("xrpl", "xrpl", "XRP", 6, 144, 144),
    ],
)
def test_native_assets_and_coin_types(label, family, symbol, decimals, coin, coin_test):
    net = get_network(label)
    assert net.family == family
    assert net.native_symbol == symbol
    assert net.native_decimals == decimals
    assert net.coin_type_for("live") == coin
    assert net.coin_type_for("test") == coin_test


@pytest.mark.parametrize(
    "label,live,test",
    [
        ("ethereum", 1, 11155111),
        ("base", 8453, 84532),
        ("bsc", 56, 97),
        ("polygon", 137, 80002),
        ("arbitrum", 42161, 421614),
    ],
)
def test_evm_chain_ids(label, live, test):
    net = get_network(label)
    assert net.is_evm
    assert net.chain_id_for("live") == live
    assert net.chain_id_for("test") == test
    assert net.uri_scheme == "ethereum"


@pytest.mark.parametrize("label", ["bitcoin", "solana", "tron", "xrpl"])
def test_non_evm_has_no_chain_id(label):
    with pytest.raises(ValueError):
        get_network(label).chain_id_for("live")


def test_utxo_prefixes_and_versions():
    btc, ltc = get_network("bitcoin"), get_network("litecoin")
    assert (btc.hrp_for("live"), btc.hrp_for("test")) == ("bc", "tb")
    assert (ltc.hrp_for("live"), ltc.hrp_for("test")) == ("ltc", "tltc")
    assert btc.base58_versions_for("live") == (0x00, 0x05)
    assert btc.base58_versions_for("test") == (0x6F, 0xC4)
    assert ltc.base58_versions_for("live") == (0x30, 0x32)
    assert ltc.base58_versions_for("test") == (0x6F, 0x3A)
    assert btc.bitcoinlib_network_for("test") == "testnet"
    assert ltc.bitcoinlib_network_for("test") == "litecoin_testnet"
    with pytest.raises(ValueError):
        get_network("ethereum").hrp_for("live")


@pytest.mark.parametrize(
    "label,scheme",
    [
        ("bitcoin", "bitcoin"),
        ("litecoin", "litecoin"),
        ("solana", "solana"),
        ("tron", "tron"),
        ("xrpl", "ripple"),
        ("bsc", "ethereum"),
    ],
)
def test_uri_schemes(label, scheme):
    assert get_network(label).uri_scheme == scheme


def test_get_network_is_case_insensitive():
    assert get_network("Bitcoin") is get_network("bitcoin")


@pytest.mark.parametrize("bad", ["dogecoin", "", "eth", None, 1])
def test_unknown_network_raises_clear_value_error(bad):
    with pytest.raises(UnknownNetwork) as exc:
        get_network(bad)
    assert isinstance(exc.value, ValueError)
    assert "Unknown network" in str(exc.value)


def test_modes():
    assert check_mode("live") == "live"
    assert check_mode("test") == "test"
    for bad in ("LIVE", "prod", "", None):
        with pytest.raises(UnknownMode):
            check_mode(bad)
    with pytest.raises(ValueError):
        get_network("bitcoin").hrp_for("mainnet")


def test_families():
    assert {n.label for n in NETWORKS.values() if n.family == "evm"} == {
        "ethereum",
        "base",
        "bsc",
        "polygon",
        "arbitrum",
    }
    assert {n.label for n in NETWORKS.values() if n.family == "utxo"} == {"bitcoin", "litecoin"}
