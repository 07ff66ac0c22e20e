"""Fixtures shared by every test folder: signed API clients on real keys.

The suite runs against the PostgreSQL and Redis servers that scripts/test.sh starts
(DATABASE_URL, CACHE_URL, CELERY_BROKER_URL); see README.md, "Tests".
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from fluxa_site.testing import MerchantKeys, SignedClient, make_merchant


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
def _clear_cache():
    """Throttle counters and other cached state never leak between tests."""
    cache.clear()
    yield
