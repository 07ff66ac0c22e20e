"""Release rules: only unfunded addresses of ended orders, only after the monitoring window;
an address that ever received funds is used and never reused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from wallets.models import AddressState, DepositAddress, Transfer
from wallets.services import deposit_address_release_idle, deposit_address_reserve
from wallets.tasks import release_idle_addresses

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@pytest.fixture
def reserved(wallet_root, make_order):
    """reserved(status=..., ended=<how long ago the order expired>) -> DepositAddress"""

    def make(*, status: str = "expired", ended: timedelta = 25 * HOUR, network: str = "ethereum"):
        order = make_order(status=status, expires_at=timezone.now() - ended, network=network)
        return deposit_address_reserve(network=network, mode="test", order=order)

    return make


def _transfer(row: DepositAddress, **fields) -> Transfer:
    values = dict(network=row.network, mode=row.mode, tx_hash=f"0x{row.pk:064x}", deposit_address=row,
                  order=row.order, asset="TST", amount=Decimal("1.5"))
    values.update(fields)
    return Transfer.objects.create(**values)


def _state(row: DepositAddress) -> str:
    row.refresh_from_db()
    return row.state


def test_idle_addresses_are_released_only_after_the_monitoring_window(reserved):
    inside = reserved(ended=23 * HOUR)
    outside = reserved(ended=25 * HOUR)
    canceled = reserved(status="canceled", ended=30 * HOUR)

    assert deposit_address_release_idle() == 2

    assert _state(inside) == AddressState.ASSIGNED and inside.order is not None
    assert _state(outside) == AddressState.FREE and outside.order is None and outside.released_at
    assert _state(canceled) == AddressState.FREE


def test_the_window_is_a_setting(reserved, settings):
    settings.FLUXA_ADDRESS_MONITOR_SECONDS = 600
    row = reserved(ended=timedelta(minutes=11))
    recent = reserved(ended=timedelta(minutes=9))
    assert deposit_address_release_idle() == 1
    assert _state(row) == AddressState.FREE
    assert _state(recent) == AddressState.ASSIGNED


def test_open_and_paid_orders_keep_their_addresses(reserved):
    rows = [reserved(status=status, ended=48 * HOUR) for status in ("created", "pending", "paid", "failed")]
    assert deposit_address_release_idle() == 0
    assert all(_state(row) == AddressState.ASSIGNED for row in rows)


def test_a_funded_address_is_never_released_but_marked_used(reserved):
    on_address = reserved()
    _transfer(on_address)
    reverted = reserved()
    _transfer(reverted, status="reverted")
    by_order = reserved()  # a transfer matched to the order on this network, address unknown
    _transfer(by_order, deposit_address=None)

    assert deposit_address_release_idle() == 0
    for row in (on_address, reverted, by_order):
        assert _state(row) == AddressState.USED
        assert row.order is not None


def test_a_used_address_stays_used_and_is_not_reused(reserved, make_order):
    row = reserved()
    DepositAddress.objects.filter(pk=row.pk).update(state=AddressState.USED)  # as the chain watcher does
    assert deposit_address_release_idle() == 0
    assert _state(row) == AddressState.USED

    fresh = deposit_address_reserve(network="ethereum", mode="test", order=make_order())
    assert fresh.pk != row.pk


def test_xrpl_tags_are_released_too(reserved):
    row = reserved(network="xrpl")
    assert deposit_address_release_idle() == 1
    assert _state(row) == AddressState.FREE and row.destination_tag == 1


def test_the_beat_task_releases_in_batches(reserved, monkeypatch):
    rows = [reserved() for _ in range(5)]
    from wallets import services

    original = services.deposit_address_release_idle
    monkeypatch.setattr("wallets.tasks.deposit_address_release_idle", lambda: original(limit=2))

    assert release_idle_addresses() == 5
    assert all(_state(row) == AddressState.FREE for row in rows)
    assert release_idle_addresses() == 0
