"""A local Solana JSON-RPC endpoint for tests, backed by LiteSVM (`solders.litesvm`).

A Solana validator (`solana-test-validator`, Agave) cannot run here, so this module stands in
for one. Execution is real: every transaction is signed by the test, then executed by LiteSVM,
which runs the real System program and the real SPL Token and Associated Token Account
programs (LiteSVM loads them by default), charges fees, and refuses what a validator refuses
(bad signatures, insufficient funds, a token transfer above the balance). What LiteSVM does
not have is a ledger: it has no blocks, slots of transactions or RPC. This module adds that
part: executed transactions are collected into the open block, `produce_block()` seals it
(a fresh blockhash from `expire_blockhash`, the clock warped to the next slot with
`warp_to_slot`), and a small HTTP JSON-RPC server (http.server, 127.0.0.1, a free port, a
daemon thread) answers from those blocks in the shapes of the documented Solana JSON-RPC API:

    getSlot, getBlockHeight, getBlock, getBlocks, getLatestBlockhash, getBalance, getHealth,
    getVersion, sendTransaction, getSignatureStatuses, getTransaction, getAccountInfo,
    getTokenAccountBalance, getMinimumBalanceForRentExemption, getFeeForMessage

(the settlement methods follow the documented shapes: getSignatureStatuses answers
`{context, value: [null | {slot, confirmations, err, status, confirmationStatus}]}`: a
transaction in the open block is "processed" (confirmations 0), one in a sealed block
"finalized" (confirmations null); getTransaction `{slot, blockTime, meta, transaction,
version}` or null; getAccountInfo `{context, value: null | {lamports, owner, data: [base64,
"base64"], executable, rentEpoch, space}}` (base64 encoding only); getTokenAccountBalance
`{context, value: {amount, decimals, uiAmount, uiAmountString}}`, an error -32602 for an account
that is missing or not a token account; getMinimumBalanceForRentExemption the lamports;
getFeeForMessage `{context, value: fee | null}` (null once the message's blockhash expired).)

Tests take it from the `local_solana` fixture (testing/fixtures.py: one server per session,
reset() to a fresh chain for every test):

    def test_something(local_solana):
        sol = local_solana
        sol.url                              # http://127.0.0.1:<port>
        payer = sol.funded_keypair(10**10)   # airdrop (not recorded in a block)
        sol.send(transaction)                # executed now; in the block produce_block() seals
        sol.produce_block(skip=2)            # seal; the next 2 slots are skipped (no block)
        sol.latest_blockhash                 # what a new transaction should reference

Simplifications, stated: there is one node, so a sealed block is finalized at once (a real
cluster finalizes ~32 slots behind its tip) and every commitment level answers the same.
Transaction `meta` carries real pre/post lamport balances and pre/post token balances (read
from the accounts before and after execution), the real fee, error and logs; it leaves
`innerInstructions` and `rewards` empty. `jsonParsed` renders account keys as objects like a
validator does, but leaves every instruction in the unparsed form (`programId`, `accounts`,
`data`) a validator uses for programs it cannot parse. Only legacy and v0 transactions
without address lookup tables are accepted. A transaction LiteSVM refuses before execution
(bad blockhash or signature, fee payer cannot pay) is not put in a block: a validator would
not include it either; one that fails during execution is, with its `meta.err`.

Blockhashes as a validator keeps them: LiteSVM by itself accepts only its latest blockhash
(one `produce_block` would expire every transaction signed before it), so its own check is off
and this module checks instead: a transaction's recent blockhash must be the blockhash of a
sealed block at height h while the open block's height is at most h + 150, the
`lastValidBlockHeight` getLatestBlockhash announces; otherwise it is refused with
`BlockhashNotFound` and not included. A signature already executed is refused with
`AlreadyProcessed` (LiteSVM's transaction history). sendTransaction answers a refusal like a
validator's preflight: error -32002 "Transaction simulation failed: ..." with `data.err`
(e.g. "AlreadyProcessed", "BlockhashNotFound").

Fault injection for adapter tests: `sol.fault = "http500" | "garbage" | "rpc-error"` makes
every answer fail that way; `sol.tamper[method] = fn(result) -> result` rewrites answers;
`sol.lose_sends = True` makes sendTransaction answer a transaction's signature as if accepted
and then forget it (a leader that drops it): it is not executed and never lands, so its
blockhash can expire (the settlement tests' replacement case).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from http.server import ThreadingHTTPServer
from typing import Any, Callable

from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import from_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from chains.networks import get_network
from testing.httpserver import QuietHandler, start_server, stop_server

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM_ID = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
MAINNET_GENESIS_HASH = get_network("solana").live_identity
DEVNET_GENESIS_HASH = "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG"
TOKEN_ACCOUNT_LEN = 165  # SPL token account: mint 32, owner 32, amount u64, ...
MAX_SLOT_RANGE = 500_000  # getBlocks' limit on a validator

# Documented JSON-RPC error codes (agave rpc-client-api custom_error.rs).
BLOCK_CLEANED_UP = -32001
BLOCK_NOT_AVAILABLE = -32004
SLOT_SKIPPED = -32007
LONG_TERM_STORAGE_SLOT_SKIPPED = -32009
UNSUPPORTED_TRANSACTION_VERSION = -32015
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
PARSE_ERROR = -32700

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


MAX_PROCESSING_AGE = 150  # blocks a blockhash stays usable (solana-sdk MAX_PROCESSING_AGE)
LAMPORTS_PER_SIGNATURE = 5000  # the default fee rate, what LiteSVM charges
SEND_TRANSACTION_PREFLIGHT_FAILURE = -32002
# How a validator words the refusals tests meet (solana-sdk TransactionError's Display).
_ERROR_TEXT = {"AlreadyProcessed": "This transaction has already been processed",
               "BlockhashNotFound": "Blockhash not found"}


class LocalSolanaError(Exception):
    def __init__(self, message: str, err: Any = None):
        super().__init__(message)
        self.err = err


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def _ui_amount_string(amount: int, decimals: int) -> str:
    text = format(Decimal(amount).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass
class _Tx:
    version: str | int  # "legacy" or 0
    signatures: list[str]
    account_keys: list[str]
    header: dict[str, int]
    instructions: list[dict[str, Any]]
    recent_blockhash: str
    meta: dict[str, Any]


class LocalSolana:
    def __init__(self, *, first_slot: int = 1000):
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.reset(first_slot=first_slot)

    def reset(self, *, first_slot: int = 1000) -> None:
        """Back to a fresh chain: a new LiteSVM, one block at `first_slot`, no faults or
        tampering (the server keeps its port; a session-wide server is reset for every test)."""
        with self._lock:
            self.svm = LiteSVM().with_blockhash_check(False)  # checked here, see the docstring
            self.first_slot = first_slot
            self.slot = first_slot  # the open block's slot
            self.svm.warp_to_slot(first_slot)
            self.blocks: dict[int, dict[str, Any]] = {}  # sealed blocks by slot
            self._open: list[_Tx] = []
            self._blockhash_heights: dict[str, int] = {}  # blockhash -> height of the block that made it
            self._signatures: dict[str, tuple[int | None, _Tx]] = {}  # -> (slot, None while open; tx)
            self.lose_sends = False
            self._previous_hash = str(self.svm.latest_blockhash())
            self._previous_slot = first_slot - 1
            self.fault: str | None = None
            # The chain this server says it is: mainnet-beta's genesis hash by default, as the
            # stand-in of a mainnet node in live-mode tests; a test sets another to be refused.
            self.genesis_hash = MAINNET_GENESIS_HASH
            self.tamper: dict[str, Callable[[Any], Any]] = {}
            self.produce_block()  # a first block, so there is a head

    # -- the chain -----------------------------------------------------------------------

    @property
    def latest_blockhash(self) -> Hash:
        with self._lock:
            return self.svm.latest_blockhash()

    @property
    def head(self) -> int:
        """The newest sealed (finalized) slot."""
        with self._lock:
            return max(self.blocks)

    def funded_keypair(self, lamports: int = 10**10) -> Keypair:
        keypair = Keypair()
        self.airdrop(keypair.pubkey(), lamports)
        return keypair

    def airdrop(self, pubkey: Pubkey, lamports: int) -> None:
        """Lamports from LiteSVM's faucet; not recorded in a block (tests fund with it)."""
        with self._lock:
            result = self.svm.airdrop(pubkey, lamports)
            if isinstance(result, FailedTransactionMetadata):
                raise LocalSolanaError(f"airdrop failed: {result.err()}")

    def balance(self, pubkey: Pubkey) -> int:
        with self._lock:
            account = self.svm.get_account(pubkey)
            return account.lamports if account is not None else 0

    def send(self, tx: Transaction | VersionedTransaction) -> str:
        """Execute a signed transaction now and put it in the open block; its signature.
        Raises LocalSolanaError when LiteSVM refuses it before execution (not included)."""
        message = tx.message
        if getattr(message, "address_table_lookups", None):
            raise LocalSolanaError("address lookup tables are not supported here")
        keys = list(message.account_keys)
        version: str | int = 0 if isinstance(tx, VersionedTransaction) and not _is_legacy(tx) else "legacy"
        with self._lock:
            if not self.blockhash_valid(str(message.recent_blockhash)):
                raise LocalSolanaError("transaction refused: BlockhashNotFound", err="BlockhashNotFound")
            pre = [self.balance(key) for key in keys]
            pre_tokens = self._token_balances(keys)
            result = self.svm.send_transaction(tx)
            post = [self.balance(key) for key in keys]
            post_tokens = self._token_balances(keys)
            if isinstance(result, FailedTransactionMetadata):
                err = json.loads(result.to_json())["err"]
                executed = result.meta()
                if pre[0] == post[0]:  # no fee charged: refused before execution, never in a block
                    raise LocalSolanaError(f"transaction refused: {err}", err=err)
            else:
                err, executed = None, result
            header = message.header
            record = _Tx(
                version=version,
                signatures=[str(s) for s in tx.signatures],
                account_keys=[str(k) for k in keys],
                header={"numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                        "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
                        "numRequiredSignatures": header.num_required_signatures},
                instructions=[{"accounts": list(ix.accounts), "data": b58encode(bytes(ix.data)),
                               "programIdIndex": ix.program_id_index, "stackHeight": None}
                              for ix in message.instructions],
                recent_blockhash=str(message.recent_blockhash),
                meta={
                    "computeUnitsConsumed": executed.compute_units_consumed(),
                    "err": err,
                    "fee": executed.fee(),
                    "innerInstructions": [],
                    "loadedAddresses": {"readonly": [], "writable": []},
                    "logMessages": list(executed.logs()),
                    "postBalances": post,
                    "postTokenBalances": post_tokens,
                    "preBalances": pre,
                    "preTokenBalances": pre_tokens,
                    "rewards": [],
                    "status": {"Ok": None} if err is None else {"Err": err},
                },
            )
            self._open.append(record)
            self._signatures[record.signatures[0]] = (None, record)
            return record.signatures[0]

    def blockhash_valid(self, blockhash: str) -> bool:
        """Whether a transaction referencing `blockhash` may still go in the open block."""
        with self._lock:
            height = self._blockhash_heights.get(blockhash)
            return height is not None and len(self.blocks) <= height + MAX_PROCESSING_AGE

    @property
    def block_height(self) -> int:
        """The newest sealed block's height (getBlockHeight)."""
        with self._lock:
            return self.blocks[self.head]["blockHeight"]

    def produce_block(self, *, skip: int = 0) -> int:
        """Seal the open block at the current slot (even when empty) and move to the next
        slot, leaving `skip` slots without a block; the sealed slot."""
        with self._lock:
            slot = self.slot
            self.svm.expire_blockhash()
            blockhash = str(self.svm.latest_blockhash())
            self.blocks[slot] = {
                "blockHeight": len(self.blocks),
                "blockTime": int(time.time()),
                "blockhash": blockhash,
                "parentSlot": self._previous_slot,
                "previousBlockhash": self._previous_hash,
                "transactions": self._open,
            }
            self._blockhash_heights[blockhash] = self.blocks[slot]["blockHeight"]
            for tx in self._open:
                self._signatures[tx.signatures[0]] = (slot, tx)
            self._open = []
            self._previous_slot, self._previous_hash = slot, blockhash
            self.slot = slot + 1 + skip
            self.svm.warp_to_slot(self.slot)
            return slot

    def produce_blocks(self, count: int) -> list[int]:
        return [self.produce_block() for _ in range(count)]

    def _token_balances(self, keys: list[Pubkey]) -> list[dict[str, Any]]:
        balances = []
        for index, key in enumerate(keys):
            account = self.svm.get_account(key)
            if (account is None or account.owner not in (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
                    or len(account.data) < TOKEN_ACCOUNT_LEN):
                continue
            data = bytes(account.data)
            mint = Pubkey.from_bytes(data[0:32])
            mint_account = self.svm.get_account(mint)
            decimals = bytes(mint_account.data)[44] if mint_account is not None else 0
            amount = int.from_bytes(data[64:72], "little")
            balances.append({
                "accountIndex": index,
                "mint": str(mint),
                "owner": str(Pubkey.from_bytes(data[32:64])),
                "programId": str(account.owner),
                "uiTokenAmount": {"amount": str(amount), "decimals": decimals,
                                  "uiAmount": float(Decimal(amount).scaleb(-decimals)),
                                  "uiAmountString": _ui_amount_string(amount, decimals)},
            })
        return balances

    # -- JSON-RPC ---------------------------------------------------------------------------

    def handle(self, method: str, params: list[Any]) -> Any:
        handler = getattr(self, "_rpc_" + method, None)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found")
        with self._lock:
            result = handler(*params)
        if method in self.tamper:
            result = self.tamper[method](json.loads(json.dumps(result)))
        return result

    def _rpc_getSlot(self, config: dict | None = None) -> int:
        return self.head

    def _rpc_getBlockHeight(self, config: dict | None = None) -> int:
        return self.block_height

    def _rpc_getHealth(self) -> str:
        return "ok"

    def _rpc_getGenesisHash(self) -> str:
        return self.genesis_hash

    def _rpc_getVersion(self) -> dict:
        return {"feature-set": 0, "solana-core": "fluxa-litesvm-local"}

    def _rpc_getLatestBlockhash(self, config: dict | None = None) -> dict:
        return {"context": {"slot": self.head},
                "value": {"blockhash": str(self.svm.latest_blockhash()),
                          "lastValidBlockHeight": self.blocks[self.head]["blockHeight"] + 150}}

    def _rpc_getBalance(self, pubkey: str, config: dict | None = None) -> dict:
        return {"context": {"slot": self.head}, "value": self.balance(_pubkey(pubkey))}

    def _rpc_sendTransaction(self, encoded: str, config: dict | None = None) -> str:
        encoding = (config or {}).get("encoding", "base58")
        if encoding != "base64":
            raise RpcError(INVALID_PARAMS, "only base64 encoding is supported here")
        try:
            tx = VersionedTransaction.from_bytes(base64.b64decode(encoded))
        except Exception as error:  # noqa: BLE001 - any decoding failure is the caller's
            raise RpcError(INVALID_PARAMS, f"failed to deserialize transaction: {error}") from None
        if self.lose_sends:  # fault injection: answered as accepted, then dropped
            return str(tx.signatures[0])
        try:
            return self.send(tx)
        except LocalSolanaError as error:
            text = _ERROR_TEXT.get(error.err, str(error)) if isinstance(error.err, str) else str(error)
            raise RpcError(SEND_TRANSACTION_PREFLIGHT_FAILURE, f"Transaction simulation failed: {text}",
                           {"err": error.err, "logs": [], "accounts": None, "unitsConsumed": 0}) from None

    def _rpc_getSignatureStatuses(self, signatures: list, config: dict | None = None) -> dict:
        if not isinstance(signatures, list) or len(signatures) > 256:
            raise RpcError(INVALID_PARAMS, "Invalid params: a list of at most 256 signatures")
        value = []
        for signature in signatures:
            found = self._signatures.get(signature)
            if found is None:
                value.append(None)
                continue
            slot, tx = found
            err = tx.meta["err"]
            value.append({
                "slot": self.slot if slot is None else slot,
                "confirmations": 0 if slot is None else None,  # null: rooted (finalized)
                "err": err, "status": {"Ok": None} if err is None else {"Err": err},
                "confirmationStatus": "processed" if slot is None else "finalized",
            })
        return {"context": {"slot": self.head}, "value": value}

    def _rpc_getTransaction(self, signature: str, config: dict | str | None = None) -> dict | None:
        if isinstance(config, str):
            config = {"encoding": config}
        config = config or {}
        encoding = config.get("encoding", "json")
        if encoding not in ("json", "jsonParsed"):
            raise RpcError(INVALID_PARAMS, "Invalid params: unsupported encoding here")
        found = self._signatures.get(signature)
        if found is None or found[0] is None:  # unknown, or only processed (not confirmed) yet
            return None
        slot, tx = found
        max_version = config.get("maxSupportedTransactionVersion")
        if tx.version != "legacy" and (max_version is None or tx.version > max_version):
            raise RpcError(UNSUPPORTED_TRANSACTION_VERSION,
                           f"Transaction version ({tx.version}) is not supported by the requesting client.")
        rendered = self._render(tx, encoding, max_version is not None)
        return {"slot": slot, "blockTime": self.blocks[slot]["blockTime"], **rendered}

    def _rpc_getAccountInfo(self, pubkey: str, config: dict | None = None) -> dict:
        encoding = (config or {}).get("encoding", "base64")
        if encoding != "base64":
            raise RpcError(INVALID_PARAMS, "only base64 encoding is supported here")
        account = self.svm.get_account(_pubkey(pubkey))
        if account is None or account.lamports == 0:
            return {"context": {"slot": self.head}, "value": None}
        data = bytes(account.data)
        return {"context": {"slot": self.head}, "value": {
            "lamports": account.lamports, "owner": str(account.owner),
            "data": [base64.b64encode(data).decode(), "base64"], "executable": account.executable,
            "rentEpoch": account.rent_epoch, "space": len(data)}}

    def _rpc_getTokenAccountBalance(self, pubkey: str, config: dict | None = None) -> dict:
        key = _pubkey(pubkey)
        account = self.svm.get_account(key)
        if account is None or account.lamports == 0:
            raise RpcError(INVALID_PARAMS, "Invalid param: could not find account")
        [entry] = self._token_balances([key]) or [None]
        if entry is None:
            raise RpcError(INVALID_PARAMS, "Invalid param: not a Token account")
        return {"context": {"slot": self.head}, "value": entry["uiTokenAmount"]}

    def _rpc_getMinimumBalanceForRentExemption(self, size: int, config: dict | None = None) -> int:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise RpcError(INVALID_PARAMS, "Invalid params: the data size must be a non-negative integer")
        return self.svm.minimum_balance_for_rent_exemption(size)

    def _rpc_getFeeForMessage(self, encoded: str, config: dict | None = None) -> dict:
        """The documented answer: the fee in lamports, null when the message's blockhash can no
        longer be used. The rate is LiteSVM's: 5,000 lamports per signature (compute-budget
        priority fees are not read here)."""
        try:
            message = from_bytes_versioned(base64.b64decode(encoded))
        except Exception as error:  # noqa: BLE001 - any decoding failure is the caller's
            raise RpcError(INVALID_PARAMS, f"failed to deserialize message: {error}") from None
        fee = None
        if self.blockhash_valid(str(message.recent_blockhash)):
            fee = LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures
        return {"context": {"slot": self.head}, "value": fee}

    def _rpc_getBlocks(self, start: int, end: int | None = None, config: dict | None = None) -> list[int]:
        if isinstance(end, dict):
            end, config = None, end
        if not isinstance(start, int) or (end is not None and not isinstance(end, int)):
            raise RpcError(INVALID_PARAMS, "Invalid params: slots must be integers")
        end = self.head if end is None else min(end, self.head)
        if end - start > MAX_SLOT_RANGE:
            raise RpcError(INVALID_PARAMS, f"Slot range too large; max {MAX_SLOT_RANGE}")
        return sorted(slot for slot in self.blocks if start <= slot <= end)

    def _rpc_getBlock(self, slot: int, config: dict | str | None = None) -> dict:
        if isinstance(config, str):
            config = {"encoding": config}
        config = config or {}
        if not isinstance(slot, int) or slot < 0:
            raise RpcError(INVALID_PARAMS, "Invalid params: slot must be a non-negative integer")
        encoding = config.get("encoding", "json")
        details = config.get("transactionDetails", "full")
        if encoding not in ("json", "jsonParsed") or details not in ("full", "signatures", "none"):
            raise RpcError(INVALID_PARAMS, "Invalid params: unsupported encoding or transactionDetails here")
        max_version = config.get("maxSupportedTransactionVersion")
        block = self.blocks.get(slot)
        if block is None:
            if slot > self.head:
                raise RpcError(BLOCK_NOT_AVAILABLE, f"Block not available for slot {slot}")
            if slot < self.first_slot:
                raise RpcError(LONG_TERM_STORAGE_SLOT_SKIPPED,
                               f"Slot {slot} was skipped, or missing in long-term storage")
            raise RpcError(SLOT_SKIPPED, f"Slot {slot} was skipped, or missing due to ledger jump to recent snapshot")
        answer = {key: value for key, value in block.items() if key != "transactions"}
        if config.get("rewards", True):
            answer["rewards"] = []
        txs: list[_Tx] = block["transactions"]
        for tx in txs:
            if tx.version != "legacy" and (max_version is None or tx.version > max_version):
                raise RpcError(UNSUPPORTED_TRANSACTION_VERSION,
                               f"Transaction version ({tx.version}) is not supported by the requesting client. "
                               "Please try the request again with the following configuration parameter: "
                               "\"maxSupportedTransactionVersion\": 0")
        if details == "signatures":
            answer["signatures"] = [tx.signatures[0] for tx in txs]
        elif details == "full":
            answer["transactions"] = [self._render(tx, encoding, max_version is not None) for tx in txs]
        return answer

    def _render(self, tx: _Tx, encoding: str, versioned: bool) -> dict:
        message: dict[str, Any] = {"header": tx.header, "recentBlockhash": tx.recent_blockhash}
        if encoding == "json":
            message["accountKeys"] = tx.account_keys
            message["instructions"] = tx.instructions
        else:
            count, h = len(tx.account_keys), tx.header
            signed = h["numRequiredSignatures"]
            message["accountKeys"] = [
                {"pubkey": key, "signer": i < signed, "source": "transaction",
                 "writable": (i < signed - h["numReadonlySignedAccounts"]) if i < signed
                 else (i < count - h["numReadonlyUnsignedAccounts"])}
                for i, key in enumerate(tx.account_keys)]
            message["instructions"] = [
                {"accounts": [tx.account_keys[a] for a in ix["accounts"]], "data": ix["data"],
                 "programId": tx.account_keys[ix["programIdIndex"]], "stackHeight": None}
                for ix in tx.instructions]
        if tx.version != "legacy":
            message["addressTableLookups"] = []
        rendered: dict[str, Any] = {"meta": tx.meta, "transaction": {"message": message, "signatures": tx.signatures}}
        if versioned:
            rendered["version"] = tx.version
        return rendered

    # -- the HTTP server --------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalSolana:
        local = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                self.reply(*local._answer(self.rfile.read(length)))

        self._server = start_server(Handler, name="local-solana-rpc")
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_server(self._server)
            self._server = None

    def __enter__(self) -> LocalSolana:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _answer(self, raw: bytes) -> tuple[int, bytes]:
        if self.fault == "http500":
            return 500, b"Internal Server Error"
        if self.fault == "garbage":
            return 200, b"<html>not json</html>"
        try:
            request = json.loads(raw)
        except ValueError:
            return 200, json.dumps({"jsonrpc": "2.0", "error": {"code": PARSE_ERROR, "message": "Parse error"},
                                    "id": None}).encode()
        if isinstance(request, list):
            return 200, json.dumps([self._one(item) for item in request]).encode()
        return 200, json.dumps(self._one(request)).encode()

    def _one(self, request: Any) -> dict:
        request_id = request.get("id") if isinstance(request, dict) else None
        try:
            if self.fault == "rpc-error":
                raise RpcError(-32603, "Internal error")
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                raise RpcError(-32600, "Invalid request")
            params = request.get("params") or []
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "Invalid params")
            try:
                result = self.handle(request["method"], params)
            except TypeError as error:
                raise RpcError(INVALID_PARAMS, f"Invalid params: {error}") from None
            return {"jsonrpc": "2.0", "result": result, "id": request_id}
        except RpcError as error:
            body = {"code": error.code, "message": error.message}
            if error.data is not None:
                body["data"] = error.data
            return {"jsonrpc": "2.0", "error": body, "id": request_id}


