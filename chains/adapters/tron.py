"""Tron's chain adapter, over a java-tron full node's HTTP API (`/wallet/...`, POST, JSON).

Blocks: `head` is `/wallet/getnowblock` (the newest block, not yet solidified: the channel's
`required_confirmations`, 19 by default, covers Tron's finality), `block(n)` is
`/wallet/getblockbynum` (`{}` past the head -> None). A block's number is
`block_header.raw_data.number`, its hash the `blockID`, its time `timestamp` in milliseconds.

What `scan` sees: the range's blocks from `/wallet/getblockbylimitnext` (at most 100 a call,
the node's limit), each block following the one before (`parentHash`), and in each block every
transaction's single contract (`raw_data.contract[0]`: java-tron accepts one contract per
transaction, so a transaction moves either TRX or tokens to one recipient and `index` is
always 0; no distinct constant is needed, unlike the EVM adapter's NATIVE_INDEX):

* `TransferContract`: TRX to `to_address`, `amount` in sun (asset "TRX");
* `TriggerSmartContract` calling a watched TRC-20 contract (`contract_address` in
  Watch.tokens) with `transfer(address,uint256)` (selector a9059cbb): the recipient and the
  amount are decoded from the ABI-encoded `data` (the recipient is the low 20 bytes of its
  word, what the contract's decoder reads). Calls to other contracts or other functions
  (`transferFrom`, `approve`, …) are not seen, nor are tokens moved from inside other
  contracts' calls (like EVM internal transactions).

Both count only when `ret[0].contractRet` is "SUCCESS"; each matched TRC-20 transfer (and only
a match) is also confirmed with `/wallet/gettransactioninfobyid` (`receipt.result` "SUCCESS",
in the same block), since the block alone does not prove the token call did not revert. Both
are matched against the watched set here, so the node's work does not grow with the number of
deposit addresses. `sender` is the `owner_address`, in base58.

Normal form: the base58check `T…` address; `normalize` also accepts the 41… hex form. Any
error from the node (refused connection, timeout, HTTP error, an `Error` answer, nonsense)
raises ChainUnavailable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from chains.adapters.base import BlockRef, ChainUnavailable, HttpChainAdapter, Observed, Watch, check_block_range
from chains.encoding import EncodingError, b58decode_check, tron_address_from_hex, tron_address_to_hex

TRC20_TRANSFER = "a9059cbb"  # transfer(address,uint256)
BLOCKS_PER_CALL = 100  # getblockbylimitnext answers at most 100 blocks
TRX_INDEX = 0  # one contract per Tron transaction: the index is always 0
TRC20_INDEX = 0


def _to_base58(address: Any) -> str | None:
    """A node's address (41… hex, or T… with visible=true) in base58; None when it is not one."""
    if not isinstance(address, str):
        return None
    try:
        if address.startswith("T"):
            raw = b58decode_check(address)
            return address if len(raw) == 21 and raw[0] == 0x41 else None
        return tron_address_from_hex(address.lower())
    except (EncodingError, ValueError):
        return None


# -- sending (settlements) ------------------------------------------------------------------------

# broadcasttransaction codes that say the node is the problem now, not the transaction.
_TRANSIENT_CODES = {"SERVER_BUSY", "NOT_ENOUGH_EFFECTIVE_CONNECTION", "NO_CONNECTION", "BLOCK_UNSOLIDIFIED"}


@dataclass(frozen=True)
class NowBlock:
    """The head block as a transaction's reference (TaPoS) and clock: number, blockID, time (ms)."""

    number: int
    block_id: str
    timestamp_ms: int


@dataclass(frozen=True)
class TronAccount:
    address: str
    balance_sun: int
    free_bandwidth: int   # the free daily bytes left (freeNetLimit - freeNetUsed)
    bandwidth: int        # staked / delegated bytes left (NetLimit - NetUsed)
    energy: int           # staked / delegated energy left (EnergyLimit - EnergyUsed)


@dataclass(frozen=True)
class Broadcast:
    ok: bool
    code: str = ""
    message: str = ""

    @property
    def already_known(self) -> bool:
        return self.code == "DUP_TRANSACTION_ERROR"

    @property
    def transient(self) -> bool:
        return self.code in _TRANSIENT_CODES


def _message(value: Any) -> str:
    """java-tron sends broadcast messages hex-encoded."""
    if not isinstance(value, str):
        return ""
    try:
        return bytes.fromhex(value).decode("utf-8", "replace")
    except ValueError:
        return value


