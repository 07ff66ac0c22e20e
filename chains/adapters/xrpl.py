"""The XRP Ledger's chain adapter, over a rippled (or Clio) node's JSON-RPC.

A "block" is a validated ledger: `head` is the newest validated ledger (`ledger` with
ledger_index "validated"), `block(n)` the validated ledger n (`lgrNotFound` -> None). The
XRP Ledger does not reorganize validated ledgers; the scanner's reorg check costs one `ledger`
call per pass and never fires. Ledger close times count seconds from the Ripple epoch
(2000-01-01, Unix 946684800); BlockRef.timestamp is Unix seconds.

What `scan` sees: one deployment has one receiving account and tells orders apart by their
destination tag, so the adapter asks the node for that account's transactions over the ledger
range (`account_tx` with ledger_index_min/max, forward, paged with `marker`), not for every
ledger's transactions: the answer holds only transactions touching the account, and its cost
does not depend on the number of watched tags (nor, unlike `ledger` with expanded
transactions, on the ledgers' total traffic). A Watch with several accounts costs one
`account_tx` walk per account.

A transaction counts only when it is validated, a `Payment`, to the watched account
(`Destination`), and succeeded (`meta.TransactionResult == "tesSUCCESS"`); the amount is
`meta.delivered_amount`, **never** `Amount`: a partial payment (tfPartialPayment) may carry a
large `Amount` and deliver almost nothing. Only XRP (a drops string) counts; issued currencies
(an object amount) are ignored, and so is a payment whose delivered_amount is "unavailable"
(only ledgers from before 2014 lack it). `destination_tag` is `DestinationTag` (a payment
without one matches no order), `index` is `meta.TransactionIndex`, `sender` is `Account`,
`tx_hash` the transaction's hash; the block is the ledger index and the ledger's hash (read
with `ledger` for each ledger holding a match).

The node's answer must cover the whole asked range: a node missing some of those ledgers
(rippled clamps ledger_index_min/max to the history it has) raises ChainUnavailable rather
than skipping payments silently. An account the node does not know (`actNotFound`: nothing
was ever paid to it) has no payments. Any other error (refused connection, timeout, HTTP
error, an error answer, nonsense) raises ChainUnavailable.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import requests
from xrpl.core.addresscodec import is_valid_classic_address, is_valid_xaddress

from chains.adapters.base import BlockRef, ChainUnavailable, HttpChainAdapter, Observed, Watch, check_block_range
from chains.networks import XRPL_MAINNET_ID

RIPPLE_EPOCH = 946684800
ACCOUNT_TX_LIMIT = 400  # per page; rippled caps it (400 for non-admin clients)
API_VERSION = 1  # rippled's and Clio's default; asked for explicitly, v2 shapes are read too


class _NodeError(Exception):
    def __init__(self, method: str, result: dict):
        self.code = result.get("error")
        self.searched_all = result.get("searched_all")
        super().__init__(f"{method}: {self.code}: {result.get('error_message') or result.get('error_exception') or ''}")


def _drops(value: Any) -> int | None:
    """Drops of an XRP amount (a string of digits); None for an issued-currency amount or
    "unavailable"."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


# -- sending (settlements) ------------------------------------------------------------------------

LSF_REQUIRE_DEST_TAG = 0x00020000  # AccountRoot flag: payments to it must carry a destination tag
# submit's engine_result codes that mean "the node took it" (it will be in a ledger, or is held
# to retry): tes, tec (included with its fee claimed, the outcome shows in `tx`), ter (queued or
# waiting for an earlier sequence), and tefALREADY (this very transaction is already applied).
_ACCEPTED_PREFIXES = ("tes", "tec", "ter")


@dataclasses.dataclass(frozen=True)
class Reserves:
    """The ledger's reserves and reference fee, from server_info's validated_ledger."""

    base_drops: int        # reserve_base_xrp: what any account must keep
    increment_drops: int   # reserve_inc_xrp: kept per object the account owns (OwnerCount)
    base_fee_drops: int
    validated_ledger: int


@dataclasses.dataclass(frozen=True)
class AccountInfo:
    address: str
    balance_drops: int
    sequence: int
    owner_count: int
    flags: int

    @property
    def requires_destination_tag(self) -> bool:
        return bool(self.flags & LSF_REQUIRE_DEST_TAG)


