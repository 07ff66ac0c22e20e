"""Validate and normalize user-supplied addresses (refund/payout destinations).

``validate_address(network=..., mode=..., address=...)`` returns the
normalized address or raises :class:`InvalidAddress` whose message can be
shown to a person; the API layer maps it to the error code
``invalid_address``.

Normalization: surrounding whitespace is removed; bech32 addresses are
lowercased; EVM addresses are EIP-55 checksummed; everything else is returned
as given (base58 is case-sensitive).  Addresses that are valid encodings but
certainly lose funds (all-zero EVM/TRON/Solana accounts, XRPL ACCOUNT_ZERO and
ACCOUNT_ONE, unknown future segwit versions) are refused too.
"""

from __future__ import annotations

import re

import base58
from eth_utils import is_checksum_address, to_checksum_address
from solders.pubkey import Pubkey
from xrpl.core.addresscodec import (
    encode_classic_address,
    is_valid_classic_address,
    is_valid_xaddress,
    xaddress_to_classic_address,
)

from chains.encoding import (
    BECH32_CHARSET,
    TRON_PREFIX,
    EncodingError,
    b58decode_check,
    bech32_split_hrp,
    decode_segwit,
)
from chains.networks import NETWORKS, Network, check_mode, get_network

INVALID_ADDRESS_CODE = "invalid_address"

_EVM_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_XRPL_BLACK_HOLES = frozenset(
    {encode_classic_address(bytes(20)), encode_classic_address(bytes(19) + b"\x01")}
)


