"""The pre-derived pool of free deposit addresses (derivation costs ~10 ms each)."""

from __future__ import annotations

import logging

import pytest

from chains.derivation import derive_address
from charges.tasks import replenish_address_pool
from charges.watching import enabled_networks
from wallets.models import AddressState, DepositAddress, DerivationCounter
from wallets.services import deposit_address_pool_replenish, deposit_address_reserve

pytestmark = pytest.mark.django_db

TEST_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _free(network: str, mode: str):
    return DepositAddress.objects.filter(network=network, mode=mode, state=AddressState.FREE)


def test_replenish_fills_the_pool_up_to_its_size(wallet_root, make_order):
    assert deposit_address_pool_replenish(network="tron", mode="live", size=5) == 5
    assert deposit_address_pool_replenish(network="tron", mode="live", size=5) == 0

    rows = list(_free("tron", "live").order_by("derivation_index"))
    assert [row.derivation_index for row in rows] == [0, 1, 2, 3, 4]
    for row in rows:
        assert row.address == derive_address(mnemonic=TEST_MNEMONIC, network="tron", mode="live",
                                             index=row.derivation_index).address
        assert row.order is None and row.root_fingerprint == "73c5da0a"

    # Reservation claims the lowest free index without deriving; replenish tops up again.
    claimed = [deposit_address_reserve(network="tron", mode="live", order=make_order(mode="live", network="tron"))
               for _ in range(2)]
    assert [row.derivation_index for row in claimed] == [0, 1]
    assert DerivationCounter.objects.get(network="tron", mode="live").next_index == 5
    assert deposit_address_pool_replenish(network="tron", mode="live", size=5) == 2
    assert _free("tron", "live").count() == 5


def test_replenish_works_in_batches(wallet_root, monkeypatch):
    monkeypatch.setattr("wallets.services.POOL_BATCH", 3)
    assert deposit_address_pool_replenish(network="solana", mode="test", size=7) == 7
    assert sorted(_free("solana", "test").values_list("derivation_index", flat=True)) == list(range(7))


def test_xrpl_pool_rows_are_tags_of_one_account(wallet_root):
    deposit_address_pool_replenish(network="xrpl", mode="test", size=3)
    rows = list(_free("xrpl", "test").order_by("derivation_index"))
    assert len({row.address for row in rows}) == 1
    assert [row.destination_tag for row in rows] == [1, 2, 3]


def test_the_task_fills_every_enabled_network_in_both_modes(wallet_root, settings, make_order):
    from charges.models import Channel

    for network in ("solana", "xrpl"):  # enabled channels, whatever the catalogue holds
        make_order(network=network)
    Channel.objects.exclude(network__in=["solana", "xrpl"]).update(enabled=False)
    assert set(enabled_networks()) == {"solana", "xrpl"}
    settings.FLUXA_ADDRESS_POOL_SIZE = 2

    assert replenish_address_pool() == 8  # 2 networks x 2 modes x 2
    for network in ("solana", "xrpl"):
        for mode in ("test", "live"):
            assert _free(network, mode).count() == 2
    assert replenish_address_pool() == 0
    assert not DepositAddress.objects.filter(network="ethereum").exists()


def test_the_task_is_off_with_size_zero_and_quiet_without_a_root(settings, caplog, make_order):
    make_order(network="solana")  # at least one enabled channel
    settings.FLUXA_ADDRESS_POOL_SIZE = 0
    assert replenish_address_pool() == 0
    settings.FLUXA_ADDRESS_POOL_SIZE = 2
    caplog.set_level(logging.WARNING)
    assert replenish_address_pool() == 0
    assert "No HD wallet root" in caplog.text
    assert DepositAddress.objects.count() == 0


def _at_once(*jobs) -> list:
    """Run the jobs on threads of their own (each its own database connection), started
    together; their results, in order."""
    import threading

    from django.db import connection

    start = threading.Barrier(len(jobs), timeout=30)
    results, errors = [None] * len(jobs), []

    def run(i, job) -> None:
        try:
            start.wait()
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def _check_every_index_once(network: str, mode: str) -> list:
    rows = list(DepositAddress.objects.filter(network=network, mode=mode).order_by("derivation_index"))
    assert [row.derivation_index for row in rows] == list(range(len(rows)))  # no index twice, no gap
    assert len({row.address for row in rows}) == len(rows)
    assert DerivationCounter.objects.get(network=network, mode=mode).next_index == len(rows)
    for row in rows[::7]:
        assert row.address == derive_address(mnemonic=TEST_MNEMONIC, network=network, mode=mode,
                                             index=row.derivation_index).address
    return rows


