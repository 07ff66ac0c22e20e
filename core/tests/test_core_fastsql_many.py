"""core/fastsql.py, many rows of one model: insert_many writes what save() writes, skips what
its ON CONFLICT skips and returns only the rows it inserted; update_many writes each row's own
values (and auto_now)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core import fastsql
from testing.factories import MerchantFactory
from wallets.models import Transfer, TransferStatus
from webhooks.models import Event

pytestmark = pytest.mark.django_db
KEY = '("network", "tx_hash", "log_index") DO NOTHING'


def _transfer(tx: str, index: int = 0, amount: str = "1") -> Transfer:
    return Transfer(network="ethereum", mode="live", tx_hash=tx, log_index=index, asset="ETH",
                    amount=Decimal(amount), block_number=7, block_hash="0xb", confirmations=0)


def test_insert_many_writes_exact_values_and_returns_only_the_rows_it_inserted():
    first = fastsql.insert_many([_transfer("0x1", 0, "0.000000000000000001"), _transfer("0x1", 1, "123456.5")],
                                conflict=KEY, returning='"tx_hash", "log_index"')
    again = fastsql.insert_many([_transfer("0x1", 1, "9"), _transfer("0x2")], conflict=KEY,
                                returning='"tx_hash", "log_index"')

    assert sorted(first) == [("0x1", 0), ("0x1", 1)] and again == [("0x2", 0)]
    rows = {(t.tx_hash, t.log_index): t for t in Transfer.objects.all()}
    assert len(rows) == 3
    assert rows[("0x1", 0)].amount == Decimal("0.000000000000000001")
    assert rows[("0x1", 1)].amount == Decimal("123456.5")  # the conflicting row kept its first values
    assert rows[("0x2", 0)].detected_at is not None and rows[("0x2", 0)].status == TransferStatus.SEEN


def test_insert_many_without_a_conflict_clause_fails_whole_on_a_duplicate():
    from django.db import IntegrityError, transaction

    fastsql.insert_many([_transfer("0x1")])
    with pytest.raises(IntegrityError), transaction.atomic():
        fastsql.insert_many([_transfer("0x3"), _transfer("0x1")])
    assert list(Transfer.objects.values_list("tx_hash", flat=True)) == ["0x1"]


def test_insert_many_keeps_json_and_makes_the_increasing_column_increase():
    merchant = MerchantFactory()
    data = {"order": {"id": "ord_ü", "amount": "1.10", "n": 2**60, "nested": [None, True, "é"]}}
    events = [Event(merchant=merchant, mode="live", type="order.paid", data=data) for _ in range(50)]

    fastsql.insert_many(events, increasing="created_at")

    stored = list(Event.objects.filter(merchant=merchant).order_by("created_at"))
    assert [e.pk for e in stored] == [e.pk for e in events]
    assert all(e.data == data for e in stored)
    times = [e.created_at for e in stored]
    assert all(a < b for a, b in zip(times, times[1:]))


def test_update_many_writes_each_rows_own_values_and_auto_now():
    fastsql.insert_many([_transfer("0x1"), _transfer("0x2")])
    one, two = Transfer.objects.order_by("tx_hash")
    before = one.updated_at
    confirmed_at = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)

    updated = fastsql.update_many(
        [Transfer(pk=one.pk, confirmations=5, status=TransferStatus.CONFIRMED, confirmed_at=confirmed_at),
         Transfer(pk=two.pk, confirmations=1, status=TransferStatus.SEEN, confirmed_at=None)],
        ["confirmations", "status", "confirmed_at", "updated_at"])

    assert updated == 2
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.confirmations, one.status, one.confirmed_at) == (5, "confirmed", confirmed_at)
    assert (two.confirmations, two.status, two.confirmed_at) == (1, "seen", None)
    assert one.updated_at > before and one.amount == Decimal("1") and one.block_hash == "0xb"  # others untouched
    assert fastsql.update_many([], ["status"]) == 0
