"""Chain watching end to end on a real regtest litecoind: test-mode `ltc` charges (a regtest
node is a test chain: live mode refuses it), real LTC payments from the node's wallet to the
deposit addresses (their regtest rltc1 form: the same witness program, so the same
scriptPubKey), the scanner, confirmations, reorgs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chains.adapters.registry import adapter_for
from chains.adapters.utxo import UtxoAdapter
from charges.models import Channel
from charges.watching import network_scan
from orders.models import Order, OrderEvent
from testing.client import charge_to_pay, order_state
from testing.litecoind import regtest_address
from wallets.models import ChainCursor, Transfer

CONFIRMATIONS = 3
LTC = {"channel": "ltc", "currency": "LTC"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(litecoind, settings):
    """The node configured as fluxa's litecoin test RPC; the cursor at today's head."""
    Channel.objects.filter(code="ltc").update(required_confirmations=CONFIRMATIONS)
    settings.FLUXA_CHAINS = {"litecoin": {"test": litecoind.url}}
    adapter = adapter_for("litecoin", "test")
    assert isinstance(adapter, UtxoAdapter)
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": litecoind, "adapter": adapter})
    adapter.close()


def _pay(chain, address, amount: str) -> str:
    return chain.node.rpc("sendtoaddress", regtest_address(address), amount)


def test_a_payment_goes_pending_then_paid_after_confirmations(chain, api):
    order_id, address = charge_to_pay(api, **LTC, amount="0.5")
    assert address.startswith("tltc1")  # a testnet address; the node pays its regtest form

    txid = _pay(chain, address, "0.5")
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("created", "")  # in the mempool: not seen yet

    chain.node.mine(1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "")

    chain.node.mine(CONFIRMATIONS - 1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    transfer = Transfer.objects.get(order_id=order_id)
    assert (transfer.tx_hash, transfer.asset, transfer.amount) == (txid, "LTC", Decimal("0.5"))
    assert transfer.confirmations == CONFIRMATIONS and transfer.status == "confirmed"
    vout = chain.node.rpc("getrawtransaction", txid, True, transfer.block_hash)["vout"]
    assert vout[transfer.log_index]["scriptPubKey"]["hex"] == chain.adapter.normalize(address)
    assert list(OrderEvent.objects.filter(order_id=order_id).values_list("to_status", flat=True)) == [
        "created", "pending", "paid"]


def test_a_partial_payment_stays_pending_and_two_payments_are_summed(chain, api):
    order_id, address = charge_to_pay(api, **LTC, amount="0.5")

    _pay(chain, address, "0.2")
    chain.node.mine(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "underpaid")

    _pay(chain, address, "0.3")
    chain.node.mine(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    assert Order.objects.get(pk=order_id).amount_confirmed == Decimal("0.5")
    assert Transfer.objects.filter(order_id=order_id).count() == 2


def test_a_reorg_that_drops_the_payment_reverts_transfer_and_order(chain, api):
    node = chain.node
    order_id, address = charge_to_pay(api, **LTC, amount="0.5")
    txid = _pay(chain, address, "0.5")
    [paid_block] = node.mine(1)
    node.mine(CONFIRMATIONS - 1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")

    node.rpc("invalidateblock", paid_block)  # the payment's blocks are gone (it is back in the mempool)...
    for _ in range(CONFIRMATIONS + 2):  # ...and a longer chain without it takes their place
        node.rpc("generateblock", node.mining_address, [])
    network_scan(adapter=chain.adapter)

    assert Transfer.objects.get(order_id=order_id).status == "reverted"
    assert order_state(order_id)[0] == "created"
    last = OrderEvent.objects.filter(order_id=order_id).last()
    assert (last.from_status, last.to_status) == ("paid", "created")

    node.mine(CONFIRMATIONS)  # the new chain takes the transaction from the mempool: it is restored
    network_scan(adapter=chain.adapter)
    transfer = Transfer.objects.get(order_id=order_id)
    assert (transfer.tx_hash, transfer.status) == (txid, "confirmed") and transfer.block_hash != paid_block
    assert order_state(order_id) == ("paid", "")


def test_scanning_the_same_range_twice_records_each_payment_once(chain, api):
    order_id, address = charge_to_pay(api, **LTC, amount="0.5")
    _pay(chain, address, "0.1")
    chain.node.mine(1)
    cursor = ChainCursor.objects.get(network="litecoin", mode="test")
    before = cursor.last_block

    network_scan(adapter=chain.adapter)
    ChainCursor.objects.filter(pk=cursor.pk).update(last_block=before,  # as if it crashed before saving
                                                    last_block_hash=chain.adapter.block(before).hash)
    network_scan(adapter=chain.adapter)

    assert Transfer.objects.filter(order_id=order_id).count() == 1


def test_one_transaction_paying_two_orders(chain, api):
    first, first_address = charge_to_pay(api, **LTC, amount="0.5")
    second, second_address = charge_to_pay(api, **LTC, amount="0.25")
    chain.node.rpc("sendmany", "", {regtest_address(first_address): "0.5", regtest_address(second_address): "0.25"})
    chain.node.mine(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)

    assert order_state(first) == ("paid", "") and order_state(second) == ("paid", "")
    one, two = Transfer.objects.get(order_id=first), Transfer.objects.get(order_id=second)
    assert one.tx_hash == two.tx_hash and one.log_index != two.log_index


def test_a_live_entry_on_a_regtest_node_is_refused(litecoind, settings, live_api):
    from chains.adapters.base import WrongChain

    settings.FLUXA_CHAINS = {"litecoin": {"live": litecoind.url}}
    with pytest.raises(WrongChain):
        network_scan(adapter=adapter_for("litecoin", "live"))
    refused = live_api.post("/api/v1/charges", {**LTC, "amount": "0.5"})
    assert (refused.status_code, refused.error_code) == (503, "network_unavailable")


def test_an_idle_test_chain_keeps_taking_charges(chain, api, client):
    """A regtest node whose newest block is two hours old is in step (its own word): test mode
    judges by that and by the scanner's last pass, not by block age (600 s refused it before)."""
    from datetime import timedelta

    from django.utils import timezone

    assert chain.adapter.node_synced() is True
    ChainCursor.objects.filter(network="litecoin", mode="test").update(
        head_timestamp=timezone.now() - timedelta(hours=2))

    assert charge_to_pay(api, **LTC, amount="0.5")[1].startswith("tltc1")
    assert client.get("/healthz").json()["chains"]["litecoin/test"]["ok"] is True