class TronSender:
    """The HTTP API calls sending needs, mixed into TronAdapter."""

    def now_block(self) -> NowBlock:
        block = self._post("/wallet/getnowblock", {})
        ref = self._ref(block)
        return NowBlock(number=ref.number, block_id=ref.hash,
                        timestamp_ms=int(block["block_header"]["raw_data"]["timestamp"]))

    def account(self, address: str) -> TronAccount | None:
        """The account and its resources; None when it does not exist (not activated)."""
        hex_address = tron_address_to_hex(address)
        data = self._post("/wallet/getaccount", {"address": hex_address})
        if data == {}:
            return None
        resources = self._post("/wallet/getaccountresource", {"address": hex_address})
        try:
            return TronAccount(
                address=address, balance_sun=int(data.get("balance", 0)),
                free_bandwidth=max(0, int(resources.get("freeNetLimit", 0)) - int(resources.get("freeNetUsed", 0))),
                bandwidth=max(0, int(resources.get("NetLimit", 0)) - int(resources.get("NetUsed", 0))),
                energy=max(0, int(resources.get("EnergyLimit", 0)) - int(resources.get("EnergyUsed", 0))),
            )
        except (TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: getaccount answered nonsense: {error!r}") from error

    def chain_parameters(self) -> dict[str, int]:
        answer = self._post("/wallet/getchainparameters", {})
        try:
            return {p["key"]: int(p.get("value", 0)) for p in answer["chainParameter"]}
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: getchainparameters answered nonsense: {error!r}") from error

    def trc20_balance(self, contract: str, address: str) -> int:
        """balanceOf(address) by a constant call (no transaction)."""
        owner = tron_address_to_hex(address)
        answer = self._post("/wallet/triggerconstantcontract", {
            "owner_address": owner, "contract_address": tron_address_to_hex(contract),
            "function_selector": "balanceOf(address)", "parameter": owner[2:].rjust(64, "0"), "visible": False})
        try:
            if (answer.get("result") or {}).get("result") is not True:
                raise ValueError(_message((answer.get("result") or {}).get("message")) or "no result")
            return int(answer["constant_result"][0], 16)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: balanceOf answered nonsense: {error!r}") from error

    def broadcast(self, body: dict) -> Broadcast:
        answer = self._post("/wallet/broadcasttransaction", body)
        if answer.get("result") is True:
            return Broadcast(ok=True)
        return Broadcast(ok=False, code=str(answer.get("code") or "UNKNOWN"), message=_message(answer.get("message")))

    def transaction(self, txid: str) -> dict | None:
        """gettransactionbyid: the node knows it (pending or in a block); None when not."""
        answer = self._post("/wallet/gettransactionbyid", {"value": txid})
        return answer or None

    def transaction_info(self, txid: str) -> dict | None:
        """gettransactioninfobyid: in a block (blockNumber, fee, receipt); None before."""
        answer = self._post("/wallet/gettransactioninfobyid", {"value": txid})
        return answer if answer and "blockNumber" in answer else None


class TronAdapter(TronSender, HttpChainAdapter):
    family = "tron"

    def __init__(self, *, network: str = "tron", mode: str, rpc_url: str, timeout: float = 10):
        self._setup(network=network, mode=mode, rpc_url=rpc_url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._session.close()

    # -- the interface -------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """The base58check T… address (from T… or 41… hex); ValueError for anything else."""
        if not isinstance(address, str) or not address or not address.isascii() or address != address.strip():
            raise ValueError(f"Not a Tron address: {address!r}")
        try:
            if address.startswith("T"):
                tron_address_to_hex(address)  # checks the checksum, prefix and length
                return address
            if len(address) == 42 and address[:2] == "41":
                return tron_address_from_hex(address.lower())
        except (EncodingError, ValueError) as error:
            raise ValueError(f"Not a Tron address: {address!r} ({error})") from None
        raise ValueError(f"Not a Tron address: {address!r}")

    def head(self) -> BlockRef:
        return self._ref(self._post("/wallet/getnowblock", {}))

    def chain_identity(self) -> str:
        genesis = self._post("/wallet/getblockbynum", {"num": 0})
        if not isinstance(genesis, dict) or not isinstance(genesis.get("blockID"), str):
            raise ChainUnavailable(f"{self._where()}: getblockbynum 0 answered no genesis block")
        return genesis["blockID"].lower()

    def block(self, number: int) -> BlockRef | None:
        self._check_number(number)
        block = self._post("/wallet/getblockbynum", {"num": number})
        if block == {}:
            return None
        ref = self._ref(block)
        if ref.number != number:
            raise ChainUnavailable(f"{self._where()}: getblockbynum answered block {ref.number} for {number}")
        return ref

    def scan(self, *, from_block: int, to_block: int, watch: Watch) -> list[Observed]:
        check_block_range(from_block, to_block)
        if not watch.addresses:
            return []
        found: list[Observed] = []
        previous: str | None = None
        for start in range(from_block, to_block + 1, BLOCKS_PER_CALL):
            end = min(start + BLOCKS_PER_CALL - 1, to_block)
            answer = self._post("/wallet/getblockbylimitnext", {"startNum": start, "endNum": end + 1})
            blocks = answer.get("block") if isinstance(answer, dict) else None
            if not isinstance(blocks, list) or len(blocks) != end - start + 1:
                raise ChainUnavailable(f"{self._where()}: blocks {start}..{end} are not all on the node")
            for expected, block in enumerate(blocks, start):
                ref = self._ref(block)
                if ref.number != expected:
                    raise ChainUnavailable(f"{self._where()}: answered block {ref.number} for {expected}")
                parent = block["block_header"]["raw_data"].get("parentHash")
                if previous is not None and parent != previous:
                    raise ChainUnavailable(f"block {expected} changed during the scan")
                previous = ref.hash
                for tx in block.get("transactions") or ():
                    observed = self._transfer(tx, ref, watch)
                    if observed is not None:
                        found.append(observed)
        return found

    # -- helpers ----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.network} {self.mode} node at {self.rpc_url}"

    def _check_number(self, number: Any) -> None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"Bad block number {number!r}")

    def _post(self, path: str, body: dict) -> Any:
        try:
            response = self._session.post(self.rpc_url + path, json=body, timeout=self.timeout)
            if response.status_code != 200:
                raise ChainUnavailable(f"{self._where()}: HTTP {response.status_code} on {path}")
            answer = json.loads(response.content)
        except ChainUnavailable:
            raise
        except (requests.RequestException, OSError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: {path}: {error}") from error
        if not isinstance(answer, dict):
            raise ChainUnavailable(f"{self._where()}: {path} answered nonsense")
        if "Error" in answer:
            raise ChainUnavailable(f"{self._where()}: {path}: {answer['Error']}")
        return answer

    def _ref(self, block: Any) -> BlockRef:
        try:
            raw = block["block_header"]["raw_data"]
            block_id = block["blockID"]
            number = raw.get("number", 0)  # java-tron leaves zero fields out (the genesis block)
            if not isinstance(block_id, str) or len(block_id) != 64 or isinstance(number, bool):
                raise ValueError(f"bad blockID {block_id!r}")
            return BlockRef(number=int(number), hash=block_id.lower(), timestamp=int(raw["timestamp"]) // 1000)
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: answered a malformed block: {error!r}") from error

    def _transfer(self, tx: Any, ref: BlockRef, watch: Watch) -> Observed | None:
        try:
            if (tx.get("ret") or [{}])[0].get("contractRet") != "SUCCESS":
                return None
            contract = tx["raw_data"]["contract"][0]
            value = contract["parameter"]["value"]
            txid = tx["txID"]
            kind = contract.get("type")
            if kind == "TransferContract":
                to = _to_base58(value.get("to_address"))
                amount = int(value.get("amount", 0))
                if to is None or to not in watch.addresses or amount <= 0:
                    return None
                asset, index = self.native_asset, TRX_INDEX
            elif kind == "TriggerSmartContract":
                token = _to_base58(value.get("contract_address"))
                asset = watch.tokens.get(token or "")
                data = value.get("data") or ""
                if asset is None or not isinstance(data, str) or not data.lower().startswith(TRC20_TRANSFER):
                    return None
                raw = bytes.fromhex(data[8:])
                if len(raw) < 64:
                    return None  # too short: the contract's ABI decoder reverts
                to = tron_address_from_hex("41" + raw[12:32].hex())
                amount = int.from_bytes(raw[32:64], "big")
                if to not in watch.addresses or amount <= 0:
                    return None
                if not self._token_call_succeeded(txid, ref.number):
                    return None
                index = TRC20_INDEX
            else:
                return None
            if not isinstance(txid, str) or len(txid) != 64:
                raise ValueError(f"bad txID {txid!r}")
            return Observed(
                tx_hash=txid.lower(), index=index, to_address=to, asset=asset, amount_base_units=amount,
                sender=_to_base58(value.get("owner_address")) or "", block_number=ref.number, block_hash=ref.hash,
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, EncodingError) as error:
            raise ChainUnavailable(f"{self._where()}: answered a malformed transaction in block "
                                   f"{ref.number}: {error!r}") from error

    def _token_call_succeeded(self, txid: str, number: int) -> bool:
        info = self._post("/wallet/gettransactioninfobyid", {"value": txid})
        if info == {}:
            raise ChainUnavailable(f"{self._where()}: no transaction info for {txid} of block {number}")
        try:
            if int(info.get("blockNumber", -1)) != number:
                raise ChainUnavailable(f"{self._where()}: transaction {txid} moved out of block {number}")
            return (info.get("receipt") or {}).get("result") == "SUCCESS"
        except (TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: bad transaction info for {txid}: {error!r}") from error
