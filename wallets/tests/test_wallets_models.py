"""Transfer invariants, reprs that leak nothing, and migrations in step with the models."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from wallets.models import Transfer
from wallets.services import deposit_address_reserve, wallet_root_import

pytestmark = pytest.mark.django_db


def _transfer(**fields) -> Transfer:
    values = dict(network="ethereum", mode="test", tx_hash="0x" + "1" * 64, log_index=0, asset="USDT",
                  amount=Decimal("10.000000000000000001"))
    values.update(fields)
    return Transfer(**values)


def test_a_transfer_keeps_its_exact_amount():
    transfer = _transfer()
    transfer.save()
    transfer.refresh_from_db()
    assert transfer.amount == Decimal("10.000000000000000001")
    assert transfer.status == "seen" and transfer.confirmations == 0 and not transfer.simulated
    assert transfer.detected_at and transfer.updated_at and transfer.confirmed_at is None


def test_one_transfer_per_output():
    _transfer().save()
    _transfer(log_index=1).save()
    _transfer(network="base").save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _transfer().save()


@pytest.mark.parametrize(
    "fields",
    [{"amount": Decimal("0")}, {"amount": Decimal("-1")}, {"confirmations": -1}, {"log_index": -1},
     {"status": "lost"}, {"mode": "demo"}],
)
def test_transfer_check_constraints(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        _transfer(**fields).save()


def test_reprs_show_public_data_only(rare_mnemonic, rare_words, make_order):
    root, _ = wallet_root_import(mnemonic=rare_mnemonic)
    order = make_order(network="xrpl")
    address = deposit_address_reserve(network="xrpl", mode="test", order=order)
    transfer = _transfer(network="xrpl", deposit_address=address, order=order, asset="XRP")
    transfer.save()
    for obj in (root, address, transfer):
        for text in (repr(obj), str(obj)):
            assert not [w for w in rare_words if w in text.lower()], text
            assert root.mnemonic_encrypted not in text
    assert "tag=1" in repr(address) and address.address in repr(address)


def test_migrations_match_the_models():
    call_command("makemigrations", "wallets", "--check", "--dry-run", stdout=io.StringIO())
