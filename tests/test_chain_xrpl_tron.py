"""Chain watching end to end for the XRP Ledger and Tron. No rippled or java-tron node can run
here: testing/xrpl_fake.py and testing/tron_fake.py stand in for them (local HTTP servers
answering the documented RPC shapes over in-memory chains). The payments are real
transactions, built and signed here with the real libraries (xrpl-py; secp256k1 keys from
eth-account for Tron), and the fakes check the signatures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account
from xrpl.core.keypairs import generate_seed
from xrpl.models.amounts import IssuedCurrencyAmount
from xrpl.models.transactions import Payment, PaymentFlag
from xrpl.transaction import sign
from xrpl.wallet import Wallet

from chains.adapters.registry import adapter_for
from chains.adapters.tron import TronAdapter
from chains.adapters.xrpl import XrplAdapter
from chains.encoding import tron_address_from_hex, tron_address_to_hex
from charges.models import Channel
from charges.watching import network_scan
from testing.client import charge, charge_to_pay, order_state
from testing.tron_fake import sign_transaction, trc20_transfer, tron_hex
from wallets.models import Transfer

pytestmark = pytest.mark.django_db

# A test-only XRP Ledger key from a fixed seed: never funded on any real ledger.
XRP_PAYER = Wallet.from_seed(generate_seed(entropy="11" * 16))
ISSUER = Wallet.from_seed(generate_seed(entropy="22" * 16))


# -- XRP Ledger ---------------------------------------------------------------------------------


@pytest.fixture
def xrpl_chain(xrpl_fake, settings):
    settings.FLUXA_CHAINS = {"xrpl": {"live": xrpl_fake.url}}
    adapter = adapter_for("xrpl", "live")
    assert isinstance(adapter, XrplAdapter)
    network_scan(adapter=adapter, start_back=0)  # the cursor at today's head
    yield type("Chain", (), {"node": xrpl_fake, "adapter": adapter, "sequence": iter(range(1, 10**6))})
    adapter.close()


def _xrp_charge(live_api, amount="25"):
    """(order id, the receiving account, the order's destination tag)"""
    created = charge(live_api, channel="xrp", currency="XRP", amount=amount)
    instruction = created["instruction"]
    assert instruction["deposit_address"].startswith("r") and isinstance(instruction["destination_tag"], int)
    return created["order"]["id"], instruction["deposit_address"], instruction["destination_tag"]


def _xrp_pay(chain, account, tag, drops, **extra) -> str:
    outcome = {k: extra.pop(k) for k in ("delivered", "result") if k in extra}
    tx = Payment(account=XRP_PAYER.classic_address, destination=account, amount=drops, destination_tag=tag,
                 sequence=next(chain.sequence), fee="12", **extra)
    return chain.node.submit(sign(tx, XRP_PAYER).blob(), **outcome)


def test_xrp_payment_with_the_orders_tag_pays_it(xrpl_chain, live_api):
    order_id, account, tag = _xrp_charge(live_api)

    txid = _xrp_pay(xrpl_chain, account, tag, "25000000")
    network_scan(adapter=xrpl_chain.adapter)
    assert order_state(order_id) == ("created", "")  # submitted, not in a validated ledger yet

    ledger = xrpl_chain.node.close_ledger()
    network_scan(adapter=xrpl_chain.adapter)
    assert order_state(order_id) == ("paid", "")  # the xrp channel needs 1 confirmation: validated
    transfer = Transfer.objects.get(order_id=order_id)
    assert (transfer.tx_hash, transfer.asset, transfer.amount, transfer.sender) == (
        txid, "XRP", Decimal("25"), XRP_PAYER.classic_address)
    assert (transfer.block_number, transfer.block_hash, transfer.status) == (ledger.index, ledger.hash, "confirmed")


def test_xrp_payment_with_another_tag_does_not_pay_the_order(xrpl_chain, live_api):
    order_id, account, tag = _xrp_charge(live_api)
    _, _, other_tag = _xrp_charge(live_api, amount="30")
    _xrp_pay(xrpl_chain, account, tag + 1000, "25000000")  # no order has this tag
    _xrp_pay(xrpl_chain, account, None, "25000000")  # no tag at all
    _xrp_pay(xrpl_chain, account, other_tag, "25000000")  # the other order's tag
    xrpl_chain.node.close_ledger()
    network_scan(adapter=xrpl_chain.adapter)
    assert order_state(order_id) == ("created", "")
    assert not Transfer.objects.filter(order_id=order_id).exists()


def test_xrp_partial_payment_attack_leaves_the_order_underpaid(xrpl_chain, live_api):
    order_id, account, tag = _xrp_charge(live_api)
    _xrp_pay(xrpl_chain, account, tag, "25000000", flags=PaymentFlag.TF_PARTIAL_PAYMENT,
             send_max=IssuedCurrencyAmount(currency="USD", issuer=ISSUER.classic_address, value="25"),
             delivered="1000000")  # Amount says 25 XRP; the ledger delivered 1 XRP
    _xrp_pay(xrpl_chain, account, tag, "25000000", result="tecUNFUNDED_PAYMENT")  # failed: moved nothing
    xrpl_chain.node.close_ledger()
    network_scan(adapter=xrpl_chain.adapter)
    assert order_state(order_id) == ("pending", "underpaid")
    assert Transfer.objects.get(order_id=order_id).amount == Decimal("1")


# -- Tron -----------------------------------------------------------------------------------------

TRON_CONFIRMATIONS = 2
USDT_TRC20 = {"channel": "usdt_trc20", "currency": "USDT"}
TRON_PAYER, STRANGER = (Account.from_key(bytes([n]) * 32) for n in (0x31, 0x32))  # test-only keys


@pytest.fixture
def tron_chain(tron_fake, settings):
    token = tron_fake.deploy_trc20(tron_hex(TRON_PAYER), 10**12)
    Channel.objects.filter(code="usdt_trc20").update(token_contract=tron_address_from_hex(token),
                                                     required_confirmations=TRON_CONFIRMATIONS)
    settings.FLUXA_CHAINS = {"tron": {"live": tron_fake.url}}
    tron_fake.produce_blocks(1)
    adapter = adapter_for("tron", "live")
    assert isinstance(adapter, TronAdapter)
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": tron_fake, "adapter": adapter, "token": token})
    adapter.close()


def _usdt_pay(chain, address, units) -> str:
    tx = trc20_transfer(tron_hex(TRON_PAYER), chain.token, tron_address_to_hex(address), units,
                        ref_block=chain.node.head)
    return chain.node.broadcast(sign_transaction(tx, TRON_PAYER.key))


def test_usdt_trc20_payment_goes_pending_then_paid_after_confirmations(tron_chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_TRC20, amount="25")
    assert address.startswith("T")  # a base58check Tron address
    txid = _usdt_pay(tron_chain, address, 25_000_000)
    network_scan(adapter=tron_chain.adapter)
    assert order_state(order_id) == ("created", "")  # broadcast, not in a block yet

    [block] = tron_chain.node.produce_blocks(1)
    network_scan(adapter=tron_chain.adapter)
    assert order_state(order_id) == ("pending", "")

    tron_chain.node.produce_blocks(TRON_CONFIRMATIONS - 1)
    network_scan(adapter=tron_chain.adapter)
    assert order_state(order_id) == ("paid", "")
    transfer = Transfer.objects.get(order_id=order_id)
    assert (transfer.tx_hash, transfer.asset, transfer.amount, transfer.block_hash, transfer.status) == (
        txid, "USDT", Decimal("25"), block["blockID"], "confirmed")
    assert transfer.sender == tron_address_from_hex(tron_hex(TRON_PAYER))


def test_usdt_trc20_reverted_and_partial_payments(tron_chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_TRC20, amount="25")
    tx = trc20_transfer(tron_hex(STRANGER), tron_chain.token, tron_address_to_hex(address), 25_000_000)
    tron_chain.node.broadcast(sign_transaction(tx, STRANGER.key))  # holds no tokens: the call reverts
    _usdt_pay(tron_chain, address, 10_000_000)
    tron_chain.node.produce_blocks(TRON_CONFIRMATIONS)
    network_scan(adapter=tron_chain.adapter)
    assert order_state(order_id) == ("pending", "underpaid")
    assert Transfer.objects.get(order_id=order_id).amount == Decimal("10")


def test_usdt_trc20_reorg_reverts_the_payment(tron_chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_TRC20, amount="25")
    _usdt_pay(tron_chain, address, 25_000_000)
    [block] = tron_chain.node.produce_blocks(TRON_CONFIRMATIONS)[:1]
    network_scan(adapter=tron_chain.adapter)
    assert order_state(order_id) == ("paid", "")

    tron_chain.node.fork(block["block_header"]["raw_data"]["number"] - 1)  # the payment's block is gone
    tron_chain.node.produce_blocks(TRON_CONFIRMATIONS + 1)
    network_scan(adapter=tron_chain.adapter)
    assert Transfer.objects.get(order_id=order_id).status == "reverted"
    assert order_state(order_id)[0] == "created"


def test_a_live_xrpl_entry_on_a_testnet_server_is_refused(xrpl_fake, settings):
    """The stand-in leaves network_id out, as rippled does on the mainnet; as the testnet (1),
    live mode refuses it and test mode takes it."""
    from chains.adapters.base import WrongChain

    xrpl_fake.network_id = 1
    settings.FLUXA_CHAINS = {"xrpl": {"live": xrpl_fake.url, "test": xrpl_fake.url}}
    with pytest.raises(WrongChain):
        network_scan(adapter=adapter_for("xrpl", "live"))
    adapter_for("xrpl", "test").check_chain()
    xrpl_fake.network_id = None
    with pytest.raises(WrongChain):
        adapter_for("xrpl", "test").check_chain()  # a mainnet server behind a test entry


def test_an_xrpl_server_out_of_sync_is_not_in_step(xrpl_fake, settings):
    settings.FLUXA_CHAINS = {"xrpl": {"live": xrpl_fake.url}}
    assert adapter_for("xrpl", "live").node_synced() is True
    xrpl_fake.server_state = "syncing"
    assert adapter_for("xrpl", "live").node_synced() is False


def test_a_live_tron_entry_on_a_nile_node_is_refused(tron_fake, settings):
    from chains.adapters.base import WrongChain
    from testing.tron_fake import NILE_GENESIS_ID

    settings.FLUXA_CHAINS = {"tron": {"live": tron_fake.url, "test": tron_fake.url}}
    with pytest.raises(WrongChain):
        adapter_for("tron", "test").check_chain()  # the stand-in is a mainnet node by default
    tron_fake.blocks[0]["blockID"] = NILE_GENESIS_ID
    with pytest.raises(WrongChain):
        network_scan(adapter=adapter_for("tron", "live"))
    adapter_for("tron", "test").check_chain()