@pytest.mark.django_db(transaction=True)
def test_two_refills_at_once_fill_the_pool_once(monkeypatch):
    from wallets.services import wallet_root_import

    wallet_root_import(mnemonic=TEST_MNEMONIC)
    monkeypatch.setattr("wallets.services.POOL_BATCH", 7)
    refill = lambda: deposit_address_pool_replenish(network="ethereum", mode="test", size=60)  # noqa: E731

    created = _at_once(refill, refill)

    assert sorted(created) == [0, 60]  # the second found the first one's lock and left it the work
    assert len(_check_every_index_once("ethereum", "test")) == 60
    assert refill() == 0  # the lock was released


@pytest.mark.django_db(transaction=True)
def test_refills_that_ignore_each_other_still_never_share_an_index(monkeypatch):
    """Without the one-refill lock (as if it were lost), two refills in small rounds
    interleave their reserves, derivations and inserts: the counter alone keeps every index
    and address unique."""
    import contextlib

    from wallets.services import wallet_root_import

    wallet_root_import(mnemonic=TEST_MNEMONIC)
    monkeypatch.setattr("wallets.services.POOL_BATCH", 7)
    monkeypatch.setattr("wallets.services._only_refill", lambda network, mode: contextlib.nullcontext(True))
    refill = lambda: deposit_address_pool_replenish(network="ethereum", mode="test", size=60)  # noqa: E731

    created = _at_once(refill, refill)

    rows = _check_every_index_once("ethereum", "test")
    assert sum(created) == len(rows) and 60 <= len(rows) <= 120


@pytest.mark.django_db(transaction=True)
def test_a_refill_and_charges_on_an_empty_pool_at_once_never_share_an_index(make_order, monkeypatch):
    """Reservations on an empty pool derive under the counter lock while the refill reserves
    from the same counter and inserts: each index is handed out once, to the pool or to an
    order."""
    from django.db import transaction

    from wallets.services import wallet_root_import

    wallet_root_import(mnemonic=TEST_MNEMONIC)
    monkeypatch.setattr("wallets.services.POOL_BATCH", 5)
    orders = [make_order() for _ in range(30)]

    def charges() -> list:
        rows = []
        for order in orders:
            with transaction.atomic():
                rows.append(deposit_address_reserve(network="ethereum", mode="test", order=order, fresh=True))
        return rows

    _, reserved = _at_once(
        lambda: deposit_address_pool_replenish(network="ethereum", mode="test", size=40), charges)

    rows = _check_every_index_once("ethereum", "test")
    assert len({row.pk for row in reserved}) == len(orders)
    assert {row.order_id for row in rows if row.state == AddressState.ASSIGNED} == {order.pk for order in orders}
    assert _free("ethereum", "test").count() + len(orders) == len(rows)


def test_a_refill_that_dies_after_reserving_leaves_a_gap_never_a_reuse(wallet_root, make_order, monkeypatch):
    """The indices are committed taken before they are derived: a refill that dies in between
    (here its derivation fails) leaves them unused for good, and the next refill, and the
    pool's charges, go on after them."""
    import wallets.services as services

    assert deposit_address_pool_replenish(network="tron", mode="test", size=3) == 3
    real_derive = services._derive_many

    def dying(root, network, mode, indices):
        raise RuntimeError("killed between reserve and insert")

    monkeypatch.setattr(services, "_derive_many", dying)
    with pytest.raises(RuntimeError):
        deposit_address_pool_replenish(network="tron", mode="test", size=8)
    assert DerivationCounter.objects.get(network="tron", mode="test").next_index == 8  # 3..7 reserved
    assert _free("tron", "test").count() == 3

    monkeypatch.setattr(services, "_derive_many", real_derive)
    assert deposit_address_pool_replenish(network="tron", mode="test", size=6) == 3
    assert sorted(_free("tron", "test").values_list("derivation_index", flat=True)) == [0, 1, 2, 8, 9, 10]
    claimed = [deposit_address_reserve(network="tron", mode="test", order=make_order(network="tron"))
               for _ in range(6)]
    assert [row.derivation_index for row in claimed] == [0, 1, 2, 8, 9, 10]
    assert DerivationCounter.objects.get(network="tron", mode="test").next_index == 11  # all from the pool
    on_demand = deposit_address_reserve(network="tron", mode="test", order=make_order(network="tron"))
    assert on_demand.derivation_index == 11  # the gap 3..7 is never handed out
    assert not DepositAddress.objects.filter(network="tron", mode="test", derivation_index__in=range(3, 8)).exists()


def test_a_reserved_index_cannot_be_stored_twice(wallet_root):
    """Even a refill that ignored the counter could not reuse an index: the database refuses."""
    from django.db import IntegrityError, transaction

    deposit_address_pool_replenish(network="tron", mode="test", size=1)
    row = _free("tron", "test").get()
    with pytest.raises(IntegrityError), transaction.atomic():
        DepositAddress.objects.create(network="tron", mode="test", address="T" + "x" * 33,
                                      derivation_index=row.derivation_index, root_fingerprint=row.root_fingerprint)
