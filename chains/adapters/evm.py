"""The EVM family's chain adapter (Ethereum, Base, BNB Smart Chain, Polygon, Arbitrum), over
a node's JSON-RPC with web3's HTTPProvider.

What `scan` sees:

* ERC-20 transfers: the `Transfer(address,address,uint256)` logs of the watched token
  contracts, from one `eth_getLogs` call per batch of at most LOGS_BATCH_BLOCKS blocks (all
  watched contracts and the Transfer topic in one filter); the recipient topic is compared
  with the watched addresses here, so the node's work and the answer's size do not grow with
  the number of watched addresses. `index` is the log's logIndex.
* Native value transfers (ETH, BNB, POL): every block of the range with full transactions
  (`eth_getBlockByNumber(n, true)`), each transaction's `to` compared with the watched
  addresses here; `index` is NATIVE_INDEX. The receipt of each match (and only of a match) is
  read, and a reverted transaction is left out: it moved no value. Blocks and receipts are
  read in JSON-RPC batches of RPC_BATCH calls per HTTP request, as the node's raw hex (no
  web3 formatters): a pass over many blocks costs a few round trips, not one per block.

Not seen: native value moved by contracts (internal transactions, e.g. a multisig or an
exchange's batch payout paying a deposit address from inside a call). Those need traces
(`debug_traceBlock`/`trace_block`), which most hosted nodes do not offer; such a payment
goes unnoticed until an operator credits it by hand.

What the settlement engine uses (settlements/families/evm.py): `send_raw` (a node that
already has the transaction, or whose "nonce too low" is this very transaction having landed,
is success; any other refusal raises TxRefused), `tx_lookup` (receipt, block, confirmations,
status, what it cost), `native_balance` / `token_balance` / `token_decimals`, `has_code`, `fee_data` (the next block's base
fee and a priority fee), `estimate_gas` and `transaction_count`.

Every Observed carries the number and hash of its block; the block hashes of the logs are
checked against the blocks read in the same scan, and a mismatch (the chain reorganized in
between) raises ChainUnavailable, so one scan's answer always describes one chain. Any error
from the node (refused connection, timeout, JSON-RPC error, nonsense) raises ChainUnavailable.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import requests
from eth_utils import is_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound, Web3Exception

from chains.adapters.base import BlockRef, ChainAdapter, ChainUnavailable, Observed, Watch, check_block_range
from chains.networks import get_network

TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
LOGS_BATCH_BLOCKS = 1000  # hosted nodes cap an eth_getLogs range (often at 1,000 to 10,000 blocks)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NODE_ERRORS = (Web3Exception, requests.RequestException, OSError, ValueError)
# JSON-RPC calls per HTTP request when a scan reads blocks and receipts. Hosted nodes cap a
# batch (commonly at 50 to 1,000 calls, or by the answer's size); 20 full blocks stay well
# inside those caps and bound the scanner's memory.
RPC_BATCH = 20


def _hex(value: Any) -> str:
    """Lowercase 0x hex of bytes/HexBytes (or a hex string) as web3 returns them."""
    if isinstance(value, str):
        text = value.lower()
        return text if text.startswith("0x") else "0x" + text
    return "0x" + bytes(value).hex()


def _int(value: Any) -> int:
    """A JSON-RPC quantity ("0x1a") as an int (an int stays one)."""
    return value if isinstance(value, int) else int(value, 16)


def _topic_address(topic: Any) -> str | None:
    """The address in a 32-byte indexed topic, or None when the topic is not one."""
    raw = bytes.fromhex(_hex(topic)[2:])
    if len(raw) != 32 or any(raw[:12]):
        return None
    return "0x" + raw[12:].hex()


# A native value transfer has no log: it is recorded under an index no log can have (log
# indexes count the logs of a block from 0), so a transaction that both sends ether and emits
# a token Transfer to the same deposit address yields two distinct transfers.
NATIVE_INDEX = 2**31 - 1


ERC20_BALANCE_OF = "0x70a08231"  # balanceOf(address)
ERC20_DECIMALS = "0x313ce567"  # decimals()


class TxRefused(Exception):
    """The node refused a raw transaction for good (not an outage): `reason` is its message;
    `nonce_used` when it said the nonce is already taken (by another transaction)."""

    def __init__(self, reason: str, *, nonce_used: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.nonce_used = nonce_used


@dataclasses.dataclass(frozen=True)
class TxLookup:
    """Where one transaction stands on the node: unknown, waiting in its pool, or in a block."""

    found: bool
    in_block: bool = False
    block_number: int | None = None
    block_hash: str | None = None
    confirmations: int = 0
    succeeded: bool | None = None
    cost_wei: int | None = None  # gasUsed x effectiveGasPrice, once in a block
    nonce: int | None = None
    sender: str | None = None


@dataclasses.dataclass(frozen=True)
class FeeData:
    base_fee: int       # wei per gas of the newest block
    priority_fee: int   # wei per gas the node suggests as the tip


_ALREADY_KNOWN = ("already known", "already imported", "known transaction", "alreadyknown")
_NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "oldnonce", "invalid nonce")


class EvmAdapter(ChainAdapter):
    def __init__(self, *, network: str, mode: str, rpc_url: str, timeout: float = 10):
        net = get_network(network)
        if not net.is_evm:
            raise ValueError(f"{net.display_name} is not an EVM network.")
        net.chain_id_for(mode)  # refuses an unknown mode
        self.network = net.label
        self.mode = mode
        self.native_asset = net.native_symbol
        self.rpc_url = rpc_url
        # No retries here: the scanner tries again on its next round.
        provider = HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.w3 = Web3(provider, middleware=[])

    def __repr__(self) -> str:
        return f"EvmAdapter(network={self.network!r}, mode={self.mode!r}, rpc_url={self.rpc_url!r})"

    # -- the interface -------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """Lowercase 0x hex. A mixed-case address must carry a valid EIP-55 checksum (a typo
        in a checksummed address is refused, not silently accepted)."""
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise ValueError(f"Not an EVM address: {address!r}")
        body = address[2:]
        if body != body.lower() and body != body.upper() and not is_checksum_address(address):
            raise ValueError(f"Bad EIP-55 checksum in EVM address {address!r}")
        return address.lower()

    def head(self) -> BlockRef:
        block = self._call(self.w3.eth.get_block, "latest")
        return self._ref(block)

    def chain_identity(self) -> str:
        answer = self._call(self.w3.provider.make_request, "eth_chainId", [])
        try:
            return str(int(answer["result"], 16))
        except (KeyError, TypeError, ValueError):
            raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: eth_chainId answered "
                                   f"{str(answer.get('error') if isinstance(answer, dict) else answer)[:200]}") from None

    def node_synced(self) -> bool | None:
        answer = self._call(self.w3.provider.make_request, "eth_syncing", [])
        if not isinstance(answer, dict) or "result" not in answer:
            return None  # a gateway without eth_syncing: it cannot say
        return answer["result"] is False

    def block(self, number: int) -> BlockRef | None:
        block = self._get_block(number, full=False)
        return None if block is None else self._ref(block)

    def scan(self, *, from_block: int, to_block: int, watch: Watch) -> list[Observed]:
        check_block_range(from_block, to_block)
        if not watch.addresses:
            return []
        found: list[tuple[tuple[int, int, int, int], Observed]] = []
        log_block_hashes: dict[int, str] = {}
        if watch.tokens:
            for start in range(from_block, to_block + 1, LOGS_BATCH_BLOCKS):
                end = min(start + LOGS_BATCH_BLOCKS - 1, to_block)
                for log in self._transfer_logs(start, end, sorted(watch.tokens)):
                    observed = self._token_transfer(log, watch)
                    if observed is None:
                        continue
                    log_block_hashes.setdefault(observed.block_number, observed.block_hash)
                    if log_block_hashes[observed.block_number] != observed.block_hash:
                        raise ChainUnavailable(f"block {observed.block_number} changed during the scan")
                    found.append(((observed.block_number, _int(log["transactionIndex"]), 1, observed.index), observed))
        block_times: dict[int, int] = {}
        for start in range(from_block, to_block + 1, RPC_BATCH):
            numbers = range(start, min(start + RPC_BATCH - 1, to_block) + 1)
            # Read RPC_BATCH blocks at a time, each block dropped once filtered: memory stays
            # bounded by RPC_BATCH full blocks whatever the range.
            blocks = self._batch([("eth_getBlockByNumber", [hex(number), True]) for number in numbers])
            natives: list[tuple[tuple[int, int, int, int], Observed]] = []
            for number, block in zip(numbers, blocks):
                if block is None:
                    raise ChainUnavailable(f"block {number} is past the node's head")
                block_hash = _hex(block["hash"])
                block_times[number] = _int(block["timestamp"])
                if log_block_hashes.get(number, block_hash) != block_hash:
                    raise ChainUnavailable(f"block {number} changed during the scan")
                for tx in block["transactions"]:
                    to = tx.get("to")
                    if not to or not _int(tx["value"]):
                        continue
                    to = to.lower()
                    if to not in watch.addresses:
                        continue
                    observed = Observed(
                        tx_hash=_hex(tx["hash"]), index=NATIVE_INDEX, to_address=to, asset=self.native_asset,
                        amount_base_units=_int(tx["value"]), sender=str(tx["from"]).lower(),
                        block_number=number, block_hash=block_hash,
                    )
                    natives.append(((number, _int(tx["transactionIndex"]), 0, 0), observed))
            # The receipt of each match (of a match only), for its status: a reverted
            # transaction moved no value. Read in batches too, and from the same blocks.
            receipts = self._batch([("eth_getTransactionReceipt", [o.tx_hash]) for _, o in natives])
            for (key, observed), receipt in zip(natives, receipts):
                if receipt is None or _hex(receipt.get("blockHash") or "") != observed.block_hash:
                    raise ChainUnavailable(f"block {observed.block_number} changed during the scan")
                if _int(receipt["status"]) == 1:
                    found.append((key, observed))
        found.sort(key=lambda pair: pair[0])
        return [dataclasses.replace(observed, block_time=block_times[observed.block_number]) for _, observed in found]

    # -- what the settlement engine sends and reads -----------------------------------------

    def send_raw(self, raw: bytes) -> str:
        """Broadcast signed bytes; returns the txid. Already known, or "nonce too low" while
        this very transaction is on the node, is success."""
        txid = "0x" + Web3.keccak(raw).hex().removeprefix("0x")
        answer = self._request("eth_sendRawTransaction", ["0x" + raw.hex()])
        if "error" not in answer or answer["error"] is None:
            return txid
        message = str(answer["error"].get("message") if isinstance(answer["error"], dict) else answer["error"])
        lowered = message.lower()
        if any(text in lowered for text in _ALREADY_KNOWN):
            return txid
        if any(text in lowered for text in _NONCE_TOO_LOW):
            if self.tx_lookup(txid).found:
                return txid  # it landed already: this is its nonce
            raise TxRefused(message, nonce_used=True)
        if isinstance(answer["error"], dict) and answer["error"].get("code") == -32603:
            raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: {message[:300]}")  # internal
        raise TxRefused(message)

    def tx_lookup(self, txid: str) -> TxLookup:
        receipt = self._result("eth_getTransactionReceipt", [txid])
        if receipt is None:
            tx = self._result("eth_getTransactionByHash", [txid])
            if tx is None:
                return TxLookup(found=False)
            return TxLookup(found=True, nonce=int(tx["nonce"], 16), sender=str(tx["from"]).lower())
        number = int(receipt["blockNumber"], 16)
        block_hash = str(receipt["blockHash"]).lower()
        canonical = self._result("eth_getBlockByNumber", [hex(number), False])
        head = int(self._result("eth_blockNumber", []), 16)
        if canonical is None or str(canonical["hash"]).lower() != block_hash:
            return TxLookup(found=False)  # a receipt from a block no longer on the chain
        price = int(receipt.get("effectiveGasPrice") or "0x0", 16)
        return TxLookup(
            found=True, in_block=True, block_number=number, block_hash=block_hash,
            confirmations=max(0, head - number + 1), succeeded=int(receipt["status"], 16) == 1,
            cost_wei=int(receipt["gasUsed"], 16) * price, sender=str(receipt["from"]).lower(),
        )

    def native_balance(self, address: str, *, block: str = "latest") -> int:
        return int(self._result("eth_getBalance", [self.normalize(address), block]), 16)

    def token_balance(self, contract: str, address: str) -> int:
        data = ERC20_BALANCE_OF + self.normalize(address)[2:].rjust(64, "0")
        answer = self._result("eth_call", [{"to": self.normalize(contract), "data": data}, "latest"])
        raw = bytes.fromhex(str(answer)[2:])
        if len(raw) != 32:
            raise ChainUnavailable(f"{self.network} {self.mode}: balanceOf on {contract} answered {answer!r}")
        return int.from_bytes(raw, "big")

    def token_decimals(self, contract: str) -> int:
        answer = self._result("eth_call", [{"to": self.normalize(contract), "data": ERC20_DECIMALS}, "latest"])
        raw = bytes.fromhex(str(answer)[2:])
        if len(raw) != 32 or int.from_bytes(raw, "big") > 36:
            raise ChainUnavailable(f"{self.network} {self.mode}: decimals() on {contract} answered {answer!r}")
        return int.from_bytes(raw, "big")

    def fee_data(self) -> FeeData:
        block = self._result("eth_getBlockByNumber", ["latest", False])
        if block is None or block.get("baseFeePerGas") is None:
            raise ChainUnavailable(f"{self.network} {self.mode}: the newest block has no base fee (pre-London?)")
        priority = int(self._result("eth_maxPriorityFeePerGas", []), 16)
        return FeeData(base_fee=int(block["baseFeePerGas"], 16), priority_fee=priority)

    def estimate_gas(self, *, sender: str, to: str, data: bytes = b"", value: int = 0) -> int:
        call = {"from": self.normalize(sender), "to": self.normalize(to), "value": hex(value), "data": "0x" + data.hex()}
        return int(self._result("eth_estimateGas", [call]), 16)

    def has_code(self, address: str) -> bool:
        """A contract (or an EIP-7702 delegated account) at the address."""
        return str(self._result("eth_getCode", [self.normalize(address), "latest"])) not in ("0x", "0x0", "None")

    def transaction_count(self, address: str, *, block: str = "pending") -> int:
        return int(self._result("eth_getTransactionCount", [self.normalize(address), block]), 16)

    # -- helpers ----------------------------------------------------------------------------

    def _request(self, method: str, params: list) -> dict:
        answer = self._call(self.w3.provider.make_request, method, params)
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: {method} answered nonsense")
        return answer

    def _result(self, method: str, params: list):
        answer = self._request(method, params)
        if answer.get("error") is not None:
            raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: {method}: "
                                   f"{str(answer['error'])[:300]}")
        return answer.get("result")

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ChainUnavailable:
            raise
        except _NODE_ERRORS as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: {error}") from error

    def _get_block(self, number: int, *, full: bool):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"Bad block number {number!r}")
        try:
            return self._call(self.w3.eth.get_block, number, full_transactions=full)
        except ChainUnavailable as error:
            if isinstance(error.__cause__, BlockNotFound):
                return None
            raise

    def _ref(self, block) -> BlockRef:
        if block is None or block.get("hash") is None or block.get("number") is None:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a block without a hash")
        return BlockRef(number=int(block["number"]), hash=_hex(block["hash"]), timestamp=int(block["timestamp"]))

    def _transfer_logs(self, start: int, end: int, contracts: list[str]) -> list:
        logs = self._result("eth_getLogs", [{
            "fromBlock": hex(start), "toBlock": hex(end), "address": contracts, "topics": [TRANSFER_TOPIC],
        }])
        if not isinstance(logs, list):
            raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: eth_getLogs answered nonsense")
        return logs

    def _token_transfer(self, log, watch: Watch) -> Observed | None:
        topics = log["topics"]
        if log.get("removed") or len(topics) != 3 or _hex(topics[0]) != TRANSFER_TOPIC:
            return None  # e.g. an ERC-721 Transfer (4 topics) from a watched address
        to = _topic_address(topics[2])
        if to is None or to not in watch.addresses:
            return None
        contract = str(log["address"]).lower()
        asset = watch.tokens.get(contract)
        data = bytes.fromhex(_hex(log["data"])[2:])
        if asset is None or len(data) != 32:
            return None
        return Observed(
            tx_hash=_hex(log["transactionHash"]), index=_int(log["logIndex"]), to_address=to, asset=asset,
            amount_base_units=int.from_bytes(data, "big"), sender=_topic_address(topics[1]) or "",
            block_number=_int(log["blockNumber"]), block_hash=_hex(log["blockHash"]),
        )

    def _batch(self, calls: list[tuple[str, list]]) -> list:
        """The results of many JSON-RPC calls, in their order, RPC_BATCH calls per HTTP
        request over the provider's kept-alive session, without web3's formatters (the
        answers are the node's own hex). A node that refuses batches (it answers one error
        object, not a list) is asked one call at a time; an error in any answer raises
        ChainUnavailable, so a scan never goes on with a hole."""
        results: list = []
        for start in range(0, len(calls), RPC_BATCH):
            chunk = calls[start:start + RPC_BATCH]
            answers = self._call(self.w3.provider.make_batch_request, chunk) if len(chunk) > 1 else None
            if not isinstance(answers, list):
                results += [self._result(method, params) for method, params in chunk]
                continue
            if len(answers) != len(chunk):
                raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: a batch of {len(chunk)} "
                                       f"calls answered {len(answers)}")
            for (method, _), answer in zip(chunk, answers):
                if not isinstance(answer, dict) or "result" not in answer or answer.get("error") is not None:
                    error = answer.get("error") if isinstance(answer, dict) else answer
                    raise ChainUnavailable(f"{self.network} {self.mode} node at {self.rpc_url}: {method}: "
                                           f"{str(error)[:300]}")
                results.append(answer["result"])
        return results
