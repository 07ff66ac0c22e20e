"""Fixtures shared by every test folder: signed API clients on real keys.

The suite runs against the PostgreSQL and Redis servers that scripts/test.sh starts
(DATABASE_URL, CACHE_URL, CELERY_BROKER_URL); see README.md, "Tests".
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from testing.client import MerchantKeys, SignedClient, make_merchant

# The local chain nodes (anvil, litecoind, the Solana server, the Tron and XRPL stand-ins):
# each starts once per session.
pytest_plugins = ["testing.fixtures"]


@pytest.fixture
def merchant_keys(db) -> MerchantKeys:
    return make_merchant()


@pytest.fixture
def api(merchant_keys) -> SignedClient:
    """A signed client on the test key of a fresh merchant."""
    return merchant_keys.test


@pytest.fixture
def live_api(merchant_keys) -> SignedClient:
    return merchant_keys.live


@pytest.fixture
def other_merchant(db) -> MerchantKeys:
    return make_merchant(name="Other", email="other@example.com")


@pytest.fixture(autouse=True)
def _catalogue(request):
    """The channel catalogue is data from a migration; a transactional test's flush wipes it
    for the tests after it, so put it back for every test that uses the database."""
    if not {"db", "transactional_db", "live_server"} & set(request.fixturenames):
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames
                            or "live_server" in request.fixturenames else "db")
    from charges.catalogue import install
    from charges.models import Channel

    if not Channel.objects.exists():
        install(Channel)


# A BIP39 test vector, never a real wallet: the HD root the operator would configure.
TEST_WALLET_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


@pytest.fixture(autouse=True)
def _wallet_root_env(monkeypatch):
    """Tests run like a configured deployment: the root comes from FLUXA_WALLET_MNEMONIC.
    (wallets/tests removes it where a test needs an unconfigured one.)"""
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC", TEST_WALLET_MNEMONIC)


@pytest.fixture(autouse=True)
def _channels_read_per_charge(settings):
    """Tests change channels with queryset.update() (no signal) and charge right after: every
    charge reads the catalogue. charges/tests/test_charges_channel_cache.py tests the cache itself."""
    from charges.services import catalogue

    settings.FLUXA_CHANNEL_CACHE_SECONDS = 0
    catalogue.forget()


@pytest.fixture(autouse=True)
def _claim_hints():
    """Where this process's next address claim starts (wallets.services) belongs to the
    database it was learned from."""
    from wallets.services import claim_hints_forget

    claim_hints_forget()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and other cached state never leak between tests."""
    cache.clear()
    yield
