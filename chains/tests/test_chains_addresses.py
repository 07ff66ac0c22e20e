"""Tests for chains.addresses.

Vector sources: BIP-84 / BIP-173 / BIP-350 test vectors, the Bitcoin wiki
example addresses (1BvBMSEY..., 3J98t1Wp...), the "abandon x11 about" BIP44
addresses published by several wallets, Bisq's Litecoin asset tests, EIP-55's
own test vectors, xrpl-py's address codec tests and ripple-address-codec's
README, the USDT TRC-20 contract and SPL Token / USDC program ids.  A few
negative cases are built in the test itself with base58check (documented
where they are).
"""

from __future__ import annotations

import base58
import pytest

from chains.addresses import (
    INVALID_ADDRESS_CODE,
    InvalidAddress,
    validate_address,
)


def ok(network: str, mode: str, address: str) -> str:
    return validate_address(network=network, mode=mode, address=address)


def bad(network: str, mode: str, address, match: str | None = None) -> InvalidAddress:
    with pytest.raises(InvalidAddress) as exc:
        validate_address(network=network, mode=mode, address=address)
    err = exc.value
    assert isinstance(err, ValueError)
    assert err.code == INVALID_ADDRESS_CODE == "invalid_address"
    assert err.network == network and err.mode == mode
    assert str(err) and str(err)[0].isupper()  # a sentence for humans
    if match:
        assert match.lower() in str(err).lower(), str(err)
    return err


def b58check(version: int, payload: bytes) -> str:
    return base58.b58encode_check(bytes([version]) + payload).decode()


# --------------------------------------------------------------------------- Bitcoin


@pytest.mark.parametrize(
    "address,normalized",
    [
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", None),
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", None),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", None),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", None),
        ("1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA", None),
        (
            "  bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu\n",
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        ),
    ],
)
def test_bitcoin_live_valid(address, normalized):
    assert ok("bitcoin", "live", address) == (normalized or address)


@pytest.mark.parametrize(
    "address",
    [
        "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "mkpZhYtJu2r87Js3pDiWJDmPte2NRZ8bJV",
        "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2",
    ],
)
def test_bitcoin_test_valid(address):
    assert ok("bitcoin", "test", address) == address