@dataclasses.dataclass(frozen=True)
class Submitted:
    engine_result: str
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.engine_result.startswith(_ACCEPTED_PREFIXES) or self.engine_result == "tefALREADY"

    @property
    def local_only(self) -> bool:
        """tel: this server refused it for now (its load, its fee escalation): try again later."""
        return self.engine_result.startswith("tel")


@dataclasses.dataclass(frozen=True)
class TxLookup:
    """`tx` by hash. found=False with searched_all=True: the node has every ledger of the asked
    range and the transaction is in none of them."""

    found: bool
    validated: bool = False
    ledger_index: int | None = None
    result: str = ""
    delivered_drops: int | None = None
    fee_drops: int | None = None
    searched_all: bool = False


def _xrp_to_drops(value: Any) -> int:
    """A server_info XRP figure (a JSON number such as 0.2 or 10) in drops, exactly."""
    amount = Decimal(str(value)) * 1_000_000
    if amount != amount.to_integral_value() or amount < 0:
        raise ValueError(f"not a whole number of drops: {value!r}")
    return int(amount)


def _node_error(error: ChainUnavailable) -> str | None:
    return error.__cause__.code if isinstance(error.__cause__, _NodeError) else None


class XrplSender:
    """The RPC calls sending needs, mixed into XrplAdapter."""

    def reserves(self) -> Reserves:
        """Base and owner reserve of the newest validated ledger (server_info; server_state's
        validated_ledger gives drops, server_info's XRP: both read), never hard-coded."""
        info = self._server_info()
        ledger = info.get("validated_ledger")
        try:
            if not isinstance(ledger, dict):
                raise KeyError("validated_ledger")
            if "reserve_base" in ledger:  # server_state: drops
                base, inc, fee = int(ledger["reserve_base"]), int(ledger["reserve_inc"]), int(ledger["base_fee"])
            else:
                base, inc = _xrp_to_drops(ledger["reserve_base_xrp"]), _xrp_to_drops(ledger["reserve_inc_xrp"])
                fee = _xrp_to_drops(ledger.get("base_fee_xrp", "0.00001"))
            return Reserves(base_drops=base, increment_drops=inc, base_fee_drops=fee,
                            validated_ledger=int(ledger["seq"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: server_info answered no reserves: {error!r}") from error

    def account_info(self, address: str) -> AccountInfo | None:
        """The account as of the validated ledger; None when it does not exist (actNotFound)."""
        try:
            result = self._call("account_info", {"account": address, "ledger_index": "validated", "strict": True})
        except ChainUnavailable as error:
            if _node_error(error) == "actNotFound":
                return None
            raise
        try:
            data = result["account_data"]
            return AccountInfo(address=data["Account"], balance_drops=int(data["Balance"]),
                               sequence=int(data["Sequence"]), owner_count=int(data.get("OwnerCount", 0)),
                               flags=int(data.get("Flags", 0)))
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: account_info answered nonsense: {error!r}") from error

    def fee_drops(self) -> int:
        """The fee a transaction needs to get into the open ledger now (`fee`: open_ledger_fee,
        at least the minimum)."""
        result = self._call("fee", {})
        try:
            drops = result["drops"]
            return max(int(drops["open_ledger_fee"]), int(drops["minimum_fee"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: fee answered nonsense: {error!r}") from error

    def submit(self, blob: str) -> Submitted:
        """Submit a signed blob (hex). The engine_result is the caller's to judge (Submitted)."""
        result = self._call("submit", {"tx_blob": blob, "fail_hard": False})
        code = result.get("engine_result")
        if not isinstance(code, str):
            raise ChainUnavailable(f"{self._where()}: submit answered no engine_result")
        return Submitted(engine_result=code, message=str(result.get("engine_result_message") or ""))

    def tx(self, tx_hash: str, *, min_ledger: int | None = None, max_ledger: int | None = None) -> TxLookup:
        params: dict[str, Any] = {"transaction": tx_hash, "binary": False}
        if min_ledger is not None and max_ledger is not None:
            params.update(min_ledger=min_ledger, max_ledger=max_ledger)
        try:
            result = self._call("tx", params)
        except ChainUnavailable as error:
            if _node_error(error) == "txnNotFound":
                cause = error.__cause__
                return TxLookup(found=False, searched_all=bool(getattr(cause, "searched_all", False)))
            raise
        try:
            meta = result.get("meta") or {}
            validated = result.get("validated") is True
            tx = result.get("tx_json") or result
            return TxLookup(
                found=True, validated=validated,
                ledger_index=int(result["ledger_index"]) if validated else None,
                result=str(meta.get("TransactionResult") or ""),
                delivered_drops=_drops(meta.get("delivered_amount")),
                fee_drops=int(tx["Fee"]) if tx.get("Fee") is not None else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ChainUnavailable(f"{self._where()}: tx answered nonsense: {error!r}") from error


class XrplAdapter(XrplSender, HttpChainAdapter):
    family = "xrpl"

    def __init__(self, *, network: str = "xrpl", mode: str, rpc_url: str, timeout: float = 10):
        self._setup(network=network, mode=mode, rpc_url=rpc_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"XrplAdapter(network={self.network!r}, mode={self.mode!r}, rpc_url={self.rpc_url!r})"

    def close(self) -> None:
        self._session.close()

    # -- the interface -------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """The classic address (r…). X-addresses are refused: deposit rows hold the classic
        account and the tag apart."""
        if not isinstance(address, str) or not address.isascii() or address != address.strip():
            raise ValueError(f"Not an XRP Ledger classic address: {address!r}")
        if is_valid_xaddress(address):
            raise ValueError(f"An X-address is not a classic XRP Ledger address: {address!r}")
        if not is_valid_classic_address(address):
            raise ValueError(f"Not an XRP Ledger classic address: {address!r}")
        return address

    def chain_identity(self) -> str:
        info = self._server_info()
        return str(info.get("network_id", XRPL_MAINNET_ID))  # rippled leaves it out on the mainnet

    def node_synced(self) -> bool | None:
        return self._server_info().get("server_state") in {"full", "proposing", "validating"}

    def _server_info(self) -> dict:
        info = self._call("server_info", {}).get("info")
        if not isinstance(info, dict):
            raise ChainUnavailable(f"{self._where()}: server_info answered no info")
        return info

    def head(self) -> BlockRef:
        ref = self._ledger("validated")
        if ref is None:
            raise ChainUnavailable(f"{self.network} {self.mode} node has no validated ledger")
        return ref

    def block(self, number: int) -> BlockRef | None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"Bad ledger index {number!r}")
        ref = self._ledger(number)
        if ref is not None and ref.number != number:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered ledger {ref.number} for {number}")
        return ref

    def scan(self, *, from_block: int, to_block: int, watch: Watch) -> list[Observed]:
        check_block_range(from_block, to_block)  # ledger indexes
        found: list[tuple[tuple[int, int], Observed]] = []
        hashes: dict[int, str] = {}
        for account in sorted(watch.addresses):
            for entry in self._account_tx(account, from_block, to_block):
                item = self._payment(entry, account, from_block, to_block)
                if item is None:
                    continue
                number, tx_index, observed = item
                if number not in hashes:
                    ref = self.block(number)
                    if ref is None:
                        raise ChainUnavailable(f"ledger {number} is gone from the {self.network} node")
                    hashes[number] = ref.hash
                observed = dataclasses.replace(observed, block_hash=hashes[number])
                found.append(((number, tx_index), observed))
        found.sort(key=lambda pair: pair[0])
        return [observed for _, observed in found]

    # -- helpers ----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.network} {self.mode} node at {self.rpc_url}"

    def _call(self, method: str, params: dict) -> dict:
        body = {"method": method, "params": [{**params, "api_version": API_VERSION}], "id": next(self._ids)}
        try:
            response = self._session.post(self.rpc_url, json=body, timeout=self.timeout)
            if response.status_code != 200:
                raise ChainUnavailable(f"{self._where()}: HTTP {response.status_code} on {method}")
            answer = json.loads(response.content)
        except ChainUnavailable:
            raise
        except (requests.RequestException, OSError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: {method}: {error}") from error
        result = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(result, dict):
            raise ChainUnavailable(f"{self._where()}: {method} answered nonsense")
        if result.get("status") == "error" or "error" in result:
            error = _NodeError(method, result)
            raise ChainUnavailable(f"{self._where()}: {error}") from error
        if result.get("status") != "success":
            raise ChainUnavailable(f"{self._where()}: {method} answered without a status")
        return result

    def _ledger(self, spec: int | str) -> BlockRef | None:
        try:
            result = self._call("ledger", {"ledger_index": spec, "transactions": False, "expand": False})
        except ChainUnavailable as error:
            if isinstance(error.__cause__, _NodeError) and error.__cause__.code == "lgrNotFound":
                return None
            raise
        try:
            if result.get("validated") is not True:
                # a ledger not validated yet (the node has closed it, the network has not agreed)
                return None if spec != "validated" else self._bad("ledger", "an unvalidated ledger")
            ledger = result["ledger"]
            number = int(ledger.get("ledger_index", result.get("ledger_index")))
            ledger_hash = ledger.get("ledger_hash") or result["ledger_hash"]
            if not isinstance(ledger_hash, str) or len(ledger_hash) != 64:
                return self._bad("ledger", f"a bad ledger hash {ledger_hash!r}")
            close_time = int(ledger["close_time"])
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self._where()}: ledger answered a malformed ledger: {error!r}") from error
        return BlockRef(number=number, hash=ledger_hash.upper(), timestamp=close_time + RIPPLE_EPOCH)

    def _bad(self, method: str, what: str):
        raise ChainUnavailable(f"{self._where()}: {method} answered {what}")

    def _account_tx(self, account: str, low: int, high: int):
        marker = None
        while True:
            params: dict[str, Any] = {"account": account, "ledger_index_min": low, "ledger_index_max": high,
                                      "forward": True, "limit": ACCOUNT_TX_LIMIT}
            if marker is not None:
                params["marker"] = marker
            try:
                result = self._call("account_tx", params)
            except ChainUnavailable as error:
                if isinstance(error.__cause__, _NodeError) and error.__cause__.code == "actNotFound":
                    return  # an account nothing was ever paid to
                raise
            try:
                answered_low, answered_high = int(result["ledger_index_min"]), int(result["ledger_index_max"])
                transactions = result["transactions"]
            except (KeyError, TypeError, ValueError) as error:
                raise ChainUnavailable(f"{self._where()}: account_tx answered nonsense: {error!r}") from error
            if answered_low > low or answered_high < high:
                raise ChainUnavailable(f"{self._where()}: account_tx covered ledgers {answered_low}..{answered_high}, "
                                       f"not {low}..{high} (the node lacks that history)")
            if not isinstance(transactions, list):
                self._bad("account_tx", "transactions that are not a list")
            yield from transactions
            marker = result.get("marker")
            if marker is None:
                return

    def _payment(self, entry: Any, account: str, low: int, high: int) -> tuple[int, int, Observed] | None:
        """(ledger index, transaction index, Observed without its block hash) for an
        incoming successful XRP payment to `account`; None for anything else."""
        try:
            tx = entry.get("tx_json") or entry.get("tx")  # API v2 / v1
            meta = entry.get("meta") or entry.get("metaData")
            if not isinstance(tx, dict) or not isinstance(meta, dict):
                self._bad("account_tx", "a transaction without tx or meta")
            if entry.get("validated") is not True:
                return None
            if tx.get("TransactionType") != "Payment" or tx.get("Destination") != account:
                return None
            if meta.get("TransactionResult") != "tesSUCCESS":
                return None
            drops = _drops(meta.get("delivered_amount"))  # never tx["Amount"]: partial payments
            if drops is None or drops <= 0:
                return None
            number = int(entry.get("ledger_index", tx.get("ledger_index")))
            if not low <= number <= high:
                self._bad("account_tx", f"a transaction of ledger {number} outside {low}..{high}")
            tx_hash = entry.get("hash") or tx.get("hash")
            if not isinstance(tx_hash, str) or len(tx_hash) != 64:
                self._bad("account_tx", f"a bad transaction hash {tx_hash!r}")
            tag = tx.get("DestinationTag")
            if tag is not None and (isinstance(tag, bool) or not isinstance(tag, int)):
                self._bad("account_tx", f"a bad DestinationTag {tag!r}")
            tx_index = int(meta["TransactionIndex"])
            return number, tx_index, Observed(
                tx_hash=tx_hash.upper(), index=tx_index, to_address=account, asset=self.native_asset,
                amount_base_units=drops, sender=str(tx.get("Account") or ""), block_number=number, block_hash="",
                destination_tag=tag,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ChainUnavailable(f"{self._where()}: account_tx answered a malformed transaction: {error!r}") from error