def test_a_node_that_says_it_is_behind_takes_no_charges(chain, api):
    ChainCursor.objects.filter(network="litecoin", mode="test").update(node_synced=False)
    refused = api.post("/api/v1/charges", {**LTC, "amount": "0.5"})
    assert (refused.status_code, refused.error_code) == (503, "network_unavailable")
    assert "not in step" in refused.body["error"]["message"]


def test_a_node_in_initial_block_download_or_behind_its_peers_is_not_in_step():
    """bitcoind's own words, from a stand-in that answers getblockchaininfo and getpeerinfo."""
    import json

    from testing.httpserver import QuietHandler, serve, url_of

    answers = {}

    class Node(QuietHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.reply(200, json.dumps({"result": answers[body["method"]], "error": None, "id": body["id"]}).encode())

    with serve(Node) as server:
        adapter = UtxoAdapter(network="litecoin", mode="test", rpc_url=url_of(server))
        answers["getpeerinfo"] = []
        answers["getblockchaininfo"] = {"chain": "test", "blocks": 10, "headers": 10, "initialblockdownload": True}
        assert adapter.node_synced() is False
        answers["getblockchaininfo"] = {"chain": "test", "blocks": 10, "headers": 12, "initialblockdownload": False}
        assert adapter.node_synced() is False
        answers["getblockchaininfo"] = {"chain": "test", "blocks": 10, "headers": 10, "initialblockdownload": False}
        answers["getpeerinfo"] = [{"synced_headers": 11}, {"synced_headers": 40}]
        assert adapter.node_synced() is False
        answers["getpeerinfo"] = [{"synced_headers": 11}, {"synced_headers": 10}]
        assert adapter.node_synced() is True
        adapter.close()
        answers["getpeerinfo"] = []
        assert adapter.node_synced() is True  # a test chain may have no peers (regtest)
        live = UtxoAdapter(network="litecoin", mode="live", rpc_url=url_of(server))
        assert live.node_synced() is False  # a live node alone cannot know it is behind
        live.close()
