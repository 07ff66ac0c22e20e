"""Address encodings shared by derivation and validation.

* Bech32 / Bech32m (BIP-173, BIP-350) decoding and encoding of segwit
  addresses, written from the BIPs' specification so every failure can be
  reported precisely (checksum, case, variant, program length).
* TRON base58check addresses (``0x41`` + 20-byte account id).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import base58

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)

TRON_PREFIX = 0x41


class EncodingError(ValueError):
    """Raised when an address string cannot be decoded; the message says why."""


class Bech32Variant(enum.Enum):
    """Checksum variant: BIP-173 bech32 or BIP-350 bech32m."""

    BECH32 = _BECH32_CONST
    BECH32M = _BECH32M_CONST


@dataclass(frozen=True)
class SegwitAddress:
    """A decoded segwit address."""

    hrp: str
    version: int
    program: bytes


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: list[int], variant: Bech32Variant) -> list[int]:
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ variant.value
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def bech32_split_hrp(text: str) -> str | None:
    """Return the lowercase human-readable part of a bech32-looking string, or None."""
    pos = text.rfind("1")
    if pos < 1:
        return None
    return text[:pos].lower()


def bech32_decode(text: str) -> tuple[str, list[int], Bech32Variant]:
    """Decode a bech32/bech32m string into ``(hrp, 5-bit data, variant)``."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise EncodingError("contains characters that are not allowed")
    if text.lower() != text and text.upper() != text:
        raise EncodingError("mixes upper and lower case")
    if len(text) > 90:
        raise EncodingError("is too long")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise EncodingError("is not a bech32 string (separator or checksum missing)")
    hrp, data_part = text[:pos], text[pos + 1 :]
    if any(c not in BECH32_CHARSET for c in data_part):
        raise EncodingError("contains characters that are not allowed in bech32")
    data = [BECH32_CHARSET.find(c) for c in data_part]
    const = _polymod(_hrp_expand(hrp) + data)
    if const == _BECH32_CONST:
        variant = Bech32Variant.BECH32
    elif const == _BECH32M_CONST:
        variant = Bech32Variant.BECH32M
    else:
        raise EncodingError("has an invalid checksum (typo?)")
    return hrp, data[:-6], variant


def bech32_encode(hrp: str, data: list[int], variant: Bech32Variant) -> str:
    """Encode 5-bit ``data`` under ``hrp`` with the given checksum variant."""
    combined = data + _create_checksum(hrp, data, variant)
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in combined)


def convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    """General power-of-two base conversion (BIP-173); raises on bad padding."""
    acc = 0
    bits = 0
    ret: list[int] = []
    maxv = (1 << tobits) - 1
    max_acc = (1 << (frombits + tobits - 1)) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise EncodingError("has an out-of-range data value")
        acc = ((acc << frombits) | value) & max_acc
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise EncodingError("has invalid padding")
    return ret


def decode_segwit(text: str) -> SegwitAddress:
    """Decode and check a segwit address (BIP-173/BIP-350 rules), any hrp."""
    hrp, data, variant = bech32_decode(text)
    if not data:
        raise EncodingError("has an empty data section")
    version = data[0]
    if version > 16:
        raise EncodingError(f"has an invalid witness version ({version})")
    program = bytes(convertbits(data[1:], 5, 8, False))
    if not 2 <= len(program) <= 40:
        raise EncodingError(f"has an invalid witness program length ({len(program)} bytes)")
    if version == 0 and len(program) not in (20, 32):
        raise EncodingError("has an invalid witness program length for version 0")
    expected = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    if variant is not expected:
        raise EncodingError(
            f"uses the wrong checksum variant for witness version {version} "
            f"(expected {expected.name.lower()})"
        )
    return SegwitAddress(hrp=hrp, version=version, program=program)


def encode_segwit(hrp: str, version: int, program: bytes) -> str:
    """Encode a segwit address; the result is re-decoded as a self-check."""
    variant = Bech32Variant.BECH32 if version == 0 else Bech32Variant.BECH32M
    text = bech32_encode(hrp, [version] + convertbits(program, 8, 5, True), variant)
    decode_segwit(text)
    return text


def b58decode_check(text: str) -> bytes:
    """Decode a base58check string, raising :class:`EncodingError` with a reason."""
    try:
        raw = base58.b58decode(text)
    except ValueError:
        raise EncodingError("contains characters that are not allowed in base58") from None
    if len(raw) < 5:
        raise EncodingError("is too short")
    try:
        return base58.b58decode_check(text)
    except ValueError:
        raise EncodingError("has an invalid checksum (typo?)") from None


def tron_address_from_account_id(account_id: bytes) -> str:
    """TRON base58check address (``T...``) for a 20-byte account id."""
    if len(account_id) != 20:
        raise ValueError("A TRON account id is exactly 20 bytes.")
    return base58.b58encode_check(bytes([TRON_PREFIX]) + account_id).decode("ascii")


def tron_address_to_hex(address: str) -> str:
    """21-byte hex form (``41...``) of a base58 TRON address."""
    raw = b58decode_check(address)
    if len(raw) != 21 or raw[0] != TRON_PREFIX:
        raise EncodingError("is not a TRON address (expected 0x41 prefix and 21 bytes)")
    return raw.hex()


def tron_address_from_hex(hex_address: str) -> str:
    """Base58 TRON address for a 21-byte hex form (``41`` + 40 hex digits)."""
    text = hex_address[2:] if hex_address.lower().startswith("0x") else hex_address
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise EncodingError("is not hexadecimal") from None
    if len(raw) != 21 or raw[0] != TRON_PREFIX:
        raise EncodingError("is not a TRON address (expected 0x41 prefix and 21 bytes)")
    return tron_address_from_account_id(raw[1:])