class InvalidAddress(ValueError):
    """The address is not usable on this network/mode; ``str(exc)`` is a human message."""

    code = INVALID_ADDRESS_CODE

    def __init__(self, message: str, *, network: str = "", mode: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.network = network
        self.mode = mode


def _describe(net: Network, mode: str) -> str:
    return f"{net.display_name} {'mainnet' if mode == 'live' else 'testnet'}"


def _utxo_hrp_owners() -> dict[str, str]:
    owners: dict[str, str] = {}
    for net in NETWORKS.values():
        if net.family == "utxo":
            owners[net.hrp_for("live")] = _describe(net, "live")
            owners[net.hrp_for("test")] = _describe(net, "test")
    owners.setdefault("bcrt", "Bitcoin regtest")
    owners.setdefault("rltc", "Litecoin regtest")
    return owners


def _utxo_version_owners() -> dict[int, str]:
    owners: dict[int, str] = {}
    for net in NETWORKS.values():
        if net.family == "utxo":
            for mode in ("live", "test"):
                for version in net.base58_versions_for(mode):
                    owners.setdefault(version, _describe(net, mode))
    return owners


_HRP_OWNERS = _utxo_hrp_owners()
_VERSION_OWNERS = _utxo_version_owners()


def _fail(net: Network, mode: str, reason: str) -> InvalidAddress:
    return InvalidAddress(reason, network=net.label, mode=mode)


def _expected_for(net: Network, mode: str) -> str:
    return f"{mode} mode needs an address on {_describe(net, mode)}"


def _validate_segwit(net: Network, mode: str, text: str, hrp: str) -> str:
    expected_hrp = net.hrp_for(mode)
    if hrp != expected_hrp:
        owner = _HRP_OWNERS[hrp]
        raise _fail(
            net,
            mode,
            f"This is a {owner} address, but {_expected_for(net, mode)} ({expected_hrp}1…).",
        )
    try:
        decoded = decode_segwit(text)
    except EncodingError as exc:
        raise _fail(net, mode, f"Not a valid {_describe(net, mode)} address: it {exc}.") from None
    if decoded.version == 1 and len(decoded.program) != 32:
        raise _fail(net, mode, "Not a valid Taproot address: the witness program must be 32 bytes.")
    if decoded.version > 1:
        raise _fail(
            net,
            mode,
            f"Segwit version {decoded.version} addresses are not supported yet; "
            "funds sent there could be lost.",
        )
    return text.lower()


def _validate_base58_utxo(net: Network, mode: str, text: str) -> str:
    try:
        raw = b58decode_check(text)
    except EncodingError as exc:
        raise _fail(net, mode, f"Not a valid {_describe(net, mode)} address: it {exc}.") from None
    if len(raw) != 21:
        raise _fail(net, mode, f"Not a valid {_describe(net, mode)} address: wrong length.")
    version = raw[0]
    if version in net.base58_versions_for(mode):
        return text
    if net.label == "litecoin" and mode == "live" and version == 0x05:
        raise _fail(
            net,
            mode,
            "Legacy Litecoin '3…' P2SH addresses look like Bitcoin addresses and are not "
            "accepted; use the M… or ltc1… form of this address.",
        )
    owner = _VERSION_OWNERS.get(version)
    if owner:
        raise _fail(net, mode, f"This is a {owner} address, but {_expected_for(net, mode)}.")
    raise _fail(net, mode, f"Not a valid {_describe(net, mode)} address: unknown address type.")


def _looks_bech32(text: str, hrp: str) -> bool:
    data = text.lower()[len(hrp) + 1 :]
    return (
        hrp.isalpha()
        and len(hrp) <= 10
        and len(data) >= 6
        and all(c in BECH32_CHARSET for c in data)
    )


def _validate_utxo(net: Network, mode: str, text: str) -> str:
    hrp = bech32_split_hrp(text)
    if hrp is not None and hrp in _HRP_OWNERS:
        return _validate_segwit(net, mode, text, hrp)
    try:
        return _validate_base58_utxo(net, mode, text)
    except InvalidAddress:
        if hrp is not None and _looks_bech32(text, hrp):
            raise _fail(
                net,
                mode,
                f"Unknown address prefix {hrp!r}: {_expected_for(net, mode)} "
                f"({net.hrp_for(mode)}1…).",
            ) from None
        raise


def _validate_evm(net: Network, mode: str, text: str) -> str:
    if not _EVM_RE.fullmatch(text):
        raise _fail(
            net,
            mode,
            f"Not a valid {net.display_name} address: "
            "expected 0x followed by 40 hexadecimal characters.",
        )
    body = text[2:]
    mixed_case = body != body.lower() and body != body.upper()
    if mixed_case and not is_checksum_address(text):
        raise _fail(
            net,
            mode,
            f"Not a valid {net.display_name} address: the EIP-55 checksum (capitalisation) "
            "does not match; check for a typo.",
        )
    if int(body, 16) == 0:
        raise _fail(net, mode, "The zero address cannot receive funds.")
    return to_checksum_address(text)


def _validate_tron(net: Network, mode: str, text: str) -> str:
    try:
        raw = b58decode_check(text)
    except EncodingError as exc:
        raise _fail(net, mode, f"Not a valid TRON address: it {exc}.") from None
    if len(raw) != 21 or raw[0] != TRON_PREFIX:
        raise _fail(net, mode, "Not a valid TRON address: expected a T… address (0x41 + 20 bytes).")
    if not any(raw[1:]):
        raise _fail(net, mode, "The zero address cannot receive funds.")
    return text


def _validate_solana(net: Network, mode: str, text: str) -> str:
    try:
        raw = base58.b58decode(text)
    except ValueError:
        raise _fail(
            net, mode, "Not a valid Solana address: it contains characters not allowed in base58."
        ) from None
    if len(raw) != 32:
        raise _fail(
            net, mode, f"Not a valid Solana address: it decodes to {len(raw)} bytes, not 32."
        )
    pubkey = Pubkey.from_bytes(raw)
    if str(pubkey) != text:
        raise _fail(net, mode, "Not a valid Solana address: non-canonical base58 encoding.")
    if not any(raw):
        raise _fail(net, mode, "The all-zero (System Program) address cannot receive funds.")
    return text


def _validate_xrpl(net: Network, mode: str, text: str) -> str:
    if is_valid_xaddress(text):
        classic, _tag, is_test = xaddress_to_classic_address(text)
        if is_test != (mode == "test"):
            kind = "testnet" if is_test else "mainnet"
            raise _fail(
                net, mode, f"This is an XRPL {kind} X-address, but {_expected_for(net, mode)}."
            )
        if classic in _XRPL_BLACK_HOLES:
            raise _fail(net, mode, "This XRPL account is a black hole and cannot be used.")
        return text
    if is_valid_classic_address(text):
        if text in _XRPL_BLACK_HOLES:
            raise _fail(net, mode, "This XRPL account is a black hole and cannot be used.")
        return text
    raise _fail(
        net, mode, "Not a valid XRP Ledger address: expected a classic r… address or an X-address."
    )


_VALIDATORS = {
    "utxo": _validate_utxo,
    "evm": _validate_evm,
    "tron": _validate_tron,
    "solana": _validate_solana,
    "xrpl": _validate_xrpl,
}


def validate_address(*, network: str, mode: str, address: str) -> str:
    """Normalized ``address`` for ``network``/``mode``; raises :class:`InvalidAddress`."""
    net = get_network(network)
    check_mode(mode)
    if not isinstance(address, str):
        raise InvalidAddress("The address must be text.", network=net.label, mode=mode)
    text = address.strip()
    if not text:
        raise _fail(net, mode, "The address is empty.")
    if any(c.isspace() for c in text) or not text.isascii():
        raise _fail(
            net, mode, f"Not a valid {_describe(net, mode)} address: unexpected characters."
        )
    return _VALIDATORS[net.family](net, mode, text)


def normalize_address(*, network: str, mode: str, address: str) -> str:
    """``address`` in the normal form of ``validate_address`` when it is a valid address of
    ``network``/``mode``, else as given (surrounding spaces removed): for what a chain reports
    (a payer's sending address), which fluxa records whatever it is. An X-address becomes its
    classic account, which is what the XRP Ledger reports as a sender."""
    text = address.strip() if isinstance(address, str) else ""
    if not text:
        return text
    try:
        normal = validate_address(network=network, mode=mode, address=text)
    except (InvalidAddress, ValueError):
        return text
    if get_network(network).family == "xrpl" and is_valid_xaddress(normal):
        return xaddress_to_classic_address(normal)[0]
    return normal


def address_forms(*, mode: str, address: str, network: str | None = None) -> set[str]:
    """The normal forms (``normalize_address``) of ``address`` on every network it is valid on
    (on ``network`` only, when given): what a recorded sender equals when it is this address.
    Empty when it is valid on none; :class:`InvalidAddress` for a given network it does not fit."""
    labels = [get_network(network).label] if network else list(NETWORKS)
    forms: set[str] = set()
    for label in labels:
        try:
            validate_address(network=label, mode=mode, address=address)
        except InvalidAddress:
            if network:
                raise
            continue
        forms.add(normalize_address(network=label, mode=mode, address=address))
    return forms
