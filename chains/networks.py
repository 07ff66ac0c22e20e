"""Registry of the blockchain networks fluxa accepts payments on.

Each network is a frozen :class:`Network` keyed by its lowercase label.  The
registry is pure data: no I/O, no database.

Modes
-----
Every merchant operates in ``"live"`` (mainnets) or ``"test"`` (public
testnets).  Values that differ between the two (EVM chain id, BIP44 coin type
for UTXO chains, bech32 human-readable part, base58 version bytes) are stored
for both and selected with the ``*_for(mode)`` helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from core.modes import MODES

Family = Literal["evm", "utxo", "tron", "solana", "xrpl"]


# EVM chain ids of local development nodes (anvil and hardhat 31337, ganache and geth --dev
# 1337): test mode accepts them next to the network's public testnet.
LOCAL_DEV_CHAIN_IDS = frozenset({31337, 1337})
# What bitcoind / litecoind call their non-main chains in getblockchaininfo.
UTXO_TEST_CHAINS = frozenset({"test", "testnet4", "signet", "regtest"})
# XRP Ledger network ids (server_info): 0 is the mainnet; rippled leaves it out there.
XRPL_MAINNET_ID = "0"


class UnknownNetwork(ValueError):
    """Raised when a network label is not in the registry."""


class UnknownMode(ValueError):
    """Raised when a mode is neither ``"live"`` nor ``"test"``."""


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is ``"live"`` or ``"test"`` (a :class:`core.modes.Mode`), else
    raise :class:`UnknownMode`."""
    if mode not in MODES:
        raise UnknownMode(f"Unknown mode {mode!r}: expected 'live' or 'test'.")
    return mode


@dataclass(frozen=True)
class Network:
    """Static description of one network.

    ``coin_type``/``coin_type_test`` are SLIP-44 coin types used in derivation
    paths; UTXO chains use coin type 1 (all testnets) in test mode, the other
    families keep their coin type and separate test keys by account (see
    :mod:`chains.derivation`).
    """

    label: str
    display_name: str
    family: Family
    native_symbol: str
    native_decimals: int
    coin_type: int
    coin_type_test: int
    uri_scheme: str
    testnet_name: str
    chain_id_live: int | None = None
    chain_id_test: int | None = None
    hrp_live: str | None = None
    hrp_test: str | None = None
    p2pkh_live: int | None = None
    p2sh_live: int | None = None
    p2pkh_test: int | None = None
    p2sh_test: int | None = None
    bitcoinlib_live: str | None = None
    bitcoinlib_test: str | None = None
    # The chain's mean time between blocks (ledgers, slots): how old the newest block may be
    # before a live node counts as behind (`max_head_age_seconds`).
    block_interval_seconds: float = 10.0
    # What the node of each mode must say it is (see `accepts_chain`): the genesis hash
    # (Solana, Tron) or chain name (UTXO) of the live network.
    live_identity: str | None = None

    @property
    def is_evm(self) -> bool:
        """True for EVM chains (shared address format, chain id matters)."""
        return self.family == "evm"

    def chain_id_for(self, mode: str) -> int:
        """EVM chain id for ``mode``; raises ``ValueError`` on non-EVM networks."""
        check_mode(mode)
        chain_id = self.chain_id_live if mode == "live" else self.chain_id_test
        if chain_id is None:
            raise ValueError(f"{self.display_name} has no EVM chain id.")
        return chain_id

    @property
    def max_head_age_seconds(self) -> float:
        """How old a live node's newest block may be before the node counts as behind: twelve
        mean intervals (a wait that long without a block has odds of e^-12 on a healthy
        chain, once in 160,000 checks), and never under two minutes. Test mode does not
        judge by block age: test and local development chains may sit idle for hours."""
        return max(120.0, 12 * self.block_interval_seconds)

    def accepts_chain(self, mode: str, identity: str) -> bool:
        """Is a node that says it is `identity` (its adapter's `chain_identity()`) a node of
        this network in `mode`? Live mode wants the live network exactly; test mode takes the
        test network, a local development chain, anything but the live network."""
        live = str(self.chain_id_live) if self.is_evm else self.live_identity
        if check_mode(mode) == "live":
            return identity == live
        if self.is_evm:
            return identity in {str(self.chain_id_test), *(str(i) for i in LOCAL_DEV_CHAIN_IDS)}
        if self.family == "utxo":
            return identity in UTXO_TEST_CHAINS
        return identity != live

    def coin_type_for(self, mode: str) -> int:
        """SLIP-44 coin type used in derivation paths for ``mode``."""
        return self.coin_type if check_mode(mode) == "live" else self.coin_type_test

    def hrp_for(self, mode: str) -> str:
        """Bech32 human-readable part for ``mode``; UTXO networks only."""
        hrp = self.hrp_live if check_mode(mode) == "live" else self.hrp_test
        if hrp is None:
            raise ValueError(f"{self.display_name} has no bech32 prefix.")
        return hrp

    def base58_versions_for(self, mode: str) -> tuple[int, int]:
        """``(p2pkh, p2sh)`` base58check version bytes for ``mode``; UTXO only."""
        if check_mode(mode) == "live":
            pair = (self.p2pkh_live, self.p2sh_live)
        else:
            pair = (self.p2pkh_test, self.p2sh_test)
        if pair[0] is None or pair[1] is None:
            raise ValueError(f"{self.display_name} has no base58 address versions.")
        return pair  # type: ignore[return-value]

    def bitcoinlib_network_for(self, mode: str) -> str:
        """bitcoinlib network name (``bitcoin``, ``testnet``, ...); UTXO only."""
        name = self.bitcoinlib_live if check_mode(mode) == "live" else self.bitcoinlib_test
        if name is None:
            raise ValueError(f"{self.display_name} is not handled by bitcoinlib.")
        return name


