"""Fixtures the portal's tests share."""

import pytest

from testing.portal import make_member, signed_in


@pytest.fixture
def live_owner(merchant_keys):
    """The merchant's owner, signed in through the login form, the portal switched to live."""
    client = signed_in(make_member(merchant_keys.merchant, role="owner"))
    client.post("/portal/mode", {"mode": "live"})
    return client