def _is_legacy(tx: VersionedTransaction) -> bool:
    from solders.message import Message

    return isinstance(tx.message, Message)


def _pubkey(text: Any) -> Pubkey:
    try:
        return Pubkey.from_string(text)
    except (ValueError, TypeError):
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid") from None


def start_local_solana(*, first_slot: int = 1000) -> LocalSolana:
    """A LocalSolana with its JSON-RPC server listening (use it as a context manager)."""
    return LocalSolana(first_slot=first_slot).start()


# -- transaction builders for tests: real, signed transactions --------------------------------


def transfer_sol(local: LocalSolana, payer: Keypair, to: Pubkey, lamports: int) -> str:
    """A System program transfer, signed by `payer`, sent; its signature."""
    from solders.system_program import TransferParams, transfer

    return local.send(_signed(local, payer, [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to,
                                                                      lamports=lamports))]))


def create_mint(local: LocalSolana, payer: Keypair, decimals: int = 6) -> Pubkey:
    """A new SPL token mint (mint authority: `payer`)."""
    from solders.system_program import CreateAccountParams, create_account
    from spl.token.instructions import initialize_mint
    from spl.token.models import InitializeMintParams

    mint = Keypair()
    space = 82
    rent = local.svm.minimum_balance_for_rent_exemption(space)
    instructions = [
        create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(), lamports=rent,
                                           space=space, owner=TOKEN_PROGRAM_ID)),
        initialize_mint(InitializeMintParams(decimals=decimals, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(),
                                             mint_authority=payer.pubkey(), freeze_authority=None)),
    ]
    local.send(_signed(local, payer, instructions, extra_signers=[mint]))
    return mint.pubkey()


