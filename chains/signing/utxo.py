"""Segwit v0 (P2WPKH) transactions for the UTXO family (Bitcoin, Litecoin), built and signed
here: BIP143 signature hashes, RFC 6979 ECDSA over secp256k1 (eth_keys) with a low S, DER
signatures, BIP141 serialization. Every input signals BIP125 replaceability (sequence
0xfffffffd), so a stuck transaction can be replaced by one spending the same inputs at a
higher fee.

Why not bitcoinlib's Transaction (chains/derivation.py uses bitcoinlib for the keys): after
`sign()` its `txid` and `vsize` still describe the unsigned draft (seen with 0.7.10), and the
engine must store the txid before anything is broadcast; its Output also wants an address of
its own network, while fluxa pays scriptPubKeys (the same on every chain: a live address and
its regtest form). Serializing ourselves gives the txid, the exact vsize, and a fee that is
decided before signing and never changes after.

No node, no database, no key storage: the caller hands each input's 32-byte secret for the
time of the call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from eth_keys import keys as eth_keys

RBF_SEQUENCE = 0xFFFFFFFD  # BIP125: below 0xfffffffe, so the transaction is replaceable
SIGHASH_ALL = 1
VERSION = 2
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # the secp256k1 group order

# Virtual sizes (vbytes) for fee estimation: a P2WPKH input with the longest signature (72 bytes
# DER + the sighash byte) is 41 bytes plus a 108-byte witness = 68 vbytes (rounded up); the
# fixed part is version, locktime, input and output counts (10 bytes) and the segwit marker
# and flag (half a vbyte).
P2WPKH_INPUT_VSIZE = 68
OVERHEAD_VSIZE = 11


class SigningError(ValueError):
    """An input or output that cannot be built (not P2WPKH, a negative amount, ...)."""


@dataclass(frozen=True)
class Input:
    txid: str          # hex, as nodes show it (big-endian)
    vout: int
    amount: int        # base units of the output spent (BIP143 signs it)
    script: bytes      # the scriptPubKey spent: P2WPKH, 0x0014 + 20-byte key hash


@dataclass(frozen=True)
class Payment:
    script: bytes      # the scriptPubKey paid
    amount: int


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    txid: str
    vsize: int
    fee: int           # inputs minus outputs, base units


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def _outpoint(item: Input) -> bytes:
    txid = bytes.fromhex(item.txid)
    if len(txid) != 32 or not 0 <= item.vout <= 0xFFFFFFFF:
        raise SigningError(f"bad outpoint {item.txid}:{item.vout}")
    return txid[::-1] + item.vout.to_bytes(4, "little")


def _output(payment: Payment) -> bytes:
    if not 0 <= payment.amount <= 21_000_000 * 10**8 * 4:  # well above any coin's supply
        raise SigningError(f"bad output amount {payment.amount}")
    return payment.amount.to_bytes(8, "little") + _varint(len(payment.script)) + payment.script


def output_vsize(script: bytes) -> int:
    """An output's size: the 8-byte amount, the script's length and the script."""
    return 8 + len(_varint(len(script))) + len(script)


def estimate_vsize(n_inputs: int, output_scripts: list[bytes]) -> int:
    """The largest vsize the signed transaction can have (every signature at its longest)."""
    return OVERHEAD_VSIZE + n_inputs * P2WPKH_INPUT_VSIZE + sum(output_vsize(s) for s in output_scripts)


def is_p2wpkh(script: bytes) -> bool:
    return len(script) == 22 and script[:2] == b"\x00\x14"


def _der(r: int, s: int) -> bytes:
    def integer(value: int) -> bytes:
        body = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
        if body[0] & 0x80:
            body = b"\x00" + body
        return b"\x02" + bytes([len(body)]) + body

    content = integer(r) + integer(s)
    return b"\x30" + bytes([len(content)]) + content


def _sign_digest(secret: bytes, digest: bytes) -> bytes:
    signature = eth_keys.PrivateKey(secret).sign_msg_hash(digest)
    s = signature.s if signature.s <= _N // 2 else _N - signature.s  # BIP62/BIP146: low S only
    return _der(signature.r, s) + bytes([SIGHASH_ALL])


def sign_p2wpkh(inputs: list[tuple[Input, bytes, bytes]], payments: list[Payment], *,
                locktime: int = 0) -> SignedTx:
    """A signed transaction spending `inputs` ((Input, secret, compressed public key) each) to
    `payments`, in the given order. Every input must be P2WPKH of its key's hash; raises
    SigningError otherwise, or when the outputs exceed the inputs."""
    if not inputs or not payments:
        raise SigningError("a transaction needs inputs and outputs")
    for item, _, public in inputs:
        if not is_p2wpkh(item.script):
            raise SigningError(f"input {item.txid}:{item.vout} is not P2WPKH")
        if item.script[2:] != hashlib.new("ripemd160", hashlib.sha256(public).digest()).digest():
            raise SigningError(f"the key given for {item.txid}:{item.vout} does not own it")
        if item.amount <= 0:
            raise SigningError(f"input {item.txid}:{item.vout} has no value")
    fee = sum(item.amount for item, _, _ in inputs) - sum(p.amount for p in payments)
    if fee < 0:
        raise SigningError("the outputs exceed the inputs")
    version = VERSION.to_bytes(4, "little")
    lock = locktime.to_bytes(4, "little")
    sequence = RBF_SEQUENCE.to_bytes(4, "little")
    outpoints = [_outpoint(item) for item, _, _ in inputs]
    outputs = b"".join(_output(p) for p in payments)
    hash_prevouts = _sha256d(b"".join(outpoints))
    hash_sequence = _sha256d(sequence * len(inputs))
    hash_outputs = _sha256d(outputs)
    witnesses = []
    for (item, secret, public), outpoint in zip(inputs, outpoints, strict=True):
        script_code = b"\x19\x76\xa9\x14" + item.script[2:] + b"\x88\xac"  # BIP143: P2PKH of the key hash
        preimage = (version + hash_prevouts + hash_sequence + outpoint + script_code
                    + item.amount.to_bytes(8, "little") + sequence + hash_outputs + lock
                    + SIGHASH_ALL.to_bytes(4, "little"))
        signature = _sign_digest(secret, _sha256d(preimage))
        witnesses.append(b"\x02" + _varint(len(signature)) + signature + _varint(len(public)) + public)
    body_inputs = _varint(len(inputs)) + b"".join(op + b"\x00" + sequence for op in outpoints)
    body_outputs = _varint(len(payments)) + outputs
    stripped = version + body_inputs + body_outputs + lock
    raw = version + b"\x00\x01" + body_inputs + body_outputs + b"".join(witnesses) + lock
    weight = len(stripped) * 3 + len(raw)
    return SignedTx(raw=raw, txid=_sha256d(stripped)[::-1].hex(), vsize=(weight + 3) // 4, fee=fee)


def txid_of(raw: bytes) -> str:
    """The txid of a serialized transaction (segwit or not): the hash of it without witnesses."""
    if raw[4:6] != b"\x00\x01":
        return _sha256d(raw)[::-1].hex()
    pos = 6
    count, pos = _read_varint(raw, pos)
    for _ in range(count):
        pos += 36
        length, pos = _read_varint(raw, pos)
        pos += length + 4
    count, pos = _read_varint(raw, pos)
    for _ in range(count):
        pos += 8
        length, pos = _read_varint(raw, pos)
        pos += length
    body_end = pos
    return _sha256d(raw[:4] + raw[6:body_end] + raw[-4:])[::-1].hex()


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    first = raw[pos]
    if first < 0xFD:
        return first, pos + 1
    size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    return int.from_bytes(raw[pos + 1:pos + 1 + size], "little"), pos + 1 + size
