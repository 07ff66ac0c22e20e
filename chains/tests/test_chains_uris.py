"""Tests for chains.uris: exact URI strings per family."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chains.addresses import InvalidAddress
from chains.uris import payment_uri

BTC = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
TBTC = "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"
LTC = "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"
EVM = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
USDC_POLYGON = "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"
SOL = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
TRX = "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
XRP = "rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3"


def uri(**kwargs) -> str:
    kwargs.setdefault("mode", "live")
    return payment_uri(**kwargs)


@pytest.mark.parametrize(
    "network,mode,address,amount,expected",
    [
        ("bitcoin", "live", BTC, Decimal("0.00100000"), f"bitcoin:{BTC}?amount=0.001"),
        ("bitcoin", "live", BTC, Decimal("1E+1"), f"bitcoin:{BTC}?amount=10"),
        ("bitcoin", "live", BTC, Decimal("0.00000001"), f"bitcoin:{BTC}?amount=0.00000001"),
        ("bitcoin", "test", TBTC, Decimal("0.5"), f"bitcoin:{TBTC}?amount=0.5"),
        ("litecoin", "live", LTC, Decimal("2.25"), f"litecoin:{LTC}?amount=2.25"),
    ],
)
def test_bip21(network, mode, address, amount, expected):
    assert uri(network=network, mode=mode, address=address, amount=amount) == expected


def test_bip21_normalizes_uppercase_bech32():
    assert (
        uri(network="bitcoin", address=BTC.upper(), amount=Decimal("1"))
        == f"bitcoin:{BTC}?amount=1"
    )


@pytest.mark.parametrize(
    "network,mode,chain_id",
    [
        ("ethereum", "live", 1),
        ("ethereum", "test", 11155111),
        ("base", "live", 8453),
        ("bsc", "test", 97),
        ("polygon", "live", 137),
        ("arbitrum", "test", 421614),
    ],
)
def test_eip681_native(network, mode, chain_id):
    assert uri(network=network, mode=mode, address=EVM.lower(), amount=Decimal("1.5")) == (
        f"ethereum:{EVM}@{chain_id}?value=1500000000000000000"
    )


def test_eip681_native_smallest_unit():
    assert uri(network="ethereum", address=EVM, amount=Decimal("0.000000000000000001")) == (
        f"ethereum:{EVM}@1?value=1"
    )


def test_eip681_token_uses_base_units():
    assert (
        uri(
            network="polygon",
            address=EVM,
            amount=Decimal("12.34"),
            token=USDC_POLYGON.lower(),
            token_decimals=6,
        )
        == f"ethereum:{USDC_POLYGON}@137/transfer?address={EVM}&uint256=12340000"
    )


def test_eip681_token_test_mode_chain_id():
    assert (
        uri(
            network="base",
            mode="test",
            address=EVM,
            amount=Decimal("100"),
            token=USDC_POLYGON,
            token_decimals=18,
        )
        == f"ethereum:{USDC_POLYGON}@84532/transfer?address={EVM}&uint256=100000000000000000000"
    )


def test_solana_pay():
    assert uri(network="solana", address=SOL, amount=Decimal("0.010000000")) == (
        f"solana:{SOL}?amount=0.01"
    )
    assert uri(
        network="solana", address=SOL, amount=Decimal("2.5"), token=USDC_MINT, token_decimals=6
    ) == (f"solana:{SOL}?amount=2.5&spl-token={USDC_MINT}")


def test_tron():
    assert uri(network="tron", address=TRX, amount=Decimal("10.000000")) == f"tron:{TRX}?amount=10"
    assert uri(
        network="tron", address=TRX, amount=Decimal("10.5"), token=USDT_TRC20, token_decimals=6
    ) == (f"tron:{TRX}?amount=10.5&token={USDT_TRC20}")


def test_xrpl_ripple_uri_with_destination_tag():
    assert uri(network="xrpl", address=XRP, amount=Decimal("25.000001"), destination_tag=7) == (
        f"ripple:{XRP}?amount=25.000001&dt=7"
    )
    assert uri(network="xrpl", address=XRP, amount=Decimal("1")) == f"ripple:{XRP}?amount=1"


def test_xrpl_x_address_is_split_into_classic_and_tag():
    x_address = "XVLhHMPHU98es4dbozjVtdWzVrDjtV18pX8yuPT7y4xaEHi"  # rGWrZy... tag 4294967295
    expected = "ripple:rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf?amount=3&dt=4294967295"
    assert uri(network="xrpl", address=x_address, amount=Decimal("3")) == expected
    assert (
        uri(network="xrpl", address=x_address, amount=Decimal("3"), destination_tag=4294967295)
        == expected
    )
    with pytest.raises(ValueError, match="different destination tag"):
        uri(network="xrpl", address=x_address, amount=Decimal("3"), destination_tag=5)


@pytest.mark.parametrize("tag", [-1, 2**32, True, "7"])
def test_xrpl_bad_tag(tag):
    with pytest.raises(ValueError):
        uri(network="xrpl", address=XRP, amount=Decimal("1"), destination_tag=tag)


@pytest.mark.parametrize(
    "network,address,amount",
    [
        ("bitcoin", BTC, Decimal("0.000000001")),
        ("litecoin", LTC, Decimal("1.123456789")),
        ("ethereum", EVM, Decimal("0.0000000000000000001")),
        ("solana", SOL, Decimal("0.0000000001")),
        ("tron", TRX, Decimal("1.0000001")),
        ("xrpl", XRP, Decimal("1.0000001")),
    ],
)
def test_refuses_more_decimals_than_the_asset_has(network, address, amount):
    with pytest.raises(ValueError, match="decimal places"):
        uri(network=network, address=address, amount=amount)


def test_refuses_more_decimals_than_the_token_has():
    with pytest.raises(ValueError, match="decimal places"):
        uri(
            network="ethereum",
            address=EVM,
            amount=Decimal("1.0000001"),
            token=USDC_POLYGON,
            token_decimals=6,
        )
    with pytest.raises(ValueError, match="decimal places"):
        uri(
            network="solana",
            address=SOL,
            amount=Decimal("1.0000001"),
            token=USDC_MINT,
            token_decimals=6,
        )


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")]
)
def test_refuses_non_positive_amounts(amount):
    with pytest.raises(ValueError):
        uri(network="bitcoin", address=BTC, amount=amount)


@pytest.mark.parametrize("amount", [0.1, "0.1", None])
def test_refuses_non_decimal_amounts(amount):
    with pytest.raises(TypeError):
        uri(network="bitcoin", address=BTC, amount=amount)


def test_validates_addresses_and_tokens():
    with pytest.raises(InvalidAddress):
        uri(network="bitcoin", address=TBTC, amount=Decimal("1"))  # testnet address in live mode
    with pytest.raises(InvalidAddress):
        uri(network="ethereum", address=EVM, amount=Decimal("1"), token="0x1234", token_decimals=6)
    with pytest.raises(InvalidAddress):
        uri(network="solana", address=SOL, amount=Decimal("1"), token=TRX, token_decimals=6)


def test_argument_combinations():
    with pytest.raises(ValueError, match="token_decimals is required"):
        uri(network="ethereum", address=EVM, amount=Decimal("1"), token=USDC_POLYGON)
    with pytest.raises(ValueError, match="without a token"):
        uri(network="ethereum", address=EVM, amount=Decimal("1"), token_decimals=6)
    with pytest.raises(ValueError, match="not supported"):
        uri(network="bitcoin", address=BTC, amount=Decimal("1"), token=BTC, token_decimals=8)
    with pytest.raises(ValueError, match="destination tag"):
        uri(network="solana", address=SOL, amount=Decimal("1"), destination_tag=5)
    with pytest.raises(ValueError):
        uri(network="dogecoin", address=BTC, amount=Decimal("1"))
    with pytest.raises(ValueError):
        uri(network="bitcoin", mode="prod", address=BTC, amount=Decimal("1"))
