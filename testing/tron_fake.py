"""A stand-in for a Tron full node (java-tron) in tests: **no java-tron node can run here**, so
this small local HTTP server answers the documented shapes of the few full-node HTTP API
endpoints fluxa's Tron adapter (chains/adapters/tron.py) calls, over an in-memory chain.

It is not a Tron implementation. What is real and what is not:

* Real: the signing. Tests build transactions whose JSON follows the node's HTTP API
  (`raw_data.contract[0]` with `TransferContract` / `TriggerSmartContract`, hex `41…`
  addresses, TRC-20 `transfer(address,uint256)` calls ABI-encoded in `data`) with
  `trx_transfer` / `trc20_transfer` below, and sign them with `sign_transaction`: secp256k1
  over the txID with an eth-account key, a 65-byte r‖s‖v signature, as Tron wallets do. The
  fake **checks the signature**: the key recovered from it must be the `owner_address`'s.
* Not real: the txID is SHA-256 of the canonical JSON of `raw_data`, not of its protobuf
  serialization (there is no `raw_data_hex`); blocks carry no witness signature; there are no
  TRX balances, bandwidth or energy. A TRC-20 contract deployed with `deploy_trc20` keeps
  token balances, and a `transfer` call it cannot honour is recorded as reverted
  (`ret[0].contractRet` "REVERT", `receipt.result` "REVERT"). Tests may force any outcome
  with `broadcast(tx, contract_ret=..., receipt_result=...)`.
* Tests take it from the `tron_fake` fixture (testing/fixtures.py: one server per session,
  reset() to a fresh chain for every test).
* Blocks are produced when the test calls `produce_blocks(n)`; the first takes the queued
  transactions. `fork(number)` drops the blocks above `number` (their transactions are lost).

Endpoints (POST, JSON bodies, `visible` false: hex addresses): `/wallet/getnowblock`,
`/wallet/getblockbynum {"num"}` (`{}` past the head), `/wallet/getblockbylimitnext
{"startNum", "endNum"}` (blocks startNum..endNum-1, at most 100; `{}` when none),
`/wallet/gettransactioninfobyid {"value"}` (`{}` when unknown), `/wallet/broadcasttransaction`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any, Iterator

from eth_account import Account

from chains.networks import get_network
from testing.httpserver import QuietHandler, serve, url_of

TRANSFER_SELECTOR = "a9059cbb"  # transfer(address,uint256)
GENESIS_TIME_MS = 1_700_000_000_000
MAINNET_GENESIS_ID = get_network("tron").live_identity  # what a mainnet node answers for block 0
NILE_GENESIS_ID = "0000000000000000d698d4192c56cb6be724a558448e2684802de4d6cd8690dc"


class TronFakeError(RuntimeError):
    pass


def tron_hex(account) -> str:
    """The 41… hex address of an eth-account account (Tron and Ethereum derive the same 20 bytes)."""
    return "41" + account.address[2:].lower()


def _txid(raw_data: dict) -> str:
    return hashlib.sha256(json.dumps(raw_data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _raw(contract: dict, ref_block: dict | None, fee_limit: int | None = None) -> dict:
    now = int(time.time() * 1000)
    raw = {"contract": [contract], "ref_block_bytes": "0000", "ref_block_hash": "0" * 16,
           "expiration": now + 60_000, "timestamp": now}
    if ref_block is not None:  # the block the transaction refers to (TaPoS), as wallets set it
        number = ref_block["block_header"]["raw_data"]["number"]
        raw["ref_block_bytes"] = f"{number & 0xFFFF:04x}"
        raw["ref_block_hash"] = ref_block["blockID"][16:32]
    if fee_limit is not None:
        raw["fee_limit"] = fee_limit
    return raw


def trx_transfer(owner_hex: str, to_hex: str, amount_sun: int, *, ref_block: dict | None = None) -> dict:
    """An unsigned TRX transfer, shaped like /wallet/createtransaction's answer."""
    contract = {"parameter": {"value": {"amount": amount_sun, "owner_address": owner_hex, "to_address": to_hex},
                              "type_url": "type.googleapis.com/protocol.TransferContract"},
                "type": "TransferContract"}
    raw = _raw(contract, ref_block)
    return {"visible": False, "txID": _txid(raw), "raw_data": raw}


