"""The local chain nodes as pytest fixtures, each started once per test session (the root
conftest.py registers this module with `pytest_plugins`).

    anvil          (module)    the session's anvil; every module starts on the chain as it was
                               at the session's start (evm_snapshot at the module's start,
                               evm_revert at its end)
    litecoind      (session)   the session's regtest litecoind; it only grows, so tests pay to
                               fresh addresses and read the heights they made
    local_solana   (function)  the session's LiteSVM-backed Solana server, reset for each test
    tron_fake      (function)  the session's Tron full-node stand-in, reset for each test
    xrpl_fake      (function)  the session's rippled stand-in, reset for each test

A test that needs a node to itself asks for one of these, never starts its own: starting
litecoind (and mining its first 101 blocks) or anvil costs seconds, and shutting a stand-in's
HTTP server down costs half a second.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from testing.anvil import Anvil, start_anvil
from testing.litecoind import Litecoind, start_litecoind
from testing.solana_local import LocalSolana, start_local_solana
from testing.tron_fake import TronFake, start_tron_fake
from testing.xrpl_fake import XrplFake, start_xrpl_fake


@pytest.fixture(scope="session")
def anvil_session() -> Iterator[Anvil]:
    """The one anvil process of the session; tests use `anvil`. Its chain id is Ethereum
    mainnet's (1), so that live-mode tests may scan it; a test of another chain id sets one
    with anvil_setChainId and puts 1 back."""
    with start_anvil(chain_id=1) as node:  # no FLUXA_ANVIL_BIN fails here: never a skip
        yield node


@pytest.fixture(scope="module")
def anvil(anvil_session: Anvil) -> Iterator[Anvil]:
    """The session's anvil, on the chain as it was when the session started: whatever a module
    mines, deploys or sends is reverted when the module ends."""
    snapshot = anvil_session.snapshot()
    yield anvil_session
    anvil_session.rpc("evm_setAutomine", [True])  # in case a test left it off
    anvil_session.revert(snapshot)


@pytest.fixture(scope="session")
def litecoind() -> Iterator[Litecoind]:
    """The one regtest litecoind of the session, its wallet funded (101 blocks mined)."""
    with start_litecoind() as node:  # no FLUXA_LITECOIND_BIN fails here: never a skip
        yield node


@pytest.fixture(scope="session")
def local_solana_session() -> Iterator[LocalSolana]:
    with start_local_solana() as local:
        yield local


@pytest.fixture
def local_solana(local_solana_session: LocalSolana) -> LocalSolana:
    """The session's Solana server on a fresh chain (one block at slot 1000)."""
    local_solana_session.reset()
    return local_solana_session


@pytest.fixture(scope="session")
def tron_fake_session() -> Iterator[TronFake]:
    with start_tron_fake() as fake:
        yield fake


@pytest.fixture
def tron_fake(tron_fake_session: TronFake) -> TronFake:
    """The session's Tron stand-in on a fresh chain (only the genesis block)."""
    tron_fake_session.reset()
    return tron_fake_session


@pytest.fixture(scope="session")
def xrpl_fake_session() -> Iterator[XrplFake]:
    with start_xrpl_fake() as fake:
        yield fake


@pytest.fixture
def xrpl_fake(xrpl_fake_session: XrplFake) -> XrplFake:
    """The session's rippled stand-in on a fresh history (one empty ledger)."""
    xrpl_fake_session.reset()
    return xrpl_fake_session
