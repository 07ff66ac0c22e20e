"""Tron transactions built and signed offline: the `Transaction.raw` protobuf message encoded
here by hand (java-tron's core/Tron.proto; tronpy cannot be installed next to eth-abi), the
txID = SHA-256 of those bytes, and a recoverable secp256k1 signature over the txID (r‖s‖v,
v = 27 + recovery id), as Tron wallets sign.

The messages and fields used (proto3: a field at its default value is left out):

    Transaction       { raw raw_data = 1; repeated bytes signature = 2; }
    Transaction.raw   { bytes ref_block_bytes = 1; bytes ref_block_hash = 4; int64 expiration = 8;
                        repeated Contract contract = 11; int64 timestamp = 14; int64 fee_limit = 18; }
    Contract          { ContractType type = 1; google.protobuf.Any parameter = 2; }
    Any               { string type_url = 1; bytes value = 2; }
    TransferContract  { bytes owner_address = 1; bytes to_address = 2; int64 amount = 3; }   type 1
    TriggerSmartContract { bytes owner_address = 1; bytes contract_address = 2; int64 call_value = 3;
                           bytes data = 4; }                                             type 31

`decode_raw` reads such bytes back into the node's JSON shape (`raw_data` with hex addresses),
which is what /wallet/broadcasttransaction takes next to `raw_data_hex`, and what a test (or
the stand-in node) compares against.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from eth_keys import keys as eth_keys

from chains.encoding import tron_address_to_hex

TRANSFER_CONTRACT = 1
TRIGGER_SMART_CONTRACT = 31
_TYPE_NAMES = {TRANSFER_CONTRACT: "TransferContract", TRIGGER_SMART_CONTRACT: "TriggerSmartContract"}
_TYPE_URL = "type.googleapis.com/protocol.{}"
TRC20_TRANSFER = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
TRC20_BALANCE_OF = bytes.fromhex("70a08231")  # balanceOf(address)


class ProtobufError(ValueError):
    pass


# -- protobuf wire format ---------------------------------------------------------------------

def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives: ten bytes, two's complement (never used here)
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int_field(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value) if value else b""


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value if value else b""


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def parse_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a message: ints for varints, bytes for length-delimited."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            fields.append((field, value))
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            fields.append((field, data[pos:pos + length]))
            pos += length
        else:
            raise ProtobufError(f"unexpected wire type {wire} (field {field})")
    return fields


# -- building ---------------------------------------------------------------------------------

def _address(address: str) -> bytes:
    """21 bytes (0x41 + account id) of a T… or 41… address."""
    hex_address = tron_address_to_hex(address) if address.startswith("T") else address
    raw = bytes.fromhex(hex_address)
    if len(raw) != 21 or raw[0] != 0x41:
        raise ValueError(f"not a Tron address: {address!r}")
    return raw


def transfer_contract(*, owner: str, to: str, amount_sun: int) -> tuple[int, bytes]:
    if amount_sun <= 0:
        raise ValueError("a TRX transfer moves a positive amount")
    return TRANSFER_CONTRACT, (_bytes_field(1, _address(owner)) + _bytes_field(2, _address(to))
                               + _int_field(3, amount_sun))


def trc20_transfer_data(to: str, units: int) -> bytes:
    """ABI-encoded transfer(to, units): the recipient as its 20-byte account id."""
    if units <= 0:
        raise ValueError("a token transfer moves a positive amount")
    return TRC20_TRANSFER + _address(to)[1:].rjust(32, b"\0") + units.to_bytes(32, "big")


def trigger_contract(*, owner: str, contract: str, data: bytes, call_value: int = 0) -> tuple[int, bytes]:
    return TRIGGER_SMART_CONTRACT, (_bytes_field(1, _address(owner)) + _bytes_field(2, _address(contract))
                                    + _int_field(3, call_value) + _bytes_field(4, data))


@dataclass(frozen=True)
class RefBlock:
    """The block a transaction refers to (TaPoS): its number and its blockID (hex)."""

    number: int
    block_id: str


def raw_data(*, contract: tuple[int, bytes], ref_block: RefBlock, expiration_ms: int, timestamp_ms: int,
             fee_limit_sun: int = 0) -> bytes:
    """The Transaction.raw bytes: ref_block_bytes = the number's low 2 bytes, ref_block_hash =
    bytes 8..16 of the blockID."""
    kind, value = contract
    block_id = bytes.fromhex(ref_block.block_id)
    if len(block_id) != 32:
        raise ValueError("a blockID is 32 bytes")
    any_message = _bytes_field(1, _TYPE_URL.format(_TYPE_NAMES[kind]).encode()) + _bytes_field(2, value)
    contract_message = _int_field(1, kind) + _bytes_field(2, any_message)
    return (_bytes_field(1, (ref_block.number & 0xFFFF).to_bytes(2, "big")) + _bytes_field(4, block_id[8:16])
            + _int_field(8, expiration_ms) + _bytes_field(11, contract_message) + _int_field(14, timestamp_ms)
            + _int_field(18, fee_limit_sun))


def txid(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class SignedTransaction:
    txid: str
    raw_data: bytes   # Transaction.raw
    signature: bytes  # 65 bytes, r‖s‖v
    encoded: bytes    # the whole Transaction message (raw_data and signature): what is stored

    def broadcast_body(self) -> dict:
        """/wallet/broadcasttransaction's body."""
        return {"txID": self.txid, "raw_data": decode_raw(self.raw_data), "raw_data_hex": self.raw_data.hex(),
                "signature": [self.signature.hex()], "visible": False}


