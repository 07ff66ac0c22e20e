"""EVM transactions, built and signed offline: EIP-1559 (type 2) native transfers and ERC-20
`transfer` calls. Pure: no node call, no database; the key comes in as a
chains.derivation.SigningKey (used inside the caller's `with` block) and never leaves here.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from chains.derivation import SigningKey

NATIVE_TRANSFER_GAS = 21_000
ERC20_TRANSFER_SELECTOR = keccak(text="transfer(address,uint256)")[:4]


def erc20_transfer_data(to: str, units: int) -> bytes:
    """The calldata of `transfer(to, units)`."""
    if units < 0 or units >= 2**256:
        raise ValueError(f"token amount out of range: {units}")
    address = bytes.fromhex(to_checksum_address(to)[2:])
    return ERC20_TRANSFER_SELECTOR + address.rjust(32, b"\0") + units.to_bytes(32, "big")


def bumped(value: int) -> int:
    """+12.5%, rounded up: what a node asks of a replacement on each fee field (geth's
    minimum is +10%; 12.5% clears every client's rule)."""
    return value + -(-value // 8)


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    txid: str  # 0x-prefixed lowercase keccak of the raw bytes
    sender: str


def sign_type2(key: SigningKey, *, chain_id: int, nonce: int, to: str, value: int, gas: int,
               max_fee_per_gas: int, max_priority_fee_per_gas: int, data: bytes = b"") -> SignedTx:
    """Sign one EIP-1559 transaction with `key`."""
    if max_priority_fee_per_gas > max_fee_per_gas:
        raise ValueError("maxPriorityFeePerGas above maxFeePerGas")
    if min(nonce, value, gas, max_fee_per_gas, max_priority_fee_per_gas) < 0:
        raise ValueError("negative transaction field")
    tx = {
        "type": 2, "chainId": chain_id, "nonce": nonce, "to": to_checksum_address(to), "value": value,
        "gas": gas, "maxFeePerGas": max_fee_per_gas, "maxPriorityFeePerGas": max_priority_fee_per_gas,
        "data": data, "accessList": [],
    }
    account = key.eth_account()
    signed = account.sign_transaction(tx)
    raw = bytes(signed.raw_transaction)
    return SignedTx(raw=raw, txid="0x" + keccak(raw).hex(), sender=account.address.lower())


def decode(raw: bytes) -> dict:
    """The fields of a signed type-2 transaction (for tests and the admin)."""
    tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    return {"nonce": tx["nonce"], "to": to_checksum_address(tx["to"]).lower(), "value": tx["value"],
            "gas": tx["gas"], "max_fee_per_gas": tx["maxFeePerGas"],
            "max_priority_fee_per_gas": tx["maxPriorityFeePerGas"], "data": bytes(tx["data"]),
            "sender": Account.recover_transaction(raw).lower()}