def _evm(label: str, name: str, symbol: str, live: int, test: int, testnet: str, interval: float) -> Network:
    return Network(
        label=label,
        display_name=name,
        family="evm",
        native_symbol=symbol,
        native_decimals=18,
        coin_type=60,
        coin_type_test=60,
        uri_scheme="ethereum",
        testnet_name=testnet,
        chain_id_live=live,
        chain_id_test=test,
        block_interval_seconds=interval,
    )


_ALL: tuple[Network, ...] = (
    Network(
        label="tron",
        display_name="TRON",
        family="tron",
        native_symbol="TRX",
        native_decimals=6,
        coin_type=195,
        coin_type_test=195,
        uri_scheme="tron",
        testnet_name="TRON Nile testnet",
        block_interval_seconds=3,
        live_identity="00000000000000001ebf88508a03865c71d452e25f4d51194196a1d22b6653dc",  # mainnet genesis
    ),
    _evm("ethereum", "Ethereum", "ETH", 1, 11155111, "Sepolia", 12),
    _evm("base", "Base", "ETH", 8453, 84532, "Base Sepolia", 2),
    _evm("bsc", "BNB Smart Chain", "BNB", 56, 97, "BSC testnet", 3),
    _evm("polygon", "Polygon", "POL", 137, 80002, "Polygon Amoy", 2),
    _evm("arbitrum", "Arbitrum One", "ETH", 42161, 421614, "Arbitrum Sepolia", 0.25),
    Network(
        label="bitcoin",
        display_name="Bitcoin",
        family="utxo",
        native_symbol="BTC",
        native_decimals=8,
        coin_type=0,
        coin_type_test=1,
        uri_scheme="bitcoin",
        testnet_name="Bitcoin testnet",
        hrp_live="bc",
        hrp_test="tb",
        p2pkh_live=0x00,
        p2sh_live=0x05,
        p2pkh_test=0x6F,
        p2sh_test=0xC4,
        bitcoinlib_live="bitcoin",
        bitcoinlib_test="testnet",
        block_interval_seconds=600,
        live_identity="main",
    ),
    Network(
        label="litecoin",
        display_name="Litecoin",
        family="utxo",
        native_symbol="LTC",
        native_decimals=8,
        coin_type=2,
        coin_type_test=1,
        uri_scheme="litecoin",
        testnet_name="Litecoin testnet",
        hrp_live="ltc",
        hrp_test="tltc",
        p2pkh_live=0x30,
        p2sh_live=0x32,
        p2pkh_test=0x6F,
        p2sh_test=0x3A,
        bitcoinlib_live="litecoin",
        bitcoinlib_test="litecoin_testnet",
        block_interval_seconds=150,
        live_identity="main",
    ),
    Network(
        label="solana",
        display_name="Solana",
        family="solana",
        native_symbol="SOL",
        native_decimals=9,
        coin_type=501,
        coin_type_test=501,
        uri_scheme="solana",
        testnet_name="Solana devnet",
        block_interval_seconds=0.4,
        live_identity="5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d",  # mainnet-beta genesis hash
    ),
    Network(
        label="xrpl",
        display_name="XRP Ledger",
        family="xrpl",
        native_symbol="XRP",
        native_decimals=6,
        coin_type=144,
        coin_type_test=144,
        uri_scheme="ripple",
        testnet_name="XRPL testnet",
        block_interval_seconds=4,
        live_identity=XRPL_MAINNET_ID,
    ),
)

NETWORKS: Mapping[str, Network] = MappingProxyType({n.label: n for n in _ALL})
"""Read-only mapping ``label -> Network``."""


def get_network(label: str) -> Network:
    """Return the network for ``label`` (case-insensitive) or raise :class:`UnknownNetwork`."""
    key = label.lower() if isinstance(label, str) else label
    try:
        return NETWORKS[key]
    except (KeyError, TypeError):
        known = ", ".join(NETWORKS)
        raise UnknownNetwork(f"Unknown network {label!r}; expected one of: {known}.") from None


# What merchants (and the peer gateways they migrate from) call the networks, beside fluxa's
# labels: the peers' uppercase codes and the networks' names. Compared case-insensitively
# (`resolve_network`). Only unambiguous names: "ETH" is Ethereum's code at the peers, never
# Base's or Arbitrum's, whose native coin is ETH too.
ALIASES: Mapping[str, str] = MappingProxyType({
    "btc": "bitcoin",
    "ltc": "litecoin",
    "eth": "ethereum",
    "sol": "solana",
    "xrp": "xrpl",
    "ripple": "xrpl",
    "trx": "tron",
    **{n.display_name.lower(): n.label for n in _ALL},  # "TRON", "XRP Ledger", "BNB Smart Chain", ...
})


def resolve_network(name: str) -> Network | None:
    """The network a merchant means by `name`: a label or an alias (ALIASES), whatever its
    case and surrounding spaces (``"TRON"``, ``"Tron"``, ``"TRX"``, ``"BTC"``); None when it
    names none. Merchant input goes through here; `get_network` takes fluxa's labels only."""
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    return NETWORKS.get(ALIASES.get(key, key))