def sign(raw: bytes, secret: bytes) -> SignedTransaction:
    digest = hashlib.sha256(raw).digest()
    signature = eth_keys.PrivateKey(secret).sign_msg_hash(digest)
    sig = signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big") + bytes([27 + signature.v])
    return SignedTransaction(txid=digest.hex(), raw_data=raw, signature=sig,
                             encoded=_bytes_field(1, raw) + _bytes_field(2, sig))


def decode_signed(encoded: bytes) -> SignedTransaction:
    raw = signature = b""
    for field, value in parse_fields(encoded):
        if field == 1 and isinstance(value, bytes):
            raw = value
        elif field == 2 and isinstance(value, bytes):
            signature = value
    if not raw or len(signature) != 65:
        raise ProtobufError("not a signed Tron transaction")
    return SignedTransaction(txid=txid(raw), raw_data=raw, signature=signature, encoded=encoded)


def signer_of(signed: SignedTransaction) -> str:
    """The 41… hex address whose key made the signature."""
    v = signed.signature[64]
    signature = eth_keys.Signature(signed.signature[:64] + bytes([v - 27 if v >= 27 else v]))
    public = signature.recover_public_key_from_msg_hash(bytes.fromhex(signed.txid))
    return "41" + public.to_canonical_address().hex()


# -- reading back ----------------------------------------------------------------------------

def _decode_contract_value(kind: int, value: bytes) -> dict:
    fields = dict(parse_fields(value))
    if kind == TRANSFER_CONTRACT:
        return {"amount": fields.get(3, 0), "owner_address": fields[1].hex(), "to_address": fields[2].hex()}
    if kind == TRIGGER_SMART_CONTRACT:
        out = {"owner_address": fields[1].hex(), "contract_address": fields[2].hex()}
        if fields.get(4):
            out["data"] = fields[4].hex()
        if fields.get(3):
            out["call_value"] = fields[3]
        return out
    raise ProtobufError(f"contract type {kind} is not one fluxa builds")


def decode_raw(raw: bytes) -> dict:
    """Transaction.raw bytes in the node's JSON shape (visible=false: hex addresses)."""
    out: dict = {"contract": []}
    for field, value in parse_fields(raw):
        if field == 1:
            out["ref_block_bytes"] = value.hex()
        elif field == 4:
            out["ref_block_hash"] = value.hex()
        elif field == 8:
            out["expiration"] = value
        elif field == 14:
            out["timestamp"] = value
        elif field == 18:
            out["fee_limit"] = value
        elif field == 11:
            contract = dict(parse_fields(value))
            kind = contract.get(1, 0)
            parameter = dict(parse_fields(contract[2]))
            type_url = parameter[1].decode()
            if type_url != _TYPE_URL.format(_TYPE_NAMES.get(kind, "?")):
                raise ProtobufError(f"type_url {type_url!r} does not match contract type {kind}")
            out["contract"].append({"parameter": {"value": _decode_contract_value(kind, parameter.get(2, b"")),
                                                  "type_url": type_url}, "type": _TYPE_NAMES[kind]})
        else:
            raise ProtobufError(f"unexpected Transaction.raw field {field}")
    return out
