"""Signing keys for the addresses fluxa sends from: a deposit address (its derivation index)
or the operator's fee payer (its own path, chains.derivation.fee_payer_path). Keys are derived
when a build signs and wiped right after (use the returned SigningKey in a `with` block)."""

from __future__ import annotations

from chains.derivation import SigningKey, derive_fee_payer_address, derive_signing_key
from settlements.models import SenderRole, SendingAccount
from wallets.keys import wallet_mnemonic


def signer(account: SendingAccount) -> SigningKey:
    key = derive_signing_key(
        mnemonic=wallet_mnemonic(), network=account.network, mode=account.mode,
        index=account.derivation_index or 0, fee_payer=account.role == SenderRole.FEE_PAYER,
    )
    if not _same(key.address, account.address):
        key.wipe()
        raise RuntimeError(f"the wallet root does not derive {account} (was the root replaced?)")
    return key


def fee_payer_address(*, network: str, mode: str) -> str:
    return derive_fee_payer_address(mnemonic=wallet_mnemonic(), network=network, mode=mode)


def _same(a: str, b: str) -> bool:
    # EVM addresses compare case-insensitively (EIP-55 is only a checksum); base58 and
    # bech32 forms are stored as derived.
    return a.lower() == b.lower() if a.startswith("0x") else a == b
