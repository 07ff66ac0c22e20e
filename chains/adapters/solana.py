"""The Solana chain adapter (SOL and SPL tokens), over a node's JSON-RPC with `requests`.

Why `requests` and not solana-py: solana-py 0.40+ ships only an async client, and the scanner
is synchronous (a Celery task); `asyncio.run` per call would build an event loop and an HTTP
client per call and fails inside a running loop. Three read-only methods (getSlot, getBlocks,
getBlock) over a kept-alive `requests.Session` are simpler, and errors are handled the same
way as in the UTXO adapter.

Commitment: everything is read at `finalized`, so a block the adapter returns is never rolled
back; the scanner's reorg check then never fires on Solana, and `required_confirmations` is
counted in slots on top of finality.

Block numbers are slots. Solana has slots without a block (the leader skipped it):
* `head()` is the newest finalized slot (`getSlot`), with its block's blockhash and blockTime.
* `block(n)` is None only for a slot past the node's finalized head (or one it has no status
  for yet). A skipped slot below the head answers `BlockRef(n, hash="", timestamp=0)`: it is
  on the chain (as a hole) and stays so, and "" is stable, so when the scanner's cursor rests
  on a skipped slot the reorg check (`block(cursor).hash == recorded hash`) keeps passing and
  the cursor keeps moving. (Returning None would stall the cursor; borrowing the previous
  block's hash would need a search backwards and put one hash at two numbers.)

What `scan` sees: `getBlocks(from, to)` for the slots with a block, then each block with
`getBlock(slot, {encoding: json, transactionDetails: full, maxSupportedTransactionVersion: 0})`
(one call per block); each transaction's balances are compared with the watched set here, so
the node's work does not grow with the number of deposit addresses. Failed transactions
(`meta.err` set) moved nothing but the fee and are left out.
* SOL: an account key that is a watched address and whose `postBalances - preBalances` is
  positive received that many lamports; the sender is the fee payer (first account key).
* SPL: a `postTokenBalances` entry whose `owner` is a watched address and whose `mint` is a
  watched token received `post - pre` base units (`uiTokenAmount.amount`, an integer string;
  pre is 0 when the token account did not exist before, e.g. created in the same
  transaction). to_address is the owner (the deposit address), never the token account; the
  sender is the owner of a token account of the same mint whose balance went down, else the
  fee payer.
* `index` is the account's index in the transaction's account keys (for SPL: the token
  account's `accountIndex`). Transfer rows are unique per (network, tx hash, index); a Solana
  transaction has one signature (its hash) and fewer than 256 account keys, and each key's
  balance changes once per transaction, so this index is unique and, unlike a position in
  the block, stays the same if the transaction were ever recorded in another block. A SOL
  and an SPL receipt in one transaction get different indexes (the owner's key vs. its token
  account's key). Keys loaded from address lookup tables (v0) follow the static keys, as in
  the `meta` balance arrays.
Net changes are what is seen: SOL that leaves a deposit address again in the same
transaction, or lamports received as rent for a token account, are not payments.

Sending (settlements, chains/signing/solana.py builds the bytes): `send_raw` broadcasts wire
bytes (base64, preflight at `confirmed`); a node that already processed them is success (the
signature is returned either way); any other refusal of the transaction itself (the
documented -32002 preflight failure, with its `data.err`, or bad params) raises SendRefused.
`signature_status` (getSignatureStatuses, searching the history), `transaction`
(getTransaction: fee, balances, error), `lamports`, `account`, `token_balance`, `rent_minimum`,
`fee_for_message`, `latest_blockhash` (with its lastValidBlockHeight) and `block_height` read
what a sweep needs. Reads that decide what to build are at `confirmed`; the block height
that decides a blockhash expired is read at `finalized` (so "expired" is never said early).

Consecutive blocks of one scan must chain (`previousBlockhash` of a block whose `parentSlot`
is the previous block read); otherwise ChainUnavailable. Any error from the node (refused
connection, timeout, HTTP error, JSON-RPC error, malformed answer) raises ChainUnavailable.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from chains.adapters.base import (
    BlockRef,
    ChainUnavailable,
    HttpChainAdapter,
    JsonRpcError,
    Observed,
    Watch,
    check_block_range,
)

COMMITMENT = "finalized"
# Documented Solana JSON-RPC error codes (agave rpc-client-api custom_error.rs).
BLOCK_NOT_AVAILABLE = -32004  # past the node's head for this commitment
SLOT_SKIPPED = -32007
LONG_TERM_STORAGE_SLOT_SKIPPED = -32009
BLOCK_STATUS_NOT_AVAILABLE_YET = -32014
PAST_HEAD = {BLOCK_NOT_AVAILABLE, BLOCK_STATUS_NOT_AVAILABLE_YET}
SKIPPED = {SLOT_SKIPPED, LONG_TERM_STORAGE_SLOT_SKIPPED}
SEND_TRANSACTION_PREFLIGHT_FAILURE = -32002
INVALID_PARAMS = -32602
BUILD_COMMITMENT = "confirmed"
BLOCK_CONFIG = {"encoding": "json", "transactionDetails": "full", "maxSupportedTransactionVersion": 0,
                "rewards": False, "commitment": COMMITMENT}


class SendRefused(Exception):
    """The node refused the transaction itself (not an outage). `err` is the documented
    TransactionError of the answer's `data.err` ("BlockhashNotFound", {"InstructionError": ...}),
    or None."""

    def __init__(self, reason: str, err: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.err = err


@dataclass(frozen=True)
class SignatureStatus:
    slot: int
    confirmations: int | None        # None once rooted (finalized)
    confirmation_status: str         # "processed", "confirmed" or "finalized"
    err: Any                         # None: it succeeded


@dataclass(frozen=True)
class TxMeta:
    slot: int
    fee: int
    err: Any
    account_keys: list[str]
    pre_balances: list[int]
    post_balances: list[int]
    token_account_indexes: frozenset[int]  # keys that are token accounts after it


@dataclass(frozen=True)
class AccountInfo:
    lamports: int
    owner: str
    space: int


class SolanaAdapter(HttpChainAdapter):
    family = "solana"

    def __init__(self, *, network: str, mode: str, rpc_url: str, timeout: float = 10):
        self._setup(network=network, mode=mode, rpc_url=rpc_url, timeout=timeout)

    # -- the interface -------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """The base58 public key (32 bytes) as solders renders it; ValueError otherwise."""
        if not isinstance(address, str) or not address or not address.isascii() or address != address.strip():
            raise ValueError(f"Not a Solana address: {address!r}")
        try:
            key = Pubkey.from_string(address)
        except ValueError as error:
            raise ValueError(f"Not a Solana address: {address!r} ({error})") from None
        if str(key) != address:  # e.g. leading "1"s beyond the 32 bytes
            raise ValueError(f"Not a Solana address: {address!r} (not canonical)")
        return str(key)

    def chain_identity(self) -> str:
        return str(self._call("getGenesisHash"))

    def node_synced(self) -> bool | None:
        try:
            return self._call("getHealth") == "ok"
        except ChainUnavailable as error:
            if isinstance(error.__cause__, JsonRpcError):
                return False  # "Node is behind by N slots" / "Node is unhealthy"
            raise

    def head(self) -> BlockRef:
        slot = self._slot(self._call("getSlot", {"commitment": COMMITMENT}), "getSlot")
        ref = self.block(slot)
        if ref is None or not ref.hash:
            # A finalized slot is rooted and so has a block; a node that says otherwise: take
            # the newest block at or below it.
            slots = self._slots(self._call("getBlocks", max(slot - 1000, 0), slot, {"commitment": COMMITMENT}))
            if not slots:
                raise ChainUnavailable(f"{self.network} {self.mode} node has no block near its head slot {slot}")
            ref = self.block(slots[-1])
            if ref is None or not ref.hash:
                raise ChainUnavailable(f"{self.network} {self.mode} node answered no block at its head")
        return ref

    def block(self, number: int) -> BlockRef | None:
        block = self._block(number, {**BLOCK_CONFIG, "transactionDetails": "none"})
        if block is None:
            return None
        if block == "skipped":
            return BlockRef(number=number, hash="", timestamp=0)
        return self._ref(number, block)

    def scan(self, *, from_block: int, to_block: int, watch: Watch) -> list[Observed]:
        check_block_range(from_block, to_block)
        if not watch.addresses:
            return []
        slots = self._slots(self._call("getBlocks", from_block, to_block, {"commitment": COMMITMENT}))
        found: list[Observed] = []
        previous: tuple[int, str] | None = None
        for slot in slots:
            if not from_block <= slot <= to_block:
                raise ChainUnavailable(f"{self.network} {self.mode} node answered slot {slot} "
                                       f"outside {from_block}..{to_block}")
            block = self._block(slot, BLOCK_CONFIG)
            if not isinstance(block, dict):
                raise ChainUnavailable(f"{self.network} {self.mode} node listed slot {slot} but has no block there")
            ref = self._ref(slot, block)
            try:
                if previous is not None and block["parentSlot"] == previous[0] \
                        and block["previousBlockhash"] != previous[1]:
                    raise ChainUnavailable(f"block {slot} does not follow block {previous[0]}: the chain changed")
                previous = (slot, ref.hash)
                for tx in block["transactions"]:
                    found.extend(self._transfers(tx, ref, watch))
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
                raise ChainUnavailable(f"{self.network} {self.mode} node answered a malformed block "
                                       f"{slot}: {error!r}") from error
        return found

    # -- sending (settlements) -------------------------------------------------------------

    def send_raw(self, raw: bytes) -> str:
        """Broadcast signed wire bytes; their signature. Already processed is success."""
        signature = str(VersionedTransaction.from_bytes(raw).signatures[0])
        try:
            self._call("sendTransaction", base64.b64encode(raw).decode(),
                       {"encoding": "base64", "preflightCommitment": BUILD_COMMITMENT})
        except ChainUnavailable as error:
            cause = error.__cause__
            if not isinstance(cause, JsonRpcError) or cause.code not in (SEND_TRANSACTION_PREFLIGHT_FAILURE,
                                                                          INVALID_PARAMS):
                raise
            err = cause.data.get("err") if isinstance(cause.data, dict) else None
            if err == "AlreadyProcessed":
                return signature
            raise SendRefused(str(cause), err) from None
        return signature

    def signature_status(self, signature: str) -> SignatureStatus | None:
        answer = self._call("getSignatureStatuses", [signature], {"searchTransactionHistory": True})
        try:
            [status] = answer["value"]
            if status is None:
                return None
            confirmations = status["confirmations"]
            return SignatureStatus(slot=self._slot(status["slot"], "status slot"),
                                   confirmations=None if confirmations is None else _int(confirmations),
                                   confirmation_status=str(status.get("confirmationStatus") or "processed"),
                                   err=status.get("err"))
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad signature status: "
                                   f"{error!r}") from error

    def transaction(self, signature: str) -> TxMeta | None:
        tx = self._call("getTransaction", signature, {"encoding": "json", "maxSupportedTransactionVersion": 0,
                                                      "commitment": BUILD_COMMITMENT})
        if tx is None:
            return None
        try:
            meta = tx["meta"]
            listed = tx["transaction"]["message"]["accountKeys"]
            keys = [key if isinstance(key, str) else key["pubkey"] for key in listed]
            return TxMeta(slot=self._slot(tx["slot"], "transaction slot"), fee=_int(meta["fee"]), err=meta.get("err"),
                          account_keys=keys, pre_balances=[_int(b) for b in meta["preBalances"]],
                          post_balances=[_int(b) for b in meta["postBalances"]],
                          token_account_indexes=frozenset(int(entry["accountIndex"])
                                                          for entry in meta.get("postTokenBalances") or ()))
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad transaction: {error!r}") from error

    def lamports(self, address: str) -> int:
        return self._value_int(self._call("getBalance", address, {"commitment": BUILD_COMMITMENT}), "getBalance")

    def account(self, address: str) -> AccountInfo | None:
        answer = self._call("getAccountInfo", address, {"encoding": "base64", "commitment": BUILD_COMMITMENT})
        try:
            value = answer["value"]
            if value is None:
                return None
            return AccountInfo(lamports=_int(value["lamports"]), owner=str(value["owner"]),
                               space=len(base64.b64decode(value["data"][0])))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad account: {error!r}") from error

    def token_balance(self, token_account: str) -> tuple[int, int] | None:
        """(base units, decimals) of a token account; None when it does not exist."""
        try:
            answer = self._call("getTokenAccountBalance", token_account, {"commitment": BUILD_COMMITMENT})
        except ChainUnavailable as error:
            cause = error.__cause__
            if isinstance(cause, JsonRpcError) and cause.code == INVALID_PARAMS and self.account(token_account) is None:
                return None  # "could not find account"
            raise
        try:
            return _amount({"uiTokenAmount": answer["value"]}), _int(answer["value"]["decimals"])
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad token balance: "
                                   f"{error!r}") from error

    def rent_minimum(self, size: int) -> int:
        """The lamports an account of `size` data bytes must hold (0 bytes: 890,880 on every
        cluster; a token account, 165 bytes: 2,039,280)."""
        value = self._call("getMinimumBalanceForRentExemption", size)
        try:
            return _int(value)
        except ValueError as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad rent: {value!r}") from error

    def fee_for_message(self, message: bytes) -> int | None:
        """The fee of a message in lamports; None when its blockhash is no longer valid."""
        answer = self._call("getFeeForMessage", base64.b64encode(message).decode(), {"commitment": BUILD_COMMITMENT})
        try:
            value = answer["value"]
            return None if value is None else _int(value)
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad fee: {error!r}") from error

    def latest_blockhash(self) -> tuple[str, int]:
        """(blockhash, lastValidBlockHeight): a transaction referencing it lands in a block of
        height lastValidBlockHeight or below, or never."""
        answer = self._call("getLatestBlockhash", {"commitment": BUILD_COMMITMENT})
        try:
            value = answer["value"]
            blockhash = value["blockhash"]
            if not isinstance(blockhash, str) or not 32 <= len(blockhash) <= 44:
                raise ValueError(f"blockhash {blockhash!r}")
            return blockhash, _int(value["lastValidBlockHeight"])
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad blockhash: {error!r}") from error

    def block_height(self) -> int:
        """The finalized block height (what says a blockhash expired for good)."""
        return self._slot(self._call("getBlockHeight", {"commitment": COMMITMENT}), "getBlockHeight")

    def finalized_slot(self) -> int:
        return self._slot(self._call("getSlot", {"commitment": COMMITMENT}), "getSlot")

    def _value_int(self, answer: Any, what: str) -> int:
        try:
            return _int(answer["value"])
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad {what}: {error!r}") from error

    # -- reading a transaction --------------------------------------------------------------

    def _transfers(self, tx: dict, ref: BlockRef, watch: Watch) -> list[Observed]:
        meta = tx["meta"]
        if meta is None:
            raise ValueError("transaction without meta")
        if meta.get("err") is not None:
            return []
        message = tx["transaction"]["message"]
        loaded = meta.get("loadedAddresses") or {}
        keys = [*message["accountKeys"], *loaded.get("writable", ()), *loaded.get("readonly", ())]
        keys = [key if isinstance(key, str) else key["pubkey"] for key in keys]  # json or jsonParsed
        signature = tx["transaction"]["signatures"][0]
        if not isinstance(signature, str) or not signature:
            raise ValueError(f"bad signature {signature!r}")
        fee_payer = keys[0]
        pre, post = meta["preBalances"], meta["postBalances"]
        if not len(pre) == len(post) == len(keys):
            raise ValueError("balances do not match the account keys")
        found = []
        for index, key in enumerate(keys):
            if key in watch.addresses:
                received = _int(post[index]) - _int(pre[index])
                if received > 0:
                    found.append(Observed(
                        tx_hash=signature, index=index, to_address=key, asset=self.native_asset,
                        amount_base_units=received, sender=fee_payer, block_number=ref.number, block_hash=ref.hash))
        if not watch.tokens:
            return found
        pre_tokens = {entry["accountIndex"]: entry for entry in meta.get("preTokenBalances") or ()}
        post_tokens = meta.get("postTokenBalances") or ()
        for entry in post_tokens:
            owner, mint = entry.get("owner"), entry["mint"]
            if owner not in watch.addresses or mint not in watch.tokens:
                continue
            index = entry["accountIndex"]
            before = pre_tokens.get(index)
            received = _amount(entry) - (_amount(before) if before is not None else 0)
            if received <= 0:
                continue
            found.append(Observed(
                tx_hash=signature, index=index, to_address=owner, asset=watch.tokens[mint],
                amount_base_units=received, sender=self._token_sender(pre_tokens, post_tokens, mint) or fee_payer,
                block_number=ref.number, block_hash=ref.hash))
        return found

    @staticmethod
    def _token_sender(pre_tokens: dict[int, dict], post_tokens: Any, mint: str) -> str | None:
        after = {entry["accountIndex"]: entry for entry in post_tokens}
        for index, before in pre_tokens.items():
            if before["mint"] == mint and index in after and _amount(after[index]) < _amount(before):
                return before.get("owner") or None
        return None

    # -- helpers ----------------------------------------------------------------------------

    def _call(self, method: str, *params: Any) -> Any:
        return self._json_rpc(method, list(params))

    def _block(self, slot: int, config: dict) -> dict | str | None:
        """getBlock's answer; "skipped" for a slot without a block, None past the head."""
        if isinstance(slot, bool) or not isinstance(slot, int) or slot < 0:
            raise ValueError(f"Bad block number {slot!r}")
        try:
            block = self._call("getBlock", slot, config)
        except ChainUnavailable as error:
            code = error.__cause__.code if isinstance(error.__cause__, JsonRpcError) else None
            if code in PAST_HEAD:
                return None
            if code in SKIPPED:
                return "skipped"
            raise
        if block is None:  # some nodes answer null for a slot they have no block for yet
            return None
        if not isinstance(block, dict):
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad block for slot {slot}")
        return block

    def _ref(self, slot: int, block: dict) -> BlockRef:
        try:
            blockhash, time = block["blockhash"], block["blockTime"]
            if not isinstance(blockhash, str) or not 32 <= len(blockhash) <= 44:
                raise ValueError(f"blockhash {blockhash!r}")
            return BlockRef(number=slot, hash=blockhash, timestamp=int(time) if time is not None else 0)
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad block {slot}: {error!r}") from error

    def _slot(self, value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad {what}: {value!r}")
        return value

    def _slots(self, value: Any) -> list[int]:
        if not isinstance(value, list):
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad getBlocks: {value!r}")
        return sorted(self._slot(slot, "getBlocks slot") for slot in value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"lamports {value!r} is not an integer")
    return value


def _amount(entry: dict) -> int:
    """A token balance's raw amount (`uiTokenAmount.amount`, an integer string)."""
    text = entry["uiTokenAmount"]["amount"]
    if not isinstance(text, str) or not text.isdigit():
        raise ValueError(f"token amount {text!r} is not an integer string")
    return int(text)
