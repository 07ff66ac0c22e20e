"""The UTXO family's chain adapter (Bitcoin, Litecoin), over a bitcoind-compatible node's
JSON-RPC (Bitcoin Core, Litecoin Core): `requests` with HTTP basic auth from the URL's
user:password.

What `scan` sees: every output of every transaction of every block in the range
(`getblock(hash, 2)`, one call per block), each output's scriptPubKey compared with the watched
set here, so the node's work does not grow with the number of deposit addresses. `index` is
the output's `n` (vout), `tx_hash` the txid, the amount is in satoshis (the node's decimal
value read without floats), `sender` is blank: a UTXO transaction has inputs, not a sender.
Coinbase outputs count like any other. Litecoin's MWEB outputs (`ismweb`) are confidential and
never go to a deposit address: they are left out.

Normal form: the lowercase hex of the scriptPubKey an address pays to. The node renders
addresses in its own chain's form (regtest: `bcrt1…`/`rltc1…`) and a hosted node may leave
`address` out for some scripts; the scriptPubKey is the same on every chain and always there.
`normalize` accepts the network's addresses for the adapter's mode: bech32/bech32m segwit
(`bc1`/`tb1`, `ltc1`/`tltc1`) and base58check P2PKH/P2SH with the network's version bytes.

Each block of a scan must follow the one before it (`previousblockhash`); when the chain
reorganizes during a scan the answer would mix two chains, so it raises ChainUnavailable.
Any error from the node (refused connection, timeout, bad credentials, JSON-RPC error,
nonsense) raises ChainUnavailable.

Sending (settlements/families/utxo.py): `send_raw` (sendrawtransaction; a transaction the
node already has in its mempool or its chain is success; a refusal is BroadcastRefused with
the node's code and reason), `transaction` (getrawtransaction verbose: the mempool, or any
block when the node runs -txindex), `find_in_blocks` (the blocks from a height up to the head,
for a node without -txindex), `tx_output` (gettxout), `fee_rate` (estimatesmartfee, sat/vB),
`relay_fees` (the node's minimum and incremental relay fee rates, sat/vB) and
`script_balance` (scantxoutset over one scriptPubKey).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from chains.adapters.base import (
    BlockRef,
    ChainUnavailable,
    HttpChainAdapter,
    JsonRpcError,
    Observed,
    Watch,
    check_block_range,
)
from chains.encoding import EncodingError, b58decode_check, bech32_split_hrp, decode_segwit
from chains.networks import get_network
from core.money import to_base_units

RPC_BLOCK_OUT_OF_RANGE = -8  # getblockhash past the head: "Block height out of range"
RPC_NOT_FOUND = -5  # getrawtransaction / getmempoolentry: no such transaction
RPC_VERIFY_ERROR = -25  # sendrawtransaction: missing or spent inputs
RPC_VERIFY_REJECTED = -26  # sendrawtransaction: refused by policy or consensus (conflict, fee, dust...)
RPC_ALREADY_IN_CHAIN = -27  # sendrawtransaction: the transaction is already in a block
_ALREADY_KNOWN = ("txn-already-known", "txn-already-in-mempool")


class BroadcastRefused(Exception):
    """The node refused a raw transaction for good (not an outage): `code` is bitcoind's
    JSON-RPC code, `missing_inputs` says an input is spent or unknown to it."""

    def __init__(self, reason: str, *, code: int | None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.missing_inputs = code == RPC_VERIFY_ERROR or "missingorspent" in reason or "missing-inputs" in reason
_HEX = re.compile(r"[0-9a-f]*")


def _strip_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without user:password, and the (user, password) it carried."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) RPC URL: {url!r}")
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), auth


def script_of(*, network: str, mode: str, address: str) -> str:
    """The lowercase hex scriptPubKey a UTXO `address` of (network, mode) pays to: bech32 /
    bech32m segwit or base58check P2PKH / P2SH; ValueError when it is not one. No node."""
    net = get_network(network)
    hrp_expected = net.hrp_for(mode)
    p2pkh_version, p2sh_version = net.base58_versions_for(mode)
    if not isinstance(address, str) or not address or not address.isascii() or address != address.strip():
        raise ValueError(f"Not a {net.label} {mode} address: {address!r}")
    hrp = bech32_split_hrp(address)
    if hrp == hrp_expected:
        try:
            decoded = decode_segwit(address)
        except EncodingError as error:
            raise ValueError(f"Not a {net.label} {mode} address: {address!r} {error}") from None
        op = 0 if decoded.version == 0 else 0x50 + decoded.version  # OP_0, OP_1..OP_16
        return (bytes([op, len(decoded.program)]) + decoded.program).hex()
    try:
        raw = b58decode_check(address)
    except EncodingError as error:
        raise ValueError(f"Not a {net.label} {mode} address: {address!r} {error}") from None
    if len(raw) == 21 and raw[0] == p2pkh_version:
        return "76a914" + raw[1:].hex() + "88ac"  # OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
    if len(raw) == 21 and raw[0] == p2sh_version:
        return "a914" + raw[1:].hex() + "87"  # OP_HASH160 <20> OP_EQUAL
    raise ValueError(f"Not a {net.label} {mode} address: {address!r} (unknown version or length)")


class UtxoAdapter(HttpChainAdapter):
    family = "utxo"

    def __init__(self, *, network: str, mode: str, rpc_url: str, timeout: float = 10):
        plain_url, auth = _strip_credentials(rpc_url)  # never log the password
        self._setup(network=network, mode=mode, rpc_url=plain_url, timeout=timeout)
        self._auth = auth
        net = get_network(network)
        self.decimals = net.native_decimals
        self.hrp = net.hrp_for(mode)
        self.p2pkh_version, self.p2sh_version = net.base58_versions_for(mode)

    # -- the interface -------------------------------------------------------------------

    def normalize(self, address: str) -> str:
        """The lowercase hex scriptPubKey `address` pays to; ValueError when it is not an
        address of this network and mode."""
        return script_of(network=self.network, mode=self.mode, address=address)

    def chain_identity(self) -> str:
        chain = self._call("getblockchaininfo").get("chain")
        if not isinstance(chain, str) or not chain:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered getblockchaininfo without a chain")
        return chain

    def node_synced(self) -> bool | None:
        """Out of initial block download, every header it knows validated, and no peer further
        ahead than a block being relayed."""
        info = self._call("getblockchaininfo")
        if info.get("initialblockdownload") or int(info["blocks"]) < int(info["headers"]):
            return False
        peers = self._call("getpeerinfo")
        if self.mode == "live" and not peers:
            return False  # alone, a node cannot know it is behind: a live one must have peers
        return max((int(peer.get("synced_headers", -1)) for peer in peers), default=-1) <= int(info["blocks"]) + 1

    def head(self) -> BlockRef:
        # getbestblockhash + getblockheader: the number and the hash come from one answer, so
        # a block mined between two calls cannot pair one block's number with another's hash.
        best = self._text(self._call("getbestblockhash"), "getbestblockhash")
        return self._ref(self._call("getblockheader", best, True))

    def block(self, number: int) -> BlockRef | None:
        block_hash = self._hash_at(number)
        if block_hash is None:
            return None
        ref = self._ref(self._call("getblockheader", block_hash, True))
        if ref.number != number:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered block {ref.number} for {number}")
        return ref

    def scan(self, *, from_block: int, to_block: int, watch: Watch) -> list[Observed]:
        check_block_range(from_block, to_block)
        if not watch.addresses:
            return []
        found: list[Observed] = []
        previous: str | None = None
        for number in range(from_block, to_block + 1):
            block_hash = self._hash_at(number)
            if block_hash is None:
                raise ChainUnavailable(f"block {number} is past the {self.network} {self.mode} node's head")
            block = self._call("getblock", block_hash, 2)
            try:
                if block["hash"] != block_hash or int(block["height"]) != number:
                    raise ChainUnavailable(f"{self.network} {self.mode} node answered another block for {number}")
                if previous is not None and block.get("previousblockhash") != previous:
                    raise ChainUnavailable(f"block {number} changed during the scan")
                previous = block_hash
                for tx in block["tx"]:
                    txid = self._text(tx["txid"], "txid")
                    for output in tx.get("vout", ()):
                        if output.get("ismweb"):
                            continue
                        script = (output.get("scriptPubKey") or {}).get("hex")
                        if not isinstance(script, str) or script.lower() not in watch.addresses:
                            continue
                        found.append(Observed(
                            tx_hash=txid, index=int(output["n"]), to_address=script.lower(),
                            asset=self.native_asset, amount_base_units=self._base_units(output["value"]),
                            sender="", block_number=number, block_hash=block_hash,
                            block_time=int(block["time"]) if "time" in block else None,
                        ))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise ChainUnavailable(f"{self.network} {self.mode} node answered a malformed block "
                                       f"{number}: {error!r}") from error
        return found

    # -- sending ----------------------------------------------------------------------------

    def send_raw(self, raw: bytes) -> str:
        """Broadcast a signed transaction; returns its txid. Already in the mempool or in a
        block is success (the same bytes sent again)."""
        try:
            return self._text(self._call("sendrawtransaction", raw.hex()), "txid")
        except ChainUnavailable as error:
            cause = error.__cause__
            if not isinstance(cause, JsonRpcError):
                raise
            reason = str(cause)
            if cause.code == RPC_ALREADY_IN_CHAIN or any(known in reason for known in _ALREADY_KNOWN):
                return ""
            if cause.code in (RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED):
                raise BroadcastRefused(reason, code=cause.code) from None
            raise

    def transaction(self, txid: str, block_hash: str | None = None) -> dict | None:
        """getrawtransaction verbose: in the mempool (no `blockhash`), in a block (`blockhash`,
        `confirmations`) when the node runs -txindex or `block_hash` is given; None when the
        node does not know it there."""
        params: list[Any] = [self._text(txid, "txid"), True]
        if block_hash is not None:
            params.append(self._text(block_hash, "block hash"))
        try:
            answer = self._call("getrawtransaction", *params)
        except ChainUnavailable as error:
            if isinstance(error.__cause__, JsonRpcError) and error.__cause__.code == RPC_NOT_FOUND:
                return None
            raise
        if not isinstance(answer, dict) or answer.get("txid") != txid:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered another transaction for {txid}")
        return answer

    def find_in_blocks(self, txid: str, *, from_height: int) -> BlockRef | None:
        """The block of the active chain, from `from_height` to the head, that holds `txid`
        (for a node without -txindex: the caller knows the height before which it cannot be)."""
        head = self.head()
        for number in range(max(0, from_height), head.number + 1):
            block_hash = self._hash_at(number)
            if block_hash is None:
                return None
            block = self._call("getblock", block_hash, 1)
            try:
                if txid in block["tx"]:
                    return BlockRef(number=number, hash=block_hash, timestamp=int(block["time"]))
            except (KeyError, TypeError, ValueError) as error:
                raise ChainUnavailable(f"{self.network} {self.mode} node answered a malformed block "
                                       f"{number}: {error!r}") from error
        return None

    def tx_output(self, txid: str, vout: int, *, include_mempool: bool = False) -> dict | None:
        """gettxout: the unspent output (`value` in base units, `confirmations`, `script`), or
        None when it is spent (in the chain; in the mempool too with include_mempool) or unknown."""
        answer = self._call("gettxout", self._text(txid, "txid"), int(vout), include_mempool)
        if answer is None:
            return None
        try:
            return {"value": self._base_units(answer["value"]), "confirmations": int(answer["confirmations"]),
                    "script": str(answer["scriptPubKey"]["hex"]).lower()}
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad gettxout: {error!r}") from error

    def fee_rate(self, target_blocks: int) -> Decimal | None:
        """estimatesmartfee in sat/vB, or None when the node has no estimate (regtest, a fresh
        node)."""
        answer = self._call("estimatesmartfee", int(target_blocks))
        rate = answer.get("feerate") if isinstance(answer, dict) else None
        if rate is None:
            return None
        try:
            return self._per_vbyte(rate)
        except ValueError as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad fee rate: {error}") from error

    def relay_fees(self) -> tuple[Decimal, Decimal]:
        """(the least fee rate the node's mempool takes now, the incremental relay fee a
        replacement must add), both sat/vB."""
        network = self._call("getnetworkinfo")
        mempool = self._call("getmempoolinfo")
        try:
            least = max(self._per_vbyte(network["relayfee"]), self._per_vbyte(mempool.get("mempoolminfee", 0)))
            incremental = self._per_vbyte(network.get("incrementalfee", network["relayfee"]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered bad relay fees: {error!r}") from error
        return least, incremental

    def script_balance(self, script_hex: str) -> int:
        """Base units held by the unspent outputs paying `script_hex` (scantxoutset; confirmed
        outputs only: the UTXO set has no mempool)."""
        if not _HEX.fullmatch(script_hex or "") or len(script_hex) % 2:
            raise ValueError(f"Not a script: {script_hex!r}")
        answer = self._call("scantxoutset", "start", [f"raw({script_hex})"])
        try:
            return self._base_units(answer["total_amount"])
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad scantxoutset: {error!r}") from error

    # -- helpers ----------------------------------------------------------------------------

    def _per_vbyte(self, per_kvb: Any) -> Decimal:
        """A node's coin-per-kvB rate as base units per vbyte."""
        return Decimal(self._base_units(per_kvb)) / 1000

    def _call(self, method: str, *params: Any) -> Any:
        # bitcoind answers a JSON-RPC error with HTTP 500 (404 for an unknown method) and a JSON
        # body; 401/403 (bad credentials, not allowed) come without one.
        return self._json_rpc(method, list(params), version="1.0", auth=self._auth, answered=(200, 404, 500))

    def _hash_at(self, number: int) -> str | None:
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"Bad block number {number!r}")
        try:
            return self._text(self._call("getblockhash", number), "getblockhash")
        except ChainUnavailable as error:
            if isinstance(error.__cause__, JsonRpcError) and error.__cause__.code == RPC_BLOCK_OUT_OF_RANGE:
                return None
            raise

    def _ref(self, header: Any) -> BlockRef:
        try:
            return BlockRef(number=int(header["height"]), hash=self._text(header["hash"], "hash"),
                            timestamp=int(header["time"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad block header: {error!r}") from error

    def _text(self, value: Any, what: str) -> str:
        if not isinstance(value, str) or len(value) != 64 or not _HEX.fullmatch(value):
            raise ChainUnavailable(f"{self.network} {self.mode} node answered a bad {what}: {value!r}")
        return value

    def _base_units(self, value: Any) -> int:
        """Satoshis of the node's decimal coin amount, exactly (ValueError when it is not a
        whole number of satoshis or is negative)."""
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise ValueError(f"amount {value!r} is not a decimal number")
        try:
            units = to_base_units(value, self.decimals)
        except ValueError as error:  # more decimals than the coin has, or not finite
            raise ValueError(f"amount {value!r} is not a whole number of base units") from error
        if units < 0:
            raise ValueError(f"amount {value!r} is not a whole number of base units")
        return units
