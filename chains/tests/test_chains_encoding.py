"""Tests for chains.encoding against published vectors.

Segwit vectors: BIP-350 reference tests (sipa/bech32, ref/python/tests.py,
VALID_ADDRESS / INVALID_ADDRESS).  TRON hex <-> base58 pairs: a public
go TRON client test table (TR7NHqje... is the USDT TRC-20 contract).
"""

import pytest

from chains.encoding import (
    EncodingError,
    b58decode_check,
    decode_segwit,
    encode_segwit,
    tron_address_from_account_id,
    tron_address_from_hex,
    tron_address_to_hex,
)

# (address, scriptPubKey hex) from BIP-350 reference tests.
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]

INVALID_SEGWIT = [
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # bech32 for v1
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",  # bech32 for v2
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # bech32 for v16
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # bech32m for v0
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",  # bech32m for v0
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # bad char in checksum
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # witness version 17
    "bc1pw5dgrnzv",  # program length 1
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # 41 bytes
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # v0 program length 16
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",  # mixed case
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",  # >4 padding bits
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",  # non-zero padding
    "bc1gmk9yu",  # empty data section
]


def _script(version: int, program: bytes) -> str:
    return bytes([version + 0x50 if version else 0, len(program)]).hex() + program.hex()


@pytest.mark.parametrize("address,script", VALID_SEGWIT)
def test_valid_segwit_vectors(address, script):
    decoded = decode_segwit(address)
    assert decoded.hrp in ("bc", "tb")
    assert _script(decoded.version, decoded.program) == script
    assert encode_segwit(decoded.hrp, decoded.version, decoded.program) == address.lower()


@pytest.mark.parametrize("address", INVALID_SEGWIT)
def test_invalid_segwit_vectors(address):
    with pytest.raises(EncodingError):
        decode_segwit(address)


def test_segwit_error_messages_are_specific():
    with pytest.raises(EncodingError, match="mixes upper and lower case"):
        decode_segwit("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq")
    with pytest.raises(EncodingError, match="checksum"):
        decode_segwit("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv")
    with pytest.raises(EncodingError, match="wrong checksum variant"):
        decode_segwit("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh")


# Pairs from a public TRON client's test table (base58 <-> 0x41-prefixed hex).
TRON_PAIRS = [
    ("TLrPF5aTqtqLxFo1Y69jpQvZ2T4ydkX9pC", "41775f057150b85086f456aac88fd52ba8e35db282"),
    ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"),
    ("THPvaUhoh2Qn2y9THCZML3H815hhFhn5YC", "41517591d35d313bf6a5e33098284502b045e2bc08"),
]


@pytest.mark.parametrize("b58,hex41", TRON_PAIRS)
def test_tron_base58_hex_pairs(b58, hex41):
    assert tron_address_to_hex(b58) == hex41
    assert tron_address_from_hex(hex41) == b58
    assert tron_address_from_hex("0x" + hex41) == b58
    assert tron_address_from_account_id(bytes.fromhex(hex41)[1:]) == b58


def test_tron_conversion_errors():
    with pytest.raises(ValueError):
        tron_address_from_account_id(bytes(19))
    with pytest.raises(EncodingError):
        tron_address_from_hex("42" + "00" * 20)  # wrong prefix
    with pytest.raises(EncodingError):
        tron_address_from_hex("zz")
    with pytest.raises(EncodingError):
        tron_address_to_hex("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u")  # checksum


def test_b58decode_check_reasons():
    with pytest.raises(EncodingError, match="not allowed"):
        b58decode_check("0OIl")
    with pytest.raises(EncodingError, match="too short"):
        b58decode_check("1")
    with pytest.raises(EncodingError, match="checksum"):
        b58decode_check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3")
