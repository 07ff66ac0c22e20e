"""Building and signing Solana sweep transactions: pure (no node, no database, no key store).

A sweep is ONE legacy transaction whose first signer, the fee payer (the operator's account,
chains.derivation.fee_payer_path), pays the network fee, and whose second signer, the deposit
address, authorizes moving what it holds:

* SOL (`sol_sweep_message`): one System program transfer per recipient, from the deposit.
* SPL tokens (`token_sweep_message`): for each recipient an idempotent create of its
  associated token account (paid by the fee payer; a no-op when it exists), one
  `transfer_checked` per recipient from the deposit's associated token account, then, when
  the sweep empties it, `close_account` of the deposit's token account with its rent lamports
  going to the fee payer. Only the classic SPL Token program (USDC and USDT on Solana use it).

The transaction id is the first signature (the fee payer's), known before broadcast
(`sign` returns it with the wire bytes). The instructions come from solders and solana-py's
`spl.token.instructions` (the SPL Token and Associated Token Account programs' own layouts).
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    close_account,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    transfer_checked,
)
from spl.token.models import CloseAccountParams, TransferCheckedParams

# An SPL token account's size; its rent-exempt minimum is 2,039,280 lamports on every cluster.
TOKEN_ACCOUNT_SIZE = 165


@dataclass(frozen=True)
class Signed:
    raw: bytes        # the wire transaction
    signature: str    # the first signature: the transaction id


def associated_token_address(owner: str, mint: str) -> str:
    """The owner's associated token account for `mint` (classic SPL Token program)."""
    return str(get_associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(mint)))


def sol_sweep_message(*, fee_payer: str, deposit: str, transfers: list[tuple[str, int]], blockhash: str) -> Message:
    """`transfers`: (recipient, lamports), each > 0, moved from the deposit."""
    source = Pubkey.from_string(deposit)
    instructions = [transfer(TransferParams(from_pubkey=source, to_pubkey=Pubkey.from_string(to), lamports=lamports))
                    for to, lamports in transfers if _positive(lamports)]
    return _message(instructions, fee_payer, blockhash)


def token_sweep_message(*, fee_payer: str, deposit: str, mint: str, decimals: int,
                        transfers: list[tuple[str, int]], create_for: list[str], close: bool,
                        blockhash: str) -> Message:
    """`transfers`: (recipient owner, base units) from the deposit's token account;
    `create_for`: owners whose token account is created (idempotently) first; `close`: close
    the deposit's token account afterwards (its balance must then be 0), rent to the fee payer."""
    payer, owner, mint_key = Pubkey.from_string(fee_payer), Pubkey.from_string(deposit), Pubkey.from_string(mint)
    source = get_associated_token_address(owner, mint_key)
    instructions: list[Instruction] = []
    for recipient in dict.fromkeys(create_for):
        instructions.append(create_idempotent_associated_token_account(payer, Pubkey.from_string(recipient), mint_key))
    for recipient, amount in transfers:
        if _positive(amount):
            instructions.append(transfer_checked(TransferCheckedParams(
                program_id=TOKEN_PROGRAM_ID, source=source, mint=mint_key,
                dest=get_associated_token_address(Pubkey.from_string(recipient), mint_key), owner=owner,
                amount=amount, decimals=decimals)))
    if close:
        instructions.append(close_account(CloseAccountParams(program_id=TOKEN_PROGRAM_ID, account=source, dest=payer,
                                                             owner=owner)))
    return _message(instructions, fee_payer, blockhash)


def message_bytes(message: Message) -> bytes:
    """The serialized message (what getFeeForMessage takes, base64)."""
    return bytes(message)


def sign(message: Message, signers: list[Keypair]) -> Signed:
    """Sign `message` with every required signer (the fee payer and the deposit)."""
    tx = Transaction(signers, message, message.recent_blockhash)
    return Signed(raw=bytes(tx), signature=str(tx.signatures[0]))


def signature_of(raw: bytes) -> str:
    """The transaction id of wire bytes (its first signature)."""
    return str(VersionedTransaction.from_bytes(raw).signatures[0])


def _message(instructions: list[Instruction], fee_payer: str, blockhash: str) -> Message:
    if not instructions:
        raise ValueError("a sweep moves something")
    return Message.new_with_blockhash(instructions, Pubkey.from_string(fee_payer), Hash.from_string(blockhash))


def _positive(amount: int) -> bool:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"bad amount {amount!r}")
    return amount > 0
