"""`manage.py devchain pay` against a real regtest litecoind: fluxa hands out the test-mode
(tltc1) form of a deposit address, the node takes only the regtest (rltc1) form; the payment
lands on the same output script, for the amount still due."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from chains.encoding import decode_segwit
from charges.management.commands import devchain
from charges.services import charge_create
from testing.litecoind import RPC_USER, start_litecoind

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def litecoind():
    with start_litecoind() as node:
        yield node


def test_devchain_pay_sends_an_ltc_order_its_due_to_the_regtest_form_of_its_address(
        litecoind, merchant_keys, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "devchain").mkdir()
    (tmp_path / "devchain" / "state.json").write_text(json.dumps({
        "anvil_url": "http://127.0.0.1:9", "token_contract": "", "evm_account": devchain.DEV_ACCOUNT,
        "litecoin_rpc": f"http://127.0.0.1:{litecoind.port}/wallet/{litecoind.wallet}",
        "litecoin_user": RPC_USER, "litecoin_password": litecoind.password}))
    order = charge_create(merchant=merchant_keys.merchant, mode="test", actor="test",
                          data={"amount": Decimal("0.25"), "currency": "LTC", "channel": "ltc"}).order
    assert order.deposit_address.startswith("tltc1")

    out = io.StringIO()
    call_command("devchain", "pay", order.id, stdout=out)

    txid = out.getvalue().strip().rsplit(" ", 1)[1]
    regtest = devchain.regtest_address(order.deposit_address)
    assert regtest.startswith("rltc1") and f"regtest form {regtest}" in out.getvalue()
    tx = litecoind.rpc("getrawtransaction", txid, True)
    program = decode_segwit(order.deposit_address).program.hex()
    paid = [o for o in tx["vout"] if o["scriptPubKey"]["hex"] == "0014" + program]
    assert [o["value"] for o in paid] == [Decimal("0.25")]
