"""A stand-in for an XRP Ledger node (rippled) in tests: **no rippled can run here**, so this
small local HTTP server answers the documented JSON-RPC shapes of the few rippled methods
fluxa's XRP Ledger adapter (chains/adapters/xrpl.py) calls, over an in-memory ledger history.

It is not a ledger implementation. What is real and what is not:

* Real: the transactions. Tests build `Payment`s with xrpl-py and sign them with a real
  `xrpl.wallet.Wallet` (`xrpl.transaction.sign`); `submit` takes the signed blob, decodes it
  with xrpl-py's binary codec, **checks the signature** (`keypairs.is_valid_message` over the
  signing encoding, and that the signing key belongs to `Account`) and computes the real
  transaction hash (SHA-512Half of "TXN\\0" + blob).
* Accounts the test funds (`fund(address, drops)`) are kept: their XRP balance, Sequence,
  OwnerCount and Flags (lsfRequireDestTag), as of the newest validated ledger. A transaction
  from such an account is checked as rippled would on submit (signature, Sequence against the
  account's next one: tefPAST_SEQ / terPRE_SEQ, LastLedgerSequence already passed:
  tefMAX_LEDGER, a fee below the base fee: telINSUF_FEE_P, a duplicate: tefALREADY) and
  applied when its ledger closes: the Fee is burnt, the Sequence consumed, and an XRP Payment
  moves its Amount unless it would take the sender below its reserve (base + OwnerCount x
  increment: tecUNFUNDED_PAYMENT), the destination needs a tag it lacks (tecDST_TAG_NEEDED),
  or it would create an account with less than the base reserve (tecNO_DST_INSUF_XRP). A
  transaction whose LastLedgerSequence passes before it got into a ledger is dropped, never
  included. The reserves are the fake's `reserve_base` / `reserve_inc` (drops), reported by
  server_info.
* Not real: the payment engine beyond that. For a sender the test did not fund, a
  transaction's outcome (`meta.TransactionResult`) and `meta.delivered_amount` are what the
  test says (`submit(blob, result=..., delivered=...)`), by default tesSUCCESS delivering
  `Amount`. That is how a test produces a partial payment whose `Amount` is large while it
  delivers little (on the real ledger such a payment needs a cross-currency path; the adapter
  must only ever read `delivered_amount`). No paths, no issued currencies, no fee escalation.
* Ledgers close when the test calls `close_ledger()` (or sends rippled's standalone-mode
  admin method `ledger_accept`); every closed ledger is validated at once.

Methods answered (rippled API version 1 shapes, JSON-RPC over HTTP POST `{"method": ...,
"params": [{...}]}` -> `{"result": {..., "status": "success" | "error"}}`):

* `ledger` with `ledger_index` "validated" / "current" / "closed" / a number (`lgrNotFound`
  past the newest ledger), and `transactions` + `expand`;
* `account_tx` with `ledger_index_min`/`ledger_index_max`, `forward`, `limit`, `marker`
  (`actNotFound` for an account no validated transaction touched);
* `submit` with `tx_blob` (engine_result as above); `tx` by hash (validated, ledger_index,
  meta; `txnNotFound` with `searched_all` when min_ledger/max_ledger are inside the history);
  `account_info` (validated; `actNotFound`); `fee` (drops); `ledger_accept`; `server_info`
  (server_state, validated_ledger with seq, hash, base_fee_xrp, reserve_base_xrp,
  reserve_inc_xrp).

Tests take it from the `xrpl_fake` fixture (testing/fixtures.py: one server per session,
reset() to a fresh history for every test):

    def test_something(xrpl_fake):
        node = xrpl_fake
        node.url                                  # http://127.0.0.1:<port>/
        txid = node.submit(signed.blob())          # checks the signature, queues it
        node.close_ledger()                        # a new validated ledger holding the queue
        node.fail_next = 3                         # the next 3 requests answer HTTP 503
        node.fund(address, 50_000_000)             # a kept account holding 50 XRP
        node.include = False                       # closed ledgers take nothing (a stuck queue)
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Iterator

from xrpl.core import binarycodec, keypairs

from testing.httpserver import QuietHandler, serve, url_of

RIPPLE_EPOCH = 946684800  # 2000-01-01T00:00:00Z: XRP Ledger times count seconds from here
TF_PARTIAL_PAYMENT = 0x00020000
LSF_REQUIRE_DEST_TAG = 0x00020000
FIRST_LEDGER = 2  # a fresh rippled's first closed ledger is 2 (the genesis is 1)


class XrplFakeError(RuntimeError):
    pass


@dataclass
class Ledger:
    index: int
    hash: str
    parent_hash: str
    close_time: int  # Ripple epoch seconds
    transactions: list[dict] = field(default_factory=list)  # {"tx": {...}, "meta": {...}}


def _sha512half(data: bytes) -> str:
    return hashlib.sha512(data).digest()[:32].hex().upper()


class XrplFake:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        """Back to a fresh node: one empty ledger, no queue, no requests (the server keeps its
        port; a session-wide fake is reset for every test)."""
        with self.lock:
            self.ledgers: list[Ledger] = []
            self.queue: list[dict] = []
            self.fail_next = 0  # answer this many next requests with HTTP 503
            self.requests: list[dict] = []  # every JSON-RPC body received (tests read it)
            self.network_id: int | None = None  # a mainnet node by default (1: testnet, 2: devnet)
            self.server_state = "full"
            self.accounts: dict[str, dict[str, int]] = {}  # funded accounts, as of the validated ledger
            self.reserve_base = 1_000_000  # drops (1 XRP, the mainnet's since 2024)
            self.reserve_inc = 200_000
            self.base_fee = 10
            self.include = True  # False: ledgers close empty, the queue waits (until LastLedgerSequence)
        self.close_ledger()  # ledger 2: an empty history to start from

    # -- test-side API -------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        return url_of(self.server, "/")

    @property
    def validated(self) -> Ledger:
        return self.ledgers[-1]

    def fund(self, address: str, drops: int, *, flags: int = 0, owner_count: int = 0) -> None:
        """Credit a kept account (created at the next ledger's Sequence when new)."""
        with self.lock:
            account = self.accounts.setdefault(address, {"Balance": 0, "Sequence": self.validated.index + 1,
                                                         "OwnerCount": 0, "Flags": 0})
            account["Balance"] += drops
            account["Flags"] |= flags
            account["OwnerCount"] += owner_count

    def balance(self, address: str) -> int:
        with self.lock:
            return self.accounts.get(address, {}).get("Balance", 0)

    def find(self, tx_hash: str) -> tuple[Ledger | None, dict | None]:
        """(the ledger, the entry) holding a transaction; (None, entry) while queued."""
        for ledger in self.ledgers:
            for entry in ledger.transactions:
                if entry["tx"]["hash"] == tx_hash:
                    return ledger, entry
        for entry in self.queue:
            if entry["tx"]["hash"] == tx_hash:
                return None, entry
        return None, None

    def submit(self, blob: str, *, result: str = "tesSUCCESS", delivered: Any = None) -> str:
        """Queue a signed transaction for the next ledger; its hash. `result` and `delivered`
        (drops string or issued-currency dict; default `Amount`, none when the result is not
        tesSUCCESS) are the outcome the ledger will show for a sender the test did not fund.
        Raises XrplFakeError when the node would not take it."""
        engine_result, tx_hash = self.submit_blob(blob, result=result, delivered=delivered)
        if engine_result != "tesSUCCESS":
            raise XrplFakeError(engine_result)
        return tx_hash

    def submit_blob(self, blob: str, *, result: str = "tesSUCCESS", delivered: Any = None) -> tuple[str, str]:
        """(engine_result, hash), as rippled's submit answers."""
        tx = binarycodec.decode(blob)
        signature = tx.get("TxnSignature")
        public_key = tx.get("SigningPubKey")
        if not signature or not public_key:
            raise XrplFakeError("the transaction is not signed")
        unsigned = {k: v for k, v in tx.items() if k != "TxnSignature"}
        message = bytes.fromhex(binarycodec.encode_for_signing(unsigned))
        if not keypairs.is_valid_message(message, bytes.fromhex(signature), public_key):
            raise XrplFakeError("bad signature")
        if keypairs.derive_classic_address(public_key) != tx["Account"]:
            raise XrplFakeError("the signing key is not the account's")  # (no regular keys here)
        tx_hash = _sha512half(bytes.fromhex("54584E00") + bytes.fromhex(blob))
        with self.lock:
            ledger, entry = self.find(tx_hash)
            if entry is not None:
                return ("tefPAST_SEQ" if ledger is not None else "tefALREADY"), tx_hash
            sender = self.accounts.get(tx["Account"])
            if sender is not None:
                open_index = self.validated.index + 1
                next_sequence = sender["Sequence"] + sum(1 for e in self.queue if e["tx"]["Account"] == tx["Account"])
                if tx.get("LastLedgerSequence") is not None and tx["LastLedgerSequence"] < open_index:
                    return "tefMAX_LEDGER", tx_hash
                if tx["Sequence"] < next_sequence:
                    return "tefPAST_SEQ", tx_hash
                if tx["Sequence"] > next_sequence:
                    return "terPRE_SEQ", tx_hash
                if int(tx["Fee"]) < self.base_fee:
                    return "telINSUF_FEE_P", tx_hash
                meta: dict[str, Any] = {"AffectedNodes": []}  # the outcome is decided when the ledger closes
            else:
                meta = {"TransactionResult": result, "AffectedNodes": []}
                if tx.get("TransactionType") == "Payment" and result == "tesSUCCESS":
                    meta["delivered_amount"] = tx["Amount"] if delivered is None else delivered
            self.queue.append({"tx": {**tx, "hash": tx_hash}, "meta": meta})
        return "tesSUCCESS", tx_hash

    def _apply(self, entry: dict) -> None:
        """Apply a queued transaction to the kept accounts (at its ledger's close)."""
        tx, meta = entry["tx"], entry["meta"]
        sender = self.accounts.get(tx["Account"])
        if sender is None:  # a sender the test did not fund: the outcome the test chose
            if meta.get("TransactionResult") == "tesSUCCESS" and isinstance(meta.get("delivered_amount"), str):
                self._credit(tx["Destination"], int(meta["delivered_amount"]))
            return
        fee = int(tx["Fee"])
        sender["Balance"] -= min(fee, sender["Balance"])
        sender["Sequence"] += 1
        outcome = "tesSUCCESS"
        if tx.get("TransactionType") == "Payment" and isinstance(tx.get("Amount"), str):
            amount = int(tx["Amount"])
            destination = self.accounts.get(tx["Destination"])
            reserve = self.reserve_base + self.reserve_inc * sender["OwnerCount"]
            if destination is not None and destination["Flags"] & LSF_REQUIRE_DEST_TAG \
                    and tx.get("DestinationTag") is None:
                outcome = "tecDST_TAG_NEEDED"
            elif destination is None and amount < self.reserve_base:
                outcome = "tecNO_DST_INSUF_XRP"
            elif sender["Balance"] - amount < reserve:
                outcome = "tecUNFUNDED_PAYMENT"
            else:
                sender["Balance"] -= amount
                self._credit(tx["Destination"], amount)
                meta["delivered_amount"] = tx["Amount"]
        meta["TransactionResult"] = outcome

    def _credit(self, address: str, drops: int) -> None:
        account = self.accounts.setdefault(address, {"Balance": 0, "Sequence": self.validated.index + 1,
                                                     "OwnerCount": 0, "Flags": 0})
        account["Balance"] += drops

    def close_ledger(self) -> Ledger:
        """Close (and validate) a ledger holding the queued transactions, in queue order."""
        with self.lock:
            index = self.ledgers[-1].index + 1 if self.ledgers else FIRST_LEDGER
            parent = self.ledgers[-1].hash if self.ledgers else "0" * 64
            close_time = max(int(time.time()) - RIPPLE_EPOCH, (self.ledgers[-1].close_time + 1) if self.ledgers else 0)
            queued = [e for e in self.queue
                      if e["tx"].get("LastLedgerSequence") is None or e["tx"]["LastLedgerSequence"] >= index]
            if self.include:
                self.queue = []
            else:  # nothing gets in; what can still get in later waits
                queued, self.queue = [], queued
            for entry in queued:
                self._apply(entry)
            for position, entry in enumerate(queued):
                entry["meta"]["TransactionIndex"] = position
                entry["tx"]["ledger_index"] = index
                entry["tx"]["date"] = close_time
            body = json.dumps([index, parent, close_time, [e["tx"]["hash"] for e in queued]]).encode()
            ledger = Ledger(index=index, hash=_sha512half(body), parent_hash=parent, close_time=close_time,
                            transactions=queued)
            self.ledgers.append(ledger)
            return ledger

    # -- JSON-RPC ------------------------------------------------------------------------

    def handle(self, method: str, params: dict) -> dict:
        handler = getattr(self, f"_rpc_{method}", None)
        if handler is None:
            return {"status": "error", "error": "unknownCmd", "error_message": "Unknown method."}
        return handler(params)

    def _ledger_at(self, spec: Any) -> Ledger | None:
        if spec in (None, "validated", "closed", "current"):
            return self.ledgers[-1]
        if isinstance(spec, str) and spec.isdigit():
            spec = int(spec)
        if not isinstance(spec, int) or isinstance(spec, bool):
            raise ValueError("lgrIdxMalformed")
        first = self.ledgers[0].index
        if spec < first or spec > self.ledgers[-1].index:
            return None
        return self.ledgers[spec - first]

    def _rpc_ledger(self, params: dict) -> dict:
        try:
            ledger = self._ledger_at(params.get("ledger_index", "current"))
        except ValueError:
            return {"status": "error", "error": "invalidParams", "error_message": "ledgerIndexMalformed"}
        if ledger is None:
            return {"status": "error", "error": "lgrNotFound", "error_message": "ledgerNotFound"}
        header: dict[str, Any] = {
            "ledger_index": str(ledger.index), "ledger_hash": ledger.hash, "parent_hash": ledger.parent_hash,
            "close_time": ledger.close_time, "closed": True, "accepted": True,
        }
        if params.get("transactions"):
            if params.get("expand"):
                header["transactions"] = [{**e["tx"], "metaData": e["meta"]} for e in ledger.transactions]
            else:
                header["transactions"] = [e["tx"]["hash"] for e in ledger.transactions]
        return {"ledger": header, "ledger_hash": ledger.hash, "ledger_index": ledger.index, "validated": True,
                "status": "success"}

    def _rpc_account_tx(self, params: dict) -> dict:
        account = params.get("account")
        first, last = self.ledgers[0].index, self.ledgers[-1].index
        low = params.get("ledger_index_min", -1)
        high = params.get("ledger_index_max", -1)
        low = first if low == -1 else max(int(low), first)
        high = last if high == -1 else min(int(high), last)
        entries = [
            {"meta": e["meta"], "tx": e["tx"], "validated": True}
            for ledger in self.ledgers if low <= ledger.index <= high
            for e in ledger.transactions
            if account in (e["tx"].get("Account"), e["tx"].get("Destination"))
        ]
        touched = any(account in (e["tx"].get("Account"), e["tx"].get("Destination"))
                      for ledger in self.ledgers for e in ledger.transactions)
        if not touched:
            return {"status": "error", "error": "actNotFound", "error_message": "Account not found."}
        if not params.get("forward"):
            entries.reverse()
        start = int((params.get("marker") or {}).get("seq", 0))
        limit = int(params.get("limit") or 200)
        page = entries[start:start + limit]
        answer = {"account": account, "ledger_index_min": low, "ledger_index_max": high, "limit": limit,
                  "transactions": page, "validated": True, "status": "success"}
        if start + limit < len(entries):
            answer["marker"] = {"ledger": 0, "seq": start + limit}  # opaque to the client
        return answer

    def _rpc_submit(self, params: dict) -> dict:
        try:
            engine_result, tx_hash = self.submit_blob(params["tx_blob"])
        except (XrplFakeError, KeyError, ValueError) as error:
            return {"status": "error", "error": "invalidTransaction", "error_exception": str(error)}
        return {"engine_result": engine_result, "engine_result_message": engine_result, "tx_json": {"hash": tx_hash},
                "accepted": engine_result == "tesSUCCESS", "status": "success"}

    def _rpc_tx(self, params: dict) -> dict:
        ledger, entry = self.find(str(params.get("transaction", "")).upper())
        if entry is None:
            low, high = params.get("min_ledger"), params.get("max_ledger")
            searched_all = (low is not None and high is not None
                            and self.ledgers[0].index <= int(low) and int(high) <= self.validated.index)
            return {"status": "error", "error": "txnNotFound", "error_message": "Transaction not found.",
                    "searched_all": searched_all}
        answer = {**entry["tx"], "meta": entry["meta"], "validated": ledger is not None, "status": "success"}
        if ledger is not None:
            answer["ledger_index"] = ledger.index
        return answer

    def _rpc_account_info(self, params: dict) -> dict:
        account = self.accounts.get(params.get("account"))
        if account is None:
            return {"status": "error", "error": "actNotFound", "error_message": "Account not found."}
        return {"account_data": {"Account": params["account"], "Balance": str(account["Balance"]),
                                 "Flags": account["Flags"], "OwnerCount": account["OwnerCount"],
                                 "Sequence": account["Sequence"], "LedgerEntryType": "AccountRoot"},
                "ledger_index": self.validated.index, "validated": True, "status": "success"}

    def _rpc_fee(self, params: dict) -> dict:
        fee = str(self.base_fee)
        return {"current_ledger_size": str(len(self.queue)), "current_queue_size": "0",
                "drops": {"base_fee": fee, "median_fee": str(self.base_fee * 500), "minimum_fee": fee,
                          "open_ledger_fee": fee},
                "ledger_current_index": self.validated.index + 1, "status": "success"}

    def _rpc_ledger_accept(self, params: dict) -> dict:
        return {"ledger_current_index": self.close_ledger().index + 1, "status": "success"}

    def _rpc_server_info(self, params: dict) -> dict:
        ledger = self.ledgers[-1]
        info = {"build_version": "fluxa-fake", "server_state": self.server_state,
                "validated_ledger": {"seq": ledger.index, "hash": ledger.hash, "age": 1,
                                     "base_fee_xrp": self.base_fee / 1e6,
                                     "reserve_base_xrp": self.reserve_base / 1e6,
                                     "reserve_inc_xrp": self.reserve_inc / 1e6}}
        if self.network_id is not None:  # rippled leaves it out on the mainnet
            info["network_id"] = self.network_id
        return {"info": info, "status": "success"}


def _handler_for(fake: XrplFake):
    class Handler(QuietHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with fake.lock:
                failing = fake.fail_next > 0
                if failing:
                    fake.fail_next -= 1
            if failing:
                return self.reply(503, b"overloaded")
            try:
                body = json.loads(raw)
                fake.requests.append(body)
                params = (body.get("params") or [{}])[0]
                method = body["method"]
            except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                return self.reply(400, b"Unable to parse request")
            result = fake.handle(method, params) if method == "submit" else _locked(fake, method, params)
            self.reply(200, json.dumps({"result": result}).encode())

    return Handler


def _locked(fake: XrplFake, method: str, params: dict) -> dict:
    if method == "ledger_accept":
        return fake.handle(method, params)
    with fake.lock:
        return fake.handle(method, params)


@contextmanager
def start_xrpl_fake() -> Iterator[XrplFake]:
    fake = XrplFake()
    with serve(_handler_for(fake), name="xrpl-fake") as server:
        fake.server = server
        yield fake
