"""The live-order count behind the unfiltered list's `total` (orders/counting.py, triggers of
migration orders/0004): after every way an order appears or goes, the kept count equals
COUNT(*), and the API's total is it."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from orders import counting
from orders.models import Order, OrderCount
from testing.client import charge, make_merchant, post_charge, run_concurrently
from wallets.models import DepositAddress

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the count is kept on PostgreSQL only")


def _counted(merchant_id, mode):
    return Order.objects.filter(merchant_id=merchant_id, mode=mode, deleted_at__isnull=True).count()


def _assert_kept(*merchant_ids):
    for merchant_id in merchant_ids:
        for mode in ("test", "live"):
            kept = counting.live_order_total(merchant_id=merchant_id, mode=mode)
            assert kept == _counted(merchant_id, mode), (merchant_id, mode)


@pytest.mark.django_db
def test_every_way_an_order_appears_or_goes_is_counted(merchant_keys, other_merchant):
    api, merchant = merchant_keys.test, merchant_keys.merchant
    ids = [charge(api)["order"]["id"] for _ in range(25)]
    other = [charge(other_merchant.test)["order"]["id"] for _ in range(3)]
    _assert_kept(merchant.id, other_merchant.merchant.id)
    assert counting.live_order_total(merchant_id=merchant.id, mode="test") == 25

    assert api.delete(f"/api/v1/orders/{ids[0]}").status_code == 204  # soft delete through the API
    Order.objects.filter(pk=ids[1]).update(deleted_at=timezone.now())  # a bulk soft delete
    Order.objects.filter(pk=ids[1]).update(deleted_at=None)  # undeleted again
    Order.objects.filter(pk=ids[2]).update(deleted_at=timezone.now(), status="canceled")
    Order.objects.filter(pk=ids[3]).update(deleted_at=timezone.now())
    Order.objects.filter(pk=ids[3]).update(deleted_at=timezone.now() + timedelta(seconds=1))  # still deleted
    order = Order.objects.get(pk=ids[4])
    order.subject = "a full save() rewrites every column"
    order.save()
    Order.objects.filter(pk=ids[5]).update(status="expired")  # status changes leave it alone
    assert api.patch(f"/api/v1/orders/{ids[6]}", {"status": "canceled"}).status_code == 200
    Order.objects.filter(pk=other[0]).update(mode="live")  # a row moving between scopes
    _assert_kept(merchant.id, other_merchant.merchant.id)
    assert counting.live_order_total(merchant_id=merchant.id, mode="test") == 22


@pytest.mark.django_db
def test_the_unfiltered_total_reads_the_kept_count_and_filtered_totals_count(api, merchant_keys):
    ids = [charge(api)["order"]["id"] for _ in range(23)]
    api.delete(f"/api/v1/orders/{ids[0]}")
    listed = api.get("/api/v1/orders", query="limit=5")
    assert listed.body["total"] == 22
    # Proof that the total came from the kept count: skew it, and the unfiltered total follows.
    OrderCount.objects.filter(merchant_id=merchant_keys.merchant.id, mode="test").update(count=0)
    OrderCount.objects.create(merchant_id=merchant_keys.merchant.id, mode="test", shard=99, count=1000)
    assert api.get("/api/v1/orders", query="limit=5").body["total"] == 1000
    # Any filter counts the rows themselves.
    assert api.get("/api/v1/orders", query="limit=5&status=created").body["total"] == 22
    assert api.get("/api/v1/orders", query="limit=5&network=tron").body["total"] == 22
    counting.recount()
    assert api.get("/api/v1/orders", query="limit=5").body["total"] == 22


@pytest.mark.django_db
def test_a_rolled_back_charge_or_delete_is_not_counted(api, merchant_keys):
    ids = [charge(api)["order"]["id"] for _ in range(2)]
    merchant_id = merchant_keys.merchant.id
    DepositAddress.objects.filter(order_id=ids[1]).delete()  # it protects the order from a hard delete
    with pytest.raises(RuntimeError), transaction.atomic():
        Order.objects.filter(pk=ids[0]).update(deleted_at=timezone.now())
        Order.objects.filter(pk=ids[1]).delete()
        raise RuntimeError("rolled back")
    assert counting.live_order_total(merchant_id=merchant_id, mode="test") == 2
    Order.objects.filter(pk=ids[1]).delete()  # a hard delete (admin) counts too
    _assert_kept(merchant_id)
    assert counting.live_order_total(merchant_id=merchant_id, mode="test") == 1


def test_concurrent_charges_of_one_merchant_are_all_counted(transactional_db):
    keys = make_merchant("Busy", "busy@example.com")
    results = run_concurrently(16, lambda i: post_charge(keys.test, merchant_order_id=f"race-{i}").status_code)
    assert sorted(results) == [201] * 16
    assert counting.live_order_total(merchant_id=keys.merchant.id, mode="test") == 16
    _assert_kept(keys.merchant.id)
    # Several backends wrote, so the count is spread over shards; their sum is the total.
    assert OrderCount.objects.filter(merchant_id=keys.merchant.id).count() >= 1
