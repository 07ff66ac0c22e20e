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

import os
from pathlib import Path
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


CHROMIUM = os.environ.get("FLUXA_CHROMIUM_BIN", "/usr/bin/chromium")  # scripts/browser.sh installs it


@pytest.fixture(scope="module")
def browser():
    """One Debian chromium for the module, driven by Playwright (its own browser builds cannot
    be downloaded here). Playwright's sync API runs an event loop in this thread, so the ORM
    calls a test makes meanwhile need DJANGO_ALLOW_ASYNC_UNSAFE, set for the module."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/browser.sh installs Debian's chromium")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
