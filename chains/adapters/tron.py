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


class TronAdapter(HttpChainAdapter):
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