def token_account(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The owner's associated token account for `mint`."""
    from spl.token.instructions import get_associated_token_address

    return get_associated_token_address(owner, mint)


def create_token_account_ix(payer: Keypair, owner: Pubkey, mint: Pubkey):
    from spl.token.instructions import create_idempotent_associated_token_account

    return create_idempotent_associated_token_account(payer.pubkey(), owner, mint)


def mint_to(local: LocalSolana, authority: Keypair, mint: Pubkey, owner: Pubkey, amount: int) -> str:
    """Create `owner`'s associated token account (idempotent) and mint `amount` base units to it."""
    from spl.token.instructions import mint_to as mint_to_ix
    from spl.token.models import MintToParams

    return local.send(_signed(local, authority, [
        create_token_account_ix(authority, owner, mint),
        mint_to_ix(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint, dest=token_account(owner, mint),
                                mint_authority=authority.pubkey(), amount=amount)),
    ]))


def transfer_token(local: LocalSolana, sender: Keypair, mint: Pubkey, to_owner: Pubkey, amount: int,
                   decimals: int = 6, *, create: bool = True) -> str:
    """`transfer_checked` from the sender's associated token account to `to_owner`'s (created
    first, idempotently, when `create`), signed and paid by the sender."""
    from spl.token.instructions import transfer_checked
    from spl.token.models import TransferCheckedParams

    instructions = [create_token_account_ix(sender, to_owner, mint)] if create else []
    instructions.append(transfer_checked(TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID, source=token_account(sender.pubkey(), mint), mint=mint,
        dest=token_account(to_owner, mint), owner=sender.pubkey(), amount=amount, decimals=decimals)))
    return local.send(_signed(local, sender, instructions))


def _signed(local: LocalSolana, payer: Keypair, instructions: list, extra_signers: list[Keypair] = ()) -> Transaction:
    from solders.message import Message

    return Transaction([payer, *extra_signers], Message(instructions, payer.pubkey()), local.latest_blockhash)
