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


def _evm(label: str, name: str, symbol: str, live: int, test: int, testnet: str) -> Network:
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
    ),
    _evm("ethereum", "Ethereum", "ETH", 1, 11155111, "Sepolia"),
    _evm("base", "Base", "ETH", 8453, 84532, "Base Sepolia"),
    _evm("bsc", "BNB Smart Chain", "BNB", 56, 97, "BSC testnet"),
    _evm("polygon", "Polygon", "POL", 137, 80002, "Polygon Amoy"),
    _evm("arbitrum", "Arbitrum One", "ETH", 42161, 421614, "Arbitrum Sepolia"),
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
