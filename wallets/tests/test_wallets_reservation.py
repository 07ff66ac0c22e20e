"""deposit_address_reserve: derivation, reuse of free addresses, XRP tags, DB invariants and
100 concurrent reservations on real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chains.derivation import derive_address, xrpl_destination_tag
from chains.networks import UnknownNetwork
from wallets.keys import WalletRootMissing
from wallets.models import AddressState, DepositAddress, DerivationCounter, Transfer
from wallets.services import (
    deposit_address_pool_replenish,
    deposit_address_release_idle,
    deposit_address_reserve,
    wallet_root_import,
)

TEST_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _expected(network: str, mode: str, index: int) -> str:
    return derive_address(mnemonic=TEST_MNEMONIC, network=network, mode=mode, index=index).address


@pytest.mark.django_db
def test_reservation_derives_consecutive_indices(wallet_root, make_order):
    first, second = make_order(), make_order()

    a = deposit_address_reserve(network="ethereum", mode="test", order=first)
    b = deposit_address_reserve(network="ethereum", mode="test", order=second)

    assert (a.derivation_index, b.derivation_index) == (0, 1)
    assert a.address == _expected("ethereum", "test", 0)
    assert b.address == _expected("ethereum", "test", 1)
    assert a.state == AddressState.ASSIGNED and a.order == first and a.assigned_at is not None
    assert a.root_fingerprint == "73c5da0a" and a.destination_tag is None
    assert DerivationCounter.objects.get(network="ethereum", mode="test").next_index == 2
    assert list(first.deposit_addresses.all()) == [a]


@pytest.mark.django_db
def test_live_and_test_and_networks_have_their_own_indices(wallet_root, make_order):
    live = deposit_address_reserve(network="bitcoin", mode="live", order=make_order(mode="live", network="bitcoin"))
    test = deposit_address_reserve(network="bitcoin", mode="test", order=make_order(mode="test", network="bitcoin"))
    sol = deposit_address_reserve(network="solana", mode="test", order=make_order(network="solana"))

    assert live.derivation_index == test.derivation_index == sol.derivation_index == 0
    assert live.address == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"  # BIP-0084 vector
    assert test.address.startswith("tb1q") and test.address == _expected("bitcoin", "test", 0)
    assert sol.address == _expected("solana", "test", 0)


@pytest.mark.django_db
def test_reserving_again_for_the_same_order_returns_its_address(wallet_root, make_order):
    order = make_order()
    a = deposit_address_reserve(network="ethereum", mode="test", order=order)
    assert deposit_address_reserve(network="ethereum", mode="test", order=order) == a
    assert DepositAddress.objects.count() == 1


@pytest.mark.django_db
def test_the_order_mode_must_match(wallet_root, make_order):
    with pytest.raises(ValueError, match="test order"):
        deposit_address_reserve(network="ethereum", mode="live", order=make_order(mode="test"))
    with pytest.raises(UnknownNetwork):
        deposit_address_reserve(network="dogecoin", mode="test", order=make_order())


@pytest.mark.django_db
def test_reservation_needs_a_root(make_order):
    with pytest.raises(WalletRootMissing):
        deposit_address_reserve(network="ethereum", mode="test", order=make_order())


@pytest.mark.django_db
def test_a_released_address_is_reused_before_deriving_a_new_one(wallet_root, make_order):
    first = make_order(status="canceled", expires_at=timezone.now() - timedelta(days=2))
    a = deposit_address_reserve(network="ethereum", mode="test", order=first)
    assert deposit_address_release_idle() == 1

    second = make_order()
    b = deposit_address_reserve(network="ethereum", mode="test", order=second)

    assert b.pk == a.pk and b.derivation_index == 0 and b.order == second
    assert b.released_at is not None
    assert DerivationCounter.objects.get(network="ethereum", mode="test").next_index == 1


@pytest.mark.django_db
def test_a_used_address_is_never_handed_out_again(wallet_root, make_order):
    first = make_order(status="canceled", expires_at=timezone.now() - timedelta(days=2))
    a = deposit_address_reserve(network="ethereum", mode="test", order=first)
    Transfer.objects.create(network="ethereum", mode="test", tx_hash="0x" + "1" * 64, deposit_address=a,
                            order=first, asset="TST", amount=Decimal("1"))

    assert deposit_address_release_idle() == 0
    a.refresh_from_db()
    assert a.state == AddressState.USED and a.order == first

    b = deposit_address_reserve(network="ethereum", mode="test", order=make_order())
    assert b.pk != a.pk and b.derivation_index == 1


@pytest.mark.django_db
def test_xrpl_uses_one_account_and_a_tag_per_order(wallet_root, make_order):
    rows = [deposit_address_reserve(network="xrpl", mode="live", order=make_order(mode="live", network="xrpl"))
            for _ in range(3)]

    account = _expected("xrpl", "live", 0)
    assert {row.address for row in rows} == {account}
    assert [row.destination_tag for row in rows] == [xrpl_destination_tag(i) for i in range(3)] == [1, 2, 3]
    assert [row.derivation_index for row in rows] == [0, 1, 2]

    test = deposit_address_reserve(network="xrpl", mode="test", order=make_order(network="xrpl"))
    assert test.address == _expected("xrpl", "test", 0) != account
    assert test.destination_tag == 1


@pytest.mark.django_db
def test_addresses_of_a_replaced_root_are_not_handed_out(wallet_root, make_order, rare_mnemonic):
    deposit_address_pool_replenish(network="ethereum", mode="test", size=2)
    wallet_root_import(mnemonic=rare_mnemonic, force=True)

    row = deposit_address_reserve(network="ethereum", mode="test", order=make_order())

    assert row.derivation_index == 2
    assert row.address == derive_address(mnemonic=rare_mnemonic, network="ethereum", mode="test", index=2).address
    assert row.root_fingerprint != "73c5da0a"


# -- database invariants ---------------------------------------------------------------------


def _row(**fields) -> DepositAddress:
    values = dict(network="ethereum", mode="test", address="0x" + "a" * 40, derivation_index=0,
                  root_fingerprint="73c5da0a", state=AddressState.FREE)
    values.update(fields)
    return DepositAddress(**values)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "first, second",
    [
        ({}, {"address": "0x" + "b" * 40}),  # same index
        ({}, {"derivation_index": 1}),  # same address
        ({"network": "xrpl", "destination_tag": 5, "address": "r1"},
         {"network": "xrpl", "destination_tag": 5, "address": "r1", "derivation_index": 1}),  # same tag
    ],
    ids=["index", "address", "xrpl-tag"],
)
def test_uniqueness_is_a_database_constraint(first, second):
    _row(**first).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(**second).save()


@pytest.mark.django_db
def test_xrpl_rows_share_the_account_with_different_tags():
    _row(network="xrpl", address="r1", destination_tag=1).save()
    _row(network="xrpl", address="r1", destination_tag=2, derivation_index=1).save()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"network": "xrpl"},  # xrpl without tag
        {"destination_tag": 3},  # tag on another network
        {"state": "assigned"},  # assigned without order
        {"mode": "prod"},
        {"state": "gone"},
    ],
)
def test_check_constraints(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(**fields).save()


@pytest.mark.django_db
def test_one_open_assignment_per_order_and_network(make_order):
    order = make_order()
    now = timezone.now()
    _row(order=order, state="assigned", assigned_at=now).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(order=order, state="assigned", assigned_at=now, derivation_index=1,
             address="0x" + "b" * 40).save()
    _row(order=order, state="assigned", assigned_at=now, derivation_index=1, address="0x" + "b" * 40,
         network="base").save()  # another network is fine


@pytest.mark.django_db
def test_a_free_address_has_no_order(make_order):
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(order=make_order(), state="free").save()


# -- concurrency -----------------------------------------------------------------------------


def _reserve_concurrently(network: str, orders: list) -> list[DepositAddress]:
    """One thread per order, each with its own database connection, released together."""
    barrier = threading.Barrier(len(orders))
    results: list[DepositAddress] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(order) -> None:
        try:
            barrier.wait(timeout=60)
            with transaction.atomic():
                row = deposit_address_reserve(network=network, mode=order.mode, order=order)
            with lock:
                results.append(row)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    assert len(results) == len(orders)
    return results


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_reservations_give_100_distinct_addresses(make_order):
    wallet_root_import(mnemonic=TEST_MNEMONIC)
    # Half of them can come from the pool (claimed with SKIP LOCKED), the rest are derived.
    deposit_address_pool_replenish(network="ethereum", mode="test", size=50)
    orders = [make_order() for _ in range(100)]

    rows = _reserve_concurrently("ethereum", orders)

    assert len({row.address for row in rows}) == 100
    assert len({row.derivation_index for row in rows}) == 100
    assert {row.order_id for row in rows} == {order.pk for order in orders}
    stored = DepositAddress.objects.filter(network="ethereum", mode="test")
    assert stored.count() == 100 and not stored.exclude(state=AddressState.ASSIGNED).exists()
    assert sorted(stored.values_list("derivation_index", flat=True)) == list(range(100))
    assert DerivationCounter.objects.get(network="ethereum", mode="test").next_index == 100
    for row in stored.order_by("derivation_index")[:3]:
        assert row.address == _expected("ethereum", "test", row.derivation_index)


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_xrpl_reservations_give_100_distinct_tags(make_order):
    wallet_root_import(mnemonic=TEST_MNEMONIC)
    orders = [make_order(mode="live", network="xrpl") for _ in range(100)]

    rows = _reserve_concurrently("xrpl", orders)

    assert {row.address for row in rows} == {_expected("xrpl", "live", 0)}
    assert sorted(row.destination_tag for row in rows) == list(range(1, 101))
    assert DepositAddress.objects.filter(network="xrpl", mode="live").count() == 100


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_claim_uses_the_pool_index_even_as_a_generic_plan(wallet_root):
    """Statements become prepared ones (DB_PREPARE_THRESHOLD), whose generic plan knows no
    parameter value: the claim must still find free addresses through the partial pool index,
    not walk the addresses already assigned."""
    from wallets.services import _claim_sql

    DepositAddress.objects.bulk_create([
        DepositAddress(network="tron", mode="test", address=f"T{i:033d}", derivation_index=i,
                       root_fingerprint="73c5da0a", state=AddressState.USED if i < 2000 else AddressState.FREE)
        for i in range(2100)])
    sql = _claim_sql()
    for n in range(1, sql.count("%s") + 1):
        sql = sql.replace("%s", f"${n}", 1)
    args = "'ord_x', now(), 'tron', 'test', 0"  # from the bottom: the claim's worst case
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE wallets_depositaddress")
        cursor.execute(f"PREPARE claim AS {sql}")
        try:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(f"EXPLAIN EXECUTE claim({args})")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE claim")
    assert "deposit_address_pool_idx" in plan, plan


def _claim_buffers(start: int) -> int:
    """Shared buffers the claim statement reads from `start` (run, then rolled back)."""
    from wallets.services import _claim_sql

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + _claim_sql(),
                           ["ord_x", timezone.now(), "tron", "test", start])
            plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    plan = plan[0]["Plan"] if isinstance(plan, list) else plan

    def scans(node):  # the claim's index scan: what it reads to find the free row
        if node.get("Relation Name") == "wallets_depositaddress" and "Index Name" in node:
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    (scan,) = [node for node in scans(plan) if node["Index Name"] != "wallets_depositaddress_pkey"]
    return scan["Shared Hit Blocks"] + scan["Shared Read Blocks"]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_a_claim_starts_above_the_last_address_this_process_claimed(wallet_root, make_order):
    """A pool filled at once, its statistics taken while every row was free, then drained by
    charges: a claim from the bottom steps over the index entries of every address claimed
    since (until VACUUM), a claim from this process's hint over none of them."""
    from wallets import services

    DepositAddress.objects.bulk_create([
        DepositAddress(network="tron", mode="test", address=f"T{i:033d}", derivation_index=i,
                       root_fingerprint="73c5da0a", state=AddressState.FREE) for i in range(4000)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE wallets_depositaddress")
    claimed = [deposit_address_reserve(network="tron", mode="test", order=make_order(network="tron")).derivation_index
               for _ in range(3000)]

    assert claimed == list(range(3000))  # still the lowest free one, in order
    assert services._claim_from[("tron", "test")][0] == 3000
    from_hint, from_bottom = _claim_buffers(3000), _claim_buffers(0)
    # Either index may serve the claim (by the statistics): from the hint it reads a few pages
    # of it, from the bottom it steps over the 3,000 entries claimed before.
    assert from_hint <= 16 and from_bottom >= 3 * from_hint, (from_hint, from_bottom)


@pytest.mark.django_db
def test_an_address_freed_below_the_hint_is_handed_out_again(wallet_root, make_order, monkeypatch):
    """The hint is only where a claim starts: every CLAIM_RESCAN-th claim looks from the
    bottom, and so does one that finds nothing free above the hint."""
    from wallets import services

    monkeypatch.setattr(services, "CLAIM_RESCAN", 3)
    DepositAddress.objects.bulk_create([
        DepositAddress(network="tron", mode="test", address=f"T{i:033d}", derivation_index=i,
                       root_fingerprint="73c5da0a", state=AddressState.FREE) for i in range(6)])
    taken: dict[int, DepositAddress] = {}

    def take() -> int:
        address = deposit_address_reserve(network="tron", mode="test", order=make_order(network="tron"))
        taken[address.derivation_index] = address
        return address.derivation_index

    def free_again(index: int) -> None:  # its charge rolled back, or its order expired unpaid
        DepositAddress.objects.filter(pk=taken[index].pk).update(state=AddressState.FREE, order=None,
                                                                 assigned_at=None)

    assert [take() for _ in range(4)] == [0, 1, 2, 3]
    free_again(1)
    assert take() == 4  # above the hint first
    assert take() == 5
    assert take() == 1  # the third claim since the last look from the bottom
    free_again(0)
    assert take() == 0  # nothing free above the hint: from the bottom
    assert not DepositAddress.objects.filter(network="tron", mode="test", state=AddressState.FREE).exists()