@pytest.mark.parametrize(
    "mode,address,match",
    [
        ("live", "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl", "Bitcoin testnet address"),
        ("live", "mkpZhYtJu2r87Js3pDiWJDmPte2NRZ8bJV", "Bitcoin testnet address"),
        ("test", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "This is a Bitcoin mainnet address"),
        ("test", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "This is a Bitcoin mainnet address"),
        ("live", "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh", "Litecoin mainnet address"),
        ("live", "LUWPbpM43E2p7ZSh8cyTBEkvpHmr3cB8Ez", "Litecoin mainnet address"),
        ("test", "bcrt1qcr8te4kr609gcawutmrza0j4xv80jy8z9ruv6t", "regtest"),
        ("live", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv", "checksum"),
        ("live", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "checksum"),
        (
            "live",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "checksum variant",
        ),
        ("live", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "checksum variant"),
        (
            "test",
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
            "upper and lower case",
        ),
        ("live", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "not supported"),
        (
            "live",
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            "taproot",
        ),
        ("live", "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "program length"),
        ("live", "bc1gmk9yu", None),
        ("live", "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "prefix"),
        ("live", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", None),
        ("live", "hello world", "unexpected characters"),
        ("live", "", "empty"),
        ("live", "   ", "empty"),
        ("live", "bc1", None),
        ("live", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2é", None),
    ],
)
def test_bitcoin_invalid(mode, address, match):
    bad("bitcoin", mode, address, match)


def test_bitcoin_wrong_length_base58():
    # base58check-valid, right version byte, but a 19-byte hash (built here).
    bad("bitcoin", "live", b58check(0x00, bytes(range(19))), "wrong length")


def test_non_string_address():
    bad("bitcoin", "live", None)
    bad("ethereum", "live", b"0x9858EfFD232B4033E47d90003D41EC34EcaEda94")


# --------------------------------------------------------------------------- Litecoin


@pytest.mark.parametrize(
    "address",
    [
        "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh",
        "ltc1qxtm55gultqzhqzl2p3ks50hg2478y3hehuj6dz",
        "Lg3PX8wRWmApFCoCMAsPF5P9dPHYQHEWKW",
        "LTuoeY6RBHV3n3cfhXVVTbJbxzxnXs9ofm",
        "MGEW4aba3tnrVtVhGcmoqqHaLt5ymPSLPi",
        "LUWPbpM43E2p7ZSh8cyTBEkvpHmr3cB8Ez",
    ],
)
def test_litecoin_live_valid(address):
    assert ok("litecoin", "live", address) == address


def test_litecoin_test_valid():
    assert ok("litecoin", "test", "tltc1q6rz28mcfaxtmd6v789l9rrlrusdprr9pesrjxk")
    assert ok("litecoin", "test", "mkpZhYtJu2r87Js3pDiWJDmPte2NRZ8bJV")  # shared 0x6f version
    q_address = b58check(0x3A, bytes(range(1, 21)))  # built here: Litecoin testnet P2SH version
    assert ok("litecoin", "test", q_address) == q_address


@pytest.mark.parametrize(
    "mode,address,match",
    [
        ("live", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "This is a Bitcoin mainnet address"),
        ("live", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "This is a Bitcoin mainnet address"),
        ("live", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "M…"),
        ("live", "tltc1q6rz28mcfaxtmd6v789l9rrlrusdprr9pesrjxk", "Litecoin testnet"),
        (
            "test",
            "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh",
            "This is a Litecoin mainnet address",
        ),
        ("test", "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl", "Bitcoin testnet"),
        ("live", "LgfapHEPhZbdRF9pMd5WPT35hFXcZS1USrW", None),  # Bisq invalid case
        ("live", "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wj", "checksum"),
        ("live", "not-an-address", None),
    ],
)
def test_litecoin_invalid(mode, address, match):
    bad("litecoin", mode, address, match)


# --------------------------------------------------------------------------- EVM

EIP55_VECTORS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("network", ["ethereum", "base", "bsc", "polygon", "arbitrum"])
@pytest.mark.parametrize("mode", ["live", "test"])
def test_evm_valid_and_checksummed(network, mode):
    lower = "0x9858effd232b4033e47d90003d41ec34ecaeda94"
    checksummed = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    assert ok(network, mode, lower) == checksummed
    assert ok(network, mode, lower.upper().replace("0X", "0x")) == checksummed
    assert ok(network, mode, checksummed) == checksummed


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_evm_eip55_vectors(address):
    result = ok("ethereum", "live", address)
    assert result.lower() == address.lower()
    if address[2:] not in (address[2:].lower(), address[2:].upper()):
        assert result == address  # mixed-case vectors are already checksummed


@pytest.mark.parametrize(
    "address,match",
    [
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "checksum"),  # last letter case flipped
        ("0x9858EfFD232B4033E47d90003D41EC34EcaEdA94", "checksum"),
        ("0x9858EfFD232B4033E47d90003D41EC34EcaEda9", "40 hexadecimal"),
        ("0x9858EfFD232B4033E47d90003D41EC34EcaEda944", "40 hexadecimal"),
        ("9858EfFD232B4033E47d90003D41EC34EcaEda94", "0x"),
        ("0X9858EfFD232B4033E47d90003D41EC34EcaEda94", "0x"),
        ("0x9858EfFD232B4033E47d90003D41EC34EcaEdaZZ", "hexadecimal"),
        ("0x0000000000000000000000000000000000000000", "zero address"),
        ("TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", None),
        ("vitalik.eth", None),
    ],
)
def test_evm_invalid(address, match):
    bad("ethereum", "live", address, match)
    bad("base", "test", address, match)


# --------------------------------------------------------------------------- TRON


@pytest.mark.parametrize("mode", ["live", "test"])
@pytest.mark.parametrize(
    "address",
    [
        "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH",
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "TLrPF5aTqtqLxFo1Y69jpQvZ2T4ydkX9pC",
    ],
)
def test_tron_valid(mode, address):
    assert ok("tron", mode, address) == address


@pytest.mark.parametrize(
    "address,match",
    [
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "checksum"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6", None),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "0x41"),  # valid base58check, wrong prefix
        ("41a614f803b6fd780986a42c78ec9c7f77e6ded13c", None),  # hex form is not accepted
        ("0x9858EfFD232B4033E47d90003D41EC34EcaEda94", None),
        ("T0000000000000000000000000000000O", "not allowed"),
        ("", "empty"),
    ],
)
def test_tron_invalid(address, match):
    bad("tron", "live", address, match)


def test_tron_zero_and_wrong_length():
    bad("tron", "live", b58check(0x41, bytes(20)), "zero address")  # built here
    bad("tron", "live", b58check(0x41, bytes(range(1, 22))), "0x41")  # 22 bytes, built here


# --------------------------------------------------------------------------- Solana


@pytest.mark.parametrize("mode", ["live", "test"])
@pytest.mark.parametrize(
    "address",
    [
        "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",  # USDC mint
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",  # SPL Token program
    ],
)
def test_solana_valid(mode, address):
    assert ok("solana", mode, address) == address


@pytest.mark.parametrize(
    "address,match",
    [
        (base58.b58encode(bytes(range(1, 32))).decode(), "31 bytes"),  # built here
        (base58.b58encode(bytes(range(1, 34))).decode(), "33 bytes"),  # built here
        ("1" + "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk", "33 bytes"),
        ("HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpq0", "not allowed"),
        ("11111111111111111111111111111111", "system program"),
        ("TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", "bytes"),
        ("0x9858EfFD232B4033E47d90003D41EC34EcaEda94", None),
        ("", "empty"),
    ],
)
def test_solana_invalid(address, match):
    bad("solana", "live", address, match)


# --------------------------------------------------------------------------- XRPL


@pytest.mark.parametrize("mode", ["live", "test"])
@pytest.mark.parametrize(
    "address",
    [
        "rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3",
        "rU6K7V3Po4snVhBBaU29sesqs2qTQJWDw1",
        "rLUEXYuLiQptky37CqLcm9USQpPiz5rkpD",
    ],
)
def test_xrpl_classic_valid_in_both_modes(mode, address):
    assert ok("xrpl", mode, address) == address


def test_xrpl_x_addresses_must_match_mode():
    main_x = "XVLhHMPHU98es4dbozjVtdWzVrDjtV18pX8yuPT7y4xaEHi"
    test_x = "T7oKJ3q7s94kDH6tpkBowhetT1JKfcfdSCmAXbS75iATyLD"
    assert ok("xrpl", "live", main_x) == main_x
    assert ok("xrpl", "live", "X7AcgcsBL6XDcUb289X4mJ8djcdyKaB5hJDWMArnXr61cqZ")
    assert ok("xrpl", "test", test_x) == test_x
    bad("xrpl", "test", main_x, "mainnet X-address")
    bad("xrpl", "live", test_x, "testnet X-address")


@pytest.mark.parametrize(
    "address,match",
    [
        ("rU6K7V3Po4snVhBBaU29sesqs2qTQJWDw2", "XRP Ledger"),  # xrpl-py invalid checksum
        ("XVLhHMPHU98es4dbozjVtdWzVrDjtV18pX8zeUygYrCgrPh", "XRP Ledger"),  # xrpl-py invalid X
        ("rrrrrrrrrrrrrrrrrrrrrhoLvTp", "black hole"),  # ACCOUNT_ZERO
        ("rrrrrrrrrrrrrrrrrrrrBZbvji", "black hole"),  # ACCOUNT_ONE
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", None),
        ("r", None),
        ("", "empty"),
    ],
)
def test_xrpl_invalid(address, match):
    bad("xrpl", "live", address, match)


# --------------------------------------------------------------------------- misc


def test_unknown_network_and_mode_are_not_address_errors():
    with pytest.raises(ValueError) as exc:
        validate_address(network="dogecoin", mode="live", address="x")
    assert not isinstance(exc.value, InvalidAddress)
    with pytest.raises(ValueError) as exc:
        validate_address(network="bitcoin", mode="prod", address="x")
    assert not isinstance(exc.value, InvalidAddress)