def trc20_transfer(owner_hex: str, contract_hex: str, to_hex: str, units: int, *,
                   ref_block: dict | None = None) -> dict:
    """An unsigned TRC-20 `transfer(to, units)` call, shaped like /wallet/triggersmartcontract's
    `transaction`: the recipient is ABI-encoded as its 20-byte account id."""
    data = TRANSFER_SELECTOR + bytes.fromhex(to_hex[2:]).rjust(32, b"\0").hex() + units.to_bytes(32, "big").hex()
    contract = {"parameter": {"value": {"data": data, "owner_address": owner_hex, "contract_address": contract_hex},
                              "type_url": "type.googleapis.com/protocol.TriggerSmartContract"},
                "type": "TriggerSmartContract"}
    raw = _raw(contract, ref_block, fee_limit=100_000_000)
    return {"visible": False, "txID": _txid(raw), "raw_data": raw}


def sign_transaction(tx: dict, private_key) -> dict:
    """The transaction with its secp256k1 signature over the txID (r‖s‖v, v = 27/28)."""
    signed = Account.unsafe_sign_hash(bytes.fromhex(tx["txID"]), private_key)
    return {**tx, "signature": [bytes(signed.signature).hex()]}


class TronFake:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None
        self._nonce = 0
        self.reset()

    def reset(self) -> None:
        """Back to a fresh node: only the genesis block, no tokens, no queue, no requests (the
        server keeps its port; a session-wide fake is reset for every test)."""
        with self.lock:
            self.blocks: list[dict] = []
            self.queue: list[tuple[dict, str | None, str | None]] = []
            self.info: dict[str, dict] = {}
            self.tokens: dict[str, dict[str, int]] = {}  # contract hex -> balances by owner hex
            self.fail_next = 0
            self.requests: list[tuple[str, dict]] = []
            self._forks = 0
            self.produce_blocks(1)  # the genesis block (number 0)
            # The stand-in of a mainnet node: its genesis block has the mainnet's id (a test
            # sets NILE_GENESIS_ID here, before any block is produced, to be refused).
            self.blocks[0]["blockID"] = MAINNET_GENESIS_ID

    @property
    def url(self) -> str:
        assert self.server is not None
        return url_of(self.server)

    @property
    def head(self) -> dict:
        return self.blocks[-1]

    def deploy_trc20(self, holder_hex: str, supply: int) -> str:
        """A TRC-20 token contract (its 41… hex address) whose whole supply `holder_hex` holds."""
        with self.lock:
            self._nonce += 1
            contract = "41" + hashlib.sha256(f"trc20-{self._nonce}-{time.time()}".encode()).hexdigest()[:40]
            self.tokens[contract] = {holder_hex: supply}
            return contract

    def broadcast(self, tx: dict, *, contract_ret: str | None = None, receipt_result: str | None = None) -> str:
        """Check a signed transaction and queue it for the next block; its txID."""
        raw = tx.get("raw_data")
        if not isinstance(raw, dict) or tx.get("txID") != _txid(raw):
            raise TronFakeError("txID does not match raw_data")
        owner = raw["contract"][0]["parameter"]["value"]["owner_address"]
        try:
            signer = Account._recover_hash(bytes.fromhex(tx["txID"]), signature=bytes.fromhex(tx["signature"][0]))
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise TronFakeError(f"bad signature: {error}") from error
        if "41" + signer[2:].lower() != owner:
            raise TronFakeError("the signature is not the owner's")
        with self.lock:
            if any(queued["txID"] == tx["txID"] for queued, _, _ in self.queue) or tx["txID"] in self.info:
                raise TronFakeError("duplicate transaction")
            self.queue.append((tx, contract_ret, receipt_result))
        return tx["txID"]

    def produce_blocks(self, count: int = 1) -> list[dict]:
        made = []
        with self.lock:
            for _ in range(count):
                number = len(self.blocks)
                parent = self.blocks[-1]["blockID"] if self.blocks else "0" * 64
                timestamp = GENESIS_TIME_MS if not self.blocks else max(
                    int(time.time() * 1000), self.blocks[-1]["block_header"]["raw_data"]["timestamp"] + 3000)
                queued, self.queue = self.queue, []
                transactions = [self._execute(tx, ret, receipt, number, timestamp) for tx, ret, receipt in queued]
                header = {"number": number, "txTrieRoot": hashlib.sha256(
                    "".join(t["txID"] for t in transactions).encode()).hexdigest(),
                    "witness_address": "41" + "ab" * 20, "parentHash": parent, "version": 30, "timestamp": timestamp}
                # the fork count in the digest: a block produced again after fork() has another id
                digest = hashlib.sha256(json.dumps([header, self._forks], sort_keys=True).encode()).hexdigest()
                block = {"blockID": f"{number:016x}" + digest[16:],  # a Tron blockID starts with the number
                         "block_header": {"raw_data": header, "witness_signature": ""}}
                if transactions:
                    block["transactions"] = transactions
                for t in transactions:
                    self.info[t["txID"]]["blockNumber"] = number
                self.blocks.append(block)
                made.append(block)
        return made

    def fork(self, keep_through: int) -> None:
        """Drop the blocks above `keep_through` (a reorg; their transactions are gone)."""
        with self.lock:
            for block in self.blocks[keep_through + 1:]:
                for tx in block.get("transactions", []):
                    self.info.pop(tx["txID"], None)
            del self.blocks[keep_through + 1:]
            self._forks += 1

    def _execute(self, tx: dict, contract_ret: str | None, receipt_result: str | None, number: int,
                 timestamp: int) -> dict:
        contract = tx["raw_data"]["contract"][0]
        value = contract["parameter"]["value"]
        info: dict[str, Any] = {"id": tx["txID"], "blockNumber": number, "blockTimeStamp": timestamp,
                                "fee": 0, "receipt": {"net_usage": 268}}
        outcome = "SUCCESS"
        if contract["type"] == "TriggerSmartContract":
            balances = self.tokens.get(value["contract_address"])
            data = value.get("data", "")
            if balances is not None and data.startswith(TRANSFER_SELECTOR) and len(data) >= 136:
                to = "41" + data[8 + 24:8 + 64]
                units = int(data[72:136], 16)
                owner = value["owner_address"]
                if balances.get(owner, 0) >= units:
                    balances[owner] -= units
                    balances[to] = balances.get(to, 0) + units
                else:
                    outcome = "REVERT"
            info["contract_address"] = value["contract_address"]
            info["receipt"] = {"energy_usage_total": 14650, "result": outcome}
            info["contractResult"] = ["0" * 63 + "1" if outcome == "SUCCESS" else ""]
            if outcome != "SUCCESS":
                info["result"] = "FAILED"
        if receipt_result is not None:
            info["receipt"]["result"] = receipt_result
        self.info[tx["txID"]] = info
        return {**tx, "ret": [{"contractRet": contract_ret or outcome}]}

    # -- HTTP API ------------------------------------------------------------------------

    def handle(self, path: str, body: dict) -> Any:
        with self.lock:
            if path == "/wallet/getnowblock":
                return self.blocks[-1]
            if path == "/wallet/getblockbynum":
                num = body.get("num")
                return self.blocks[num] if isinstance(num, int) and 0 <= num < len(self.blocks) else {}
            if path == "/wallet/getblockbylimitnext":
                start, end = int(body["startNum"]), int(body["endNum"])
                if end <= start or end - start > 100:
                    return {"Error": "class java.lang.IllegalArgumentException : startNum/endNum"}
                blocks = self.blocks[start:end]
                return {"block": blocks} if blocks else {}
            if path == "/wallet/gettransactioninfobyid":
                return self.info.get(body.get("value"), {})
            if path == "/wallet/broadcasttransaction":
                try:
                    return {"result": True, "txid": self.broadcast(body)}
                except (TronFakeError, KeyError, TypeError) as error:
                    return {"result": False, "code": "SIGERROR", "message": str(error).encode().hex()}
        return None


def _handler_for(fake: TronFake):
    class Handler(QuietHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with fake.lock:
                failing = fake.fail_next > 0
                if failing:
                    fake.fail_next -= 1
            if failing:
                return self.reply(503, b"Service Unavailable")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self.reply(400, b'{"Error": "bad json"}')
            fake.requests.append((self.path, body))
            answer = fake.handle(self.path, body)
            if answer is None:
                return self.reply(404, b"Not Found")
            self.reply(200, json.dumps(answer).encode())

    return Handler


@contextmanager
def start_tron_fake() -> Iterator[TronFake]:
    fake = TronFake()
    with serve(_handler_for(fake), name="tron-fake") as server:
        fake.server = server
        yield fake
