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
