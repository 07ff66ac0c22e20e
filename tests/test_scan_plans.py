"""A scan pass's reads stay proportional to its own rows, however many orders the table
holds: the channel of each recorded or re-confirmed transfer's order is read by the order's
primary key, never by hashing the orders table (which PostgreSQL chose for a join once the
orders far outnumbered the pass's rows: a sequential scan of every order, every pass)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chains.adapters.base import Observed
from charges.models import Channel
from merchants.services import merchant_create
from orders.models import Order
from wallets import scanning
from wallets.models import AddressState, DepositAddress, Transfer, TransferStatus

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")]

ORDERS, PAID = 20_000, 400


@pytest.fixture
def many_orders():
    channel = Channel.objects.get(code="eth")
    merchant, _ = merchant_create(name="Plans", email="plans@example.com")
    addresses = [f"0x{i:040x}" for i in range(ORDERS)]
    orders = Order.objects.bulk_create([
        Order(merchant=merchant, mode="live", channel=channel, network="ethereum", settlement_mode=channel.settlement_mode,
              amount=Decimal("1"), currency="ETH", asset="ETH", amount_due=Decimal("1"), deposit_address=address)
        for address in addresses], batch_size=5000)
    deposits = DepositAddress.objects.bulk_create([
        DepositAddress(network="ethereum", mode="live", address=address, derivation_index=i, root_fingerprint="73c5da0a",
                       order=order, state=AddressState.ASSIGNED, assigned_at=order.created_at)
        for i, (address, order) in enumerate(zip(addresses[:PAID], orders))])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
        cursor.execute("ANALYZE wallets_depositaddress")
    return deposits


def _plans(queries, table: str) -> list[str]:
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            if query["sql"].startswith("SELECT") and f'FROM "{table}"' in query["sql"]:
                cursor.execute("EXPLAIN " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def _paid(deposits):
    """The watch keys of the deposits and one transfer of 1 ETH to each, 50 a block from block 100."""
    keys = scanning._WatchedKeys()
    keys.ids = {(d.address, None): d.pk for d in deposits}
    observed = [Observed(tx_hash=f"0x{i:064x}", index=0, to_address=d.address, asset="ETH",
                         amount_base_units=10**18, sender="0x" + "11" * 20, block_number=100 + i // 50,
                         block_hash=f"0x{i // 50:064x}", block_time=1_700_000_000) for i, d in enumerate(deposits)]
    return keys, observed


def test_recording_and_confirming_read_each_order_by_its_key(many_orders):
    assets = scanning.WatchedAssets(decimals={"ETH": 18}, confirmations={"eth": 3})
    keys, observed = _paid(many_orders)
    result = scanning.ScanResult(network="ethereum", mode="live")

    with CaptureQueriesContext(connection) as recording:
        scanning._record(result, observed, keys, assets, "ethereum", "live", head=105)
    with CaptureQueriesContext(connection) as confirming:
        scanning._confirm(result, "ethereum", "live", 120, assets)

    assert result.recorded == PAID and len(result.orders) == PAID
    assert Transfer.objects.filter(status=TransferStatus.CONFIRMED).count() == PAID  # the channel was read
    plans = _plans(recording.captured_queries, "wallets_depositaddress") + _plans(
        confirming.captured_queries, "wallets_transfer")
    assert len(plans) == 2
    for plan in plans:
        assert "Seq Scan on orders_order" not in plan and "Hash" not in plan, plan
        assert "orders_order_pkey" in plan, plan


def test_confirming_leaves_alone_what_the_pass_has_just_written_and_brings_the_rest_up_to_date(many_orders):
    assets = scanning.WatchedAssets(decimals={"ETH": 18}, confirmations={"eth": 30})
    keys, observed = _paid(many_orders)
    result = scanning.ScanResult(network="ethereum", mode="live")
    _, earlier = scanning._record(result, observed[:200], keys, assets, "ethereum", "live", head=103)
    _, written = scanning._record(result, observed[200:], keys, assets, "ethereum", "live", head=107)
    assert len(earlier) == len(written) == 200 and not earlier & written
    # Marked so that a read would show: _confirm would write them back to 107 - block + 1.
    Transfer.objects.filter(pk__in=written).update(confirmations=0)

    scanning._confirm(result, "ethereum", "live", 107, assets, written=written)

    assert set(Transfer.objects.filter(pk__in=written).values_list("confirmations", flat=True)) == {0}
    assert {t.block_number: t.confirmations for t in Transfer.objects.filter(pk__in=earlier)} == {
        100: 8, 101: 7, 102: 6, 103: 5}
