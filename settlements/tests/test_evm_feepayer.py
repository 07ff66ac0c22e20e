"""`manage.py feepayer` on a real anvil: the EVM fee payer's address (its own derivation path,
never a deposit address) and the balance the chain shows once it is funded."""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal

import pytest
from django.core.management import call_command
from eth_account import Account

from chains.derivation import derive_address, derive_signing_key
from testing.evm_settlements import WEI, evm  # noqa: F401  (evm: the fixture)

pytestmark = pytest.mark.django_db


def _feepayer() -> dict:
    out = io.StringIO()
    call_command("feepayer", stdout=out)
    return json.loads(out.getvalue())


def test_feepayer_prints_the_fee_payer_address_and_its_balance_on_the_chain(evm):
    mnemonic = os.environ["FLUXA_WALLET_MNEMONIC"]  # the root conftest's BIP39 test vector
    with derive_signing_key(mnemonic=mnemonic, network="ethereum", mode="live", index=0, fee_payer=True) as key:
        assert key.path == "m/44'/60'/2'/0/0"
        assert Account.from_key(key.secret_bytes()).address == evm.fee_payer
    assert evm.fee_payer != derive_address(mnemonic=mnemonic, network="ethereum", mode="live", index=0).address

    before = _feepayer()["ethereum"]
    evm.send_eth(evm.fee_payer, WEI // 4)
    after = _feepayer()["ethereum"]

    assert before["address"] == after["address"] == evm.fee_payer and after["asset"] == "ETH"
    assert Decimal(after["balance"]) == Decimal(evm.balance(evm.fee_payer)) / WEI
    assert Decimal(after["balance"]) - Decimal(before["balance"]) == Decimal("0.25")
    assert after["low"] is False and "error" not in after


def test_a_fee_payer_below_its_threshold_is_low(evm, settings):
    settings.FLUXA_FEE_PAYER_LOW = {"ethereum": str(Decimal(evm.balance(evm.fee_payer)) / WEI + 1)}
    assert _feepayer()["ethereum"]["low"] is True
