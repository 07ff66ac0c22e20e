"""XRP Ledger Payments built and signed offline with xrpl-py: no autofill (which would ask a
node for the Sequence, the Fee and the LastLedgerSequence) — the caller gives all three, so
the Sequence is the one the engine allocated from its database row. The transaction hash is
computed here, before anything is submitted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from xrpl.core import binarycodec
from xrpl.models.transactions import Payment
from xrpl.transaction import sign
from xrpl.wallet import Wallet


@dataclass(frozen=True)
class SignedPayment:
    txid: str     # the transaction hash (upper-case hex), as the ledger will show it
    blob: bytes   # the signed transaction, binary


def sign_payment(*, wallet: Wallet, destination: str, drops: int, destination_tag: int | None, sequence: int,
                 fee_drops: int, last_ledger_sequence: int) -> SignedPayment:
    """A direct XRP Payment (no paths, never tfPartialPayment) of `drops` from the wallet's
    account, signed."""
    if drops <= 0 or fee_drops <= 0:
        raise ValueError("an XRP payment moves a positive amount and pays a positive fee")
    payment = Payment(account=wallet.classic_address, destination=destination, amount=str(drops),
                      destination_tag=destination_tag, sequence=sequence, fee=str(fee_drops),
                      last_ledger_sequence=last_ledger_sequence, flags=0)
    signed = sign(payment, wallet)
    return SignedPayment(txid=signed.get_hash().upper(), blob=bytes.fromhex(signed.blob()))


def decode(blob: bytes) -> dict:
    """The fields of a signed blob (binary codec JSON)."""
    return binarycodec.decode(blob.hex().upper())


def tx_hash(blob: bytes) -> str:
    """The hash the ledger gives a signed transaction: SHA-512Half of "TXN\\0" + the blob."""
    return hashlib.sha512(b"TXN\0" + blob).digest()[:32].hex().upper()
