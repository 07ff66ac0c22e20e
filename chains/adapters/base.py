"""The chain adapter interface: what the scanner (wallets/scanning.py) needs from a chain.

An adapter reads; it never writes to the database. The scanner owns cursors, transfers,
confirmations, reorgs and the order updates, the same for every family.
"""

from __future__ import annotations

import abc
import itertools
import json
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

from chains.networks import get_network


class ChainUnavailable(Exception):
    """The node could not be reached or answered nonsense: try again later."""


class WrongChain(ChainUnavailable):
    """The node belongs to another chain than the network and mode it is configured for (a
    testnet node behind a live entry): it is never scanned, and its network takes no charges."""


class JsonRpcError(Exception):
    """A JSON-RPC 2.0 error object a node answered (`code` is None when it had none, `data` the
    error's optional details, e.g. Solana's `{"err": ...}` of a refused transaction)."""

    def __init__(self, method: str, error: Any):
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        super().__init__(f"{method}: {message} (code {code})")
        self.code = code
        self.data = error.get("data") if isinstance(error, dict) else None  # the error's details, if any


def check_block_range(from_block: int, to_block: int) -> None:
    """A scan's range: whole block numbers, from_block <= to_block, neither negative."""
    if isinstance(from_block, bool) or isinstance(to_block, bool) or from_block < 0 or to_block < from_block:
        raise ValueError(f"Bad block range {from_block}..{to_block}")


@dataclass(frozen=True)
class BlockRef:
    number: int
    hash: str
    timestamp: int  # Unix seconds, from the block header


@dataclass(frozen=True)
class Watch:
    """What to look for in a block range.

    `addresses`: deposit addresses in the adapter's normal form (EVM: lowercase 0x hex). On the
    XRP Ledger it is the receiving account; orders are told apart by Observed.destination_tag.
    `tokens`: token contract (normal form) -> asset code, e.g. {"0xdac1...": "USDT"}.
    """

    addresses: AbstractSet[str]
    tokens: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """One incoming transfer to a watched address, as the chain shows it."""
    tx_hash: str
    index: int  # log index (token transfers) / output index (UTXO) / 0 for a native EVM value transfer
    to_address: str  # normal form, one of Watch.addresses
    asset: str
    amount_base_units: int
    sender: str
    block_number: int
    block_hash: str
    destination_tag: int | None = None  # XRP Ledger: which order's payment (one account, a tag each)
    # Unix seconds of the block (its header's time), when the adapter read it on the way; the
    # scanner asks the node for the others. A payment's lateness is judged by it.
    block_time: int | None = None


class ChainAdapter(abc.ABC):
    network: str
    mode: str

    @abc.abstractmethod
    def head(self) -> BlockRef:
        """The newest block the node has."""

    @abc.abstractmethod
    def block(self, number: int) -> BlockRef | None:
        """The block at `number` on the node's current chain, or None past its head."""

    @abc.abstractmethod
    def scan(self, *, from_block: int, to_block: int, watch: Watch) -> list[Observed]:
        """Every transfer to a watched address in blocks from_block..to_block (inclusive).
        The cost must not grow with the number of watched addresses (filter locally)."""

    @abc.abstractmethod
    def normalize(self, address: str) -> str:
        """An address in the form `Observed.to_address` and `Watch.addresses` use."""

    @abc.abstractmethod
    def chain_identity(self) -> str:
        """What the node says its chain is: the EVM chain id, the UTXO chain name, the genesis
        hash (Solana, Tron), the XRP Ledger network id; see Network.accepts_chain."""

    def node_synced(self) -> bool | None:
        """Does the node say it is in step with its network (None: it cannot say)?"""
        return None

    def check_chain(self) -> None:
        """Refuse (WrongChain) a node of another chain than this adapter's network and mode.
        Asked once per adapter; every scan pass starts with it."""
        if getattr(self, "_chain_checked", False):
            return
        identity = self.chain_identity()
        if not get_network(self.network).accepts_chain(self.mode, identity):
            raise WrongChain(f"wrong chain: the {self.network} {self.mode} node at {getattr(self, 'rpc_url', '?')} "
                             f"is a node of {identity!r}, not of {get_network(self.network).display_name} {self.mode}")
        self._chain_checked = True


class HttpChainAdapter(ChainAdapter):
    """What the adapters that speak HTTP to a node share: the network and mode checks, one
    kept-alive session (no proxies or .netrc credentials from the environment), request ids,
    a repr without credentials, and close()."""

    family: str

    def _setup(self, *, network: str, mode: str, rpc_url: str, timeout: float) -> None:
        net = get_network(network)
        if net.family != self.family:
            raise ValueError(f"{net.display_name} is not a {self.family} network.")
        if mode not in ("live", "test"):
            raise ValueError(f"Unknown mode {mode!r}")
        self.network = net.label
        self.mode = mode
        self.native_asset = net.native_symbol
        self.rpc_url = rpc_url
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False
        self._ids = itertools.count(1)

    def _json_rpc(self, method: str, params: list, *, version: str = "2.0", auth=None,
                  answered: tuple[int, ...] = (200,)) -> Any:
        """One JSON-RPC call over the kept-alive session, numbers in the answer as Decimal (never
        float). `answered`: the HTTP statuses that carry a JSON-RPC answer (bitcoind sends its
        errors with 500, an unknown method with 404). A node that cannot be reached, answers
        another status or nonsense, or answers an error raises ChainUnavailable; for an error
        its JsonRpcError (with the code) is the cause."""
        body = {"jsonrpc": version, "id": next(self._ids), "method": method, "params": params}
        where = f"{self.network} {self.mode} node at {self.rpc_url}"
        try:
            response = self._session.post(self.rpc_url, json=body, auth=auth, timeout=self.timeout)
            if response.status_code not in answered:
                raise ChainUnavailable(f"{where}: HTTP {response.status_code} on {method}")
            answer = json.loads(response.content, parse_float=Decimal)
        except ChainUnavailable:
            raise
        except (requests.RequestException, OSError, ValueError) as error:
            raise ChainUnavailable(f"{where}: {method}: {error}") from error
        if not isinstance(answer, dict) or "result" not in answer and "error" not in answer:
            raise ChainUnavailable(f"{where}: {method} answered nonsense")
        if answer.get("error") is not None:
            error = JsonRpcError(method, answer["error"])
            raise ChainUnavailable(f"{where}: {error}") from error
        return answer["result"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(network={self.network!r}, mode={self.mode!r}, rpc_url={self.rpc_url!r})"

    def close(self) -> None:
        """Close the kept-alive HTTP connections (bitcoind's `stop` waits for open ones)."""
        self._session.close()
