"""Chain watching end to end on a real anvil node: live-mode charges, real token and ether
transfers to the deposit addresses, the scanner, confirmations, reorgs."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from eth_account import Account
from web3 import Web3

from chains.adapters.evm import EvmAdapter
from charges.models import Channel
from charges.watching import network_scan
from merchants.models import Merchant
from orders.models import Order, OrderEvent
from testing.anvil import TEST_TOKEN_ARTIFACT
from testing.client import charge_to_pay, order_state, post_charge, run_concurrently
from testing.crash import run_killed
from wallets.models import ChainCursor, Transfer
from webhooks.models import Event

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = json.loads(TEST_TOKEN_ARTIFACT.read_text())
# anvil's first dev account (from its public test mnemonic): test money only.
PAYER = Account.from_key("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
CONFIRMATIONS = 3
USDT_ERC20 = {"channel": "usdt_erc20", "currency": "USDT"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(anvil, settings):
    """A fresh token on the running node, wired in as the live usdt_erc20 contract, and the
    node configured as fluxa's ethereum live RPC."""
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    # Blocks stamped now: after an earlier module reverted anvil to the session's snapshot, new
    # blocks would carry that snapshot's time, and a live node whose newest block is minutes
    # old takes no charges (network_unavailable).
    if int(time.time()) > int(w3.eth.get_block("latest")["timestamp"]):
        anvil.rpc("evm_setNextBlockTimestamp", [int(time.time())])
    contract = w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(_send(w3, contract.constructor()))
    assert receipt.status == 1
    token = w3.eth.contract(address=receipt.contractAddress, abi=ARTIFACT["abi"])
    assert w3.eth.wait_for_transaction_receipt(_send(w3, token.functions.mint(PAYER.address, 10**12))).status == 1
    Channel.objects.filter(code="usdt_erc20").update(token_contract=receipt.contractAddress,
                                                     required_confirmations=CONFIRMATIONS)
    Channel.objects.filter(code="eth").update(required_confirmations=CONFIRMATIONS)
    settings.FLUXA_CHAINS = {"ethereum": {"live": anvil.url}}
    adapter = EvmAdapter(network="ethereum", mode="live", rpc_url=anvil.url)
    network_scan(adapter=adapter, start_back=0)  # the cursor starts at today's head
    return type("Chain", (), {"w3": w3, "token": token, "adapter": adapter, "anvil": anvil})


def _send(w3, call=None, *, to=None, value=0):
    tx = {"from": PAYER.address, "nonce": w3.eth.get_transaction_count(PAYER.address), "chainId": w3.eth.chain_id,
          "gas": 3_000_000, "maxFeePerGas": 2 * 10**10, "maxPriorityFeePerGas": 10**9}
    tx = call.build_transaction(tx) if call is not None else {**tx, "to": to, "value": value, "gas": 21_000}
    return w3.eth.send_raw_transaction(PAYER.sign_transaction(tx).raw_transaction)


def _pay_tokens(chain, address, units):
    receipt = chain.w3.eth.wait_for_transaction_receipt(
        _send(chain.w3, chain.token.functions.transfer(Web3.to_checksum_address(address), units)))
    assert receipt.status == 1 and receipt.logs
    return receipt


def _mine(chain, blocks):
    chain.anvil.rpc("anvil_mine", [hex(blocks)])


def test_a_token_payment_goes_pending_then_paid_after_confirmations(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")

    _pay_tokens(chain, address, 25_000_000)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "")

    _mine(chain, CONFIRMATIONS - 1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    transfer = Transfer.objects.get(order_id=order_id)
    assert transfer.amount == Decimal("25") and transfer.confirmations == CONFIRMATIONS
    assert transfer.sender.lower() == PAYER.address.lower()
    assert list(OrderEvent.objects.filter(order_id=order_id).values_list("to_status", flat=True)) == [
        "created", "pending", "paid"]


def test_a_partial_payment_stays_pending_and_two_transfers_are_summed(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")

    _pay_tokens(chain, address, 10_000_000)
    _mine(chain, CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "underpaid")

    _pay_tokens(chain, address, 15_000_000)
    _mine(chain, CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    assert Order.objects.get(pk=order_id).amount_confirmed == Decimal("25")


def test_an_ether_payment(chain, live_api):
    order_id, address = charge_to_pay(live_api, channel="eth", currency="ETH", amount="0.05")

    chain.w3.eth.wait_for_transaction_receipt(
        _send(chain.w3, to=Web3.to_checksum_address(address), value=5 * 10**16))
    _mine(chain, CONFIRMATIONS)
    network_scan(adapter=chain.adapter)

    assert order_state(order_id) == ("paid", "")
    assert Transfer.objects.get(order_id=order_id).asset == "ETH"


def test_a_reorg_that_drops_the_payment_reverts_transfer_and_order(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    snapshot = chain.anvil.rpc("evm_snapshot", [])
    _pay_tokens(chain, address, 25_000_000)
    _mine(chain, CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")

    chain.anvil.rpc("evm_revert", [snapshot])  # the payment's blocks are gone...
    _mine(chain, CONFIRMATIONS + 2)  # ...and a longer chain without it takes their place
    network_scan(adapter=chain.adapter)

    assert Transfer.objects.get(order_id=order_id).status == "reverted"
    status, _ = order_state(order_id)
    assert status == "created"
    last = OrderEvent.objects.filter(order_id=order_id).last()
    assert (last.from_status, last.to_status) == ("paid", "created")


def test_scanning_the_same_range_twice_records_each_transfer_once(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_tokens(chain, address, 5_000_000)
    _mine(chain, 1)
    cursor = ChainCursor.objects.get(network="ethereum", mode="live")
    before = cursor.last_block

    network_scan(adapter=chain.adapter)
    ChainCursor.objects.filter(pk=cursor.pk).update(last_block=before)  # as if it crashed before saving
    ChainCursor.objects.filter(pk=cursor.pk).update(last_block_hash=chain.adapter.block(before).hash)
    network_scan(adapter=chain.adapter)

    assert Transfer.objects.filter(order_id=order_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_scanners_at_once_record_each_transfer_once(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_tokens(chain, address, 5_000_000)
    _mine(chain, 1)

    def scan(i):
        adapter = EvmAdapter(network="ethereum", mode="live", rpc_url=chain.anvil.url)
        try:
            return network_scan(adapter=adapter)
        finally:
            connection.close()

    results = run_concurrently(4, scan)

    assert any(not r.busy for r in results)
    assert Transfer.objects.filter(order_id=order_id).count() == 1


def test_a_network_is_scanned_in_one_place_at_a_time(chain, live_api):
    from django.utils import timezone

    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_tokens(chain, address, 5_000_000)
    held = ChainCursor.objects.filter(network="ethereum", mode="live")
    held.update(locked_until=timezone.now() + timezone.timedelta(seconds=60), lock_token="other")

    assert network_scan(adapter=chain.adapter).busy is True  # another scanner holds the lease
    assert not Transfer.objects.filter(order_id=order_id).exists()

    held.update(locked_until=timezone.now() - timezone.timedelta(seconds=1))  # it crashed: lease expired
    assert network_scan(adapter=chain.adapter).busy is False
    assert Transfer.objects.filter(order_id=order_id).count() == 1


def test_a_lagging_node_refuses_new_charges_and_shows_in_healthz(chain, live_api, settings, client):
    from django.utils import timezone

    ChainCursor.objects.filter(network="ethereum", mode="live").update(
        head_timestamp=timezone.now() - timezone.timedelta(hours=2))

    response = post_charge(live_api, **USDT_ERC20, amount="25")
    health = client.get("/healthz").json()

    assert (response.status_code, response.error_code) == (503, "network_unavailable")
    assert health["chains"]["ethereum/live"]["ok"] is False and health["status"] == "degraded"


# --- what the merchant is told, scenario by scenario ------------------------------------------


def _events(order_id):
    """(type, previous_status) of the webhook events of one order, oldest first."""
    rows = Event.objects.filter(data__order__id=order_id).order_by("created_at")
    return [(event.type, event.data.get("previous_status")) for event in rows]


def _pay_and_confirm(chain, address, units):
    receipt = _pay_tokens(chain, address, units)
    _mine(chain, CONFIRMATIONS - 1)
    network_scan(adapter=chain.adapter)
    return receipt


def test_each_scenario_moves_the_order_and_tells_the_merchant_each_change(chain, live_api):
    exact, exact_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    under, under_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    over, over_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")

    _pay_and_confirm(chain, exact_address, 25_000_000)
    _pay_and_confirm(chain, under_address, 10_000_000)
    assert order_state(under) == ("pending", "underpaid")
    _pay_and_confirm(chain, under_address, 15_000_000)  # the top-up
    _pay_and_confirm(chain, over_address, 30_000_000)

    assert order_state(exact) == ("paid", "") and order_state(over) == ("paid", "overpaid")
    assert order_state(under) == ("paid", "")
    assert _events(exact) == [("order.created", None), ("order.paid", "created")]
    assert _events(under) == [("order.created", None), ("order.pending", "created"),
                              ("order.payment_exception", "created"), ("order.paid", "pending")]
    assert _events(over) == [("order.created", None), ("order.paid", "created"),
                             ("order.payment_exception", "created")]


def test_a_reorg_after_paid_is_announced_as_reverted_with_the_status_it_left_and_why(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    snapshot = chain.anvil.rpc("evm_snapshot", [])
    _pay_and_confirm(chain, address, 25_000_000)
    assert order_state(order_id) == ("paid", "")

    chain.anvil.rpc("evm_revert", [snapshot])
    _mine(chain, CONFIRMATIONS + 2)
    network_scan(adapter=chain.adapter)

    assert order_state(order_id) == ("created", "")
    reverted = Event.objects.filter(data__order__id=order_id).order_by("created_at").last()
    assert reverted.type == "order.reverted"
    assert reverted.data["previous_status"] == "paid" and reverted.data["order"]["status"] == "created"
    assert "reorganization" in reverted.data["reason"]


def test_a_reorg_before_paid_takes_the_order_back_to_created_as_reverted(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    snapshot = chain.anvil.rpc("evm_snapshot", [])
    _pay_tokens(chain, address, 25_000_000)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "")

    chain.anvil.rpc("evm_revert", [snapshot])
    _mine(chain, 3)
    network_scan(adapter=chain.adapter)

    assert order_state(order_id) == ("created", "")
    assert _events(order_id)[-1] == ("order.reverted", "pending")


def _block_time(chain, receipt):
    from datetime import datetime
    from datetime import timezone as dt_timezone

    return datetime.fromtimestamp(chain.w3.eth.get_block(receipt.blockNumber)["timestamp"], tz=dt_timezone.utc)


def _wait_past(moment):
    import time

    from django.utils import timezone

    while timezone.now() <= moment:
        time.sleep(0.1)


def test_a_payment_mined_before_expiry_but_seen_after_it_pays_the_order_in_time(chain, live_api):
    from datetime import timedelta

    from orders.services import orders_expire_due

    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    Merchant.objects.filter(orders__id=order_id).update(accept_late_payments=False)  # late would stay expired
    receipt = _pay_tokens(chain, address, 25_000_000)
    _mine(chain, CONFIRMATIONS - 1)
    expires_at = _block_time(chain, receipt) + timedelta(seconds=1)  # mined a second before expiry
    Order.objects.filter(pk=order_id).update(expires_at=expires_at)
    _wait_past(expires_at)
    assert orders_expire_due() == 1  # the expiry job runs before the scanner has seen it
    assert order_state(order_id) == ("expired", "")

    network_scan(adapter=chain.adapter)  # seen now, after the expiry (a scanner restart)

    assert order_state(order_id) == ("paid", "")  # in time by the block's clock: not late
    assert Transfer.objects.get(order_id=order_id).block_time == _block_time(chain, receipt)
    assert _events(order_id)[-1] == ("order.paid", "expired")


def test_a_payment_mined_after_expiry_is_late(chain, live_api):
    from datetime import timedelta

    from django.utils import timezone

    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    Merchant.objects.filter(orders__id=order_id).update(accept_late_payments=True)
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(minutes=5))
    _pay_and_confirm(chain, address, 25_000_000)

    assert order_state(order_id) == ("paid", "paid_late")
    assert _events(order_id) == [("order.created", None), ("order.expired", "created"), ("order.paid", "expired"),
                                 ("order.payment_exception", "expired")]


def test_a_late_payment_the_merchant_refuses_leaves_the_order_expired_with_the_funds(chain, live_api):
    from datetime import timedelta

    from django.utils import timezone

    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    Merchant.objects.filter(orders__id=order_id).update(accept_late_payments=False)
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(minutes=5))
    _pay_and_confirm(chain, address, 25_000_000)

    assert order_state(order_id) == ("expired", "paid_late")
    assert Order.objects.get(pk=order_id).amount_received == Decimal("25")
    assert _events(order_id)[-1] == ("order.payment_exception", "expired")


def test_money_on_a_canceled_order_is_announced_as_a_payment_exception(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    assert live_api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).status_code == 200

    _pay_and_confirm(chain, address, 10_000_000)

    order = Order.objects.get(pk=order_id)
    assert (order.status, order.payment_exception, order.amount_received) == ("canceled", "after_close", Decimal("10"))
    event = Event.objects.filter(data__order__id=order_id, type="order.payment_exception").get()
    assert "arrived on a canceled order" in event.data["reason"]


def test_a_deleted_order_that_receives_money_shows_again(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    assert live_api.delete(f"/api/v1/orders/{order_id}").status_code in (200, 204)
    assert live_api.get(f"/api/v1/orders/{order_id}").status_code == 404

    _pay_and_confirm(chain, address, 10_000_000)  # the payment raced the delete

    shown = live_api.get(f"/api/v1/orders/{order_id}")
    assert shown.status_code == 200
    assert shown.body["order"]["payment_exception"] == "after_close"
    assert Event.objects.filter(data__order__id=order_id, type="order.payment_exception").exists()


def test_a_node_behind_the_cursor_reverts_nothing_and_confirmations_never_go_back(chain, live_api):
    """A lagging (or failed-over) node answers an older head: no reorg is made of it, no
    transfer or order moves back, and the network waits for the node to catch up."""
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_and_confirm(chain, address, 25_000_000)
    _mine(chain, 2)
    network_scan(adapter=chain.adapter)
    cursor = ChainCursor.objects.get(network="ethereum", mode="live")
    transfer = Transfer.objects.get(order_id=order_id)
    assert transfer.status == "confirmed" and order_state(order_id) == ("paid", "")

    lagging = EvmAdapter(network="ethereum", mode="live", rpc_url=chain.anvil.url)
    older = chain.adapter.block(transfer.block_number)  # a head at the payment's own block
    lagging.head = lambda: older
    result = network_scan(adapter=lagging)

    assert result.behind is True
    transfer.refresh_from_db()
    assert (transfer.status, transfer.confirmations) == ("confirmed", CONFIRMATIONS + 2)
    assert order_state(order_id) == ("paid", "")
    assert ChainCursor.objects.get(pk=cursor.pk).last_block == cursor.last_block
    assert not Event.objects.filter(data__order__id=order_id, type="order.reverted").exists()


def test_every_payment_on_a_canceled_order_is_announced(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    assert live_api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).status_code == 200

    _pay_and_confirm(chain, address, 10_000_000)
    _pay_and_confirm(chain, address, 5_000_000)

    assert Order.objects.get(pk=order_id).amount_received == Decimal("15")
    announced = Event.objects.filter(data__order__id=order_id, type="order.payment_exception").order_by("created_at")
    assert [e.data["order"]["amount_received"] for e in announced] == ["10", "15"]


def test_a_payment_in_time_stays_in_time_when_a_late_one_is_seen_with_it(chain, live_api):
    from datetime import timedelta

    from orders.services import orders_expire_due

    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    Merchant.objects.filter(orders__id=order_id).update(accept_late_payments=False)
    receipt = _pay_tokens(chain, address, 25_000_000)
    expires_at = _block_time(chain, receipt) + timedelta(seconds=1)
    Order.objects.filter(pk=order_id).update(expires_at=expires_at)
    _wait_past(expires_at + timedelta(seconds=1))
    chain.anvil.rpc("evm_mine", [])  # a block after the expiry...
    _pay_tokens(chain, address, 1_000_000)  # ...and a small late transfer in the next
    _mine(chain, CONFIRMATIONS)
    assert orders_expire_due() == 1

    network_scan(adapter=chain.adapter)  # both seen in one pass, after the expiry job

    assert order_state(order_id) == ("paid", "overpaid")  # paid in time; the late one is extra


# --- a node of another chain ----------------------------------------------------------------


def test_a_live_entry_on_a_testnet_node_is_refused_loudly_and_takes_no_charges(chain, live_api, caplog):
    from chains.adapters.base import WrongChain

    order_id, address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    chain.anvil.rpc("anvil_setChainId", [11155111])  # Sepolia's
    try:
        _pay_tokens(chain, address, 25_000_000)
        _mine(chain, CONFIRMATIONS)
        adapter = EvmAdapter(network="ethereum", mode="live", rpc_url=chain.anvil.url)
        with pytest.raises(WrongChain):
            network_scan(adapter=adapter)
        refused = post_charge(live_api, **USDT_ERC20, amount="25")
    finally:
        chain.anvil.rpc("anvil_setChainId", [1])

    assert not Transfer.objects.filter(order_id=order_id).exists()  # testnet coins credit nothing
    assert order_state(order_id) == ("created", "")
    assert ChainCursor.objects.get(network="ethereum", mode="live").last_error.startswith("wrong chain")
    assert any(r.levelname == "ERROR" and "wrong chain" in r.getMessage() for r in caplog.records)
    assert (refused.status_code, refused.error_code) == (503, "network_unavailable")
    assert "another chain" in refused.body["error"]["message"]


def test_a_test_entry_on_a_mainnet_node_is_refused(chain):
    from chains.adapters.base import WrongChain

    adapter = EvmAdapter(network="ethereum", mode="test", rpc_url=chain.anvil.url)  # chain id 1
    with pytest.raises(WrongChain):
        adapter.check_chain()
    chain.anvil.rpc("anvil_setChainId", [31337])  # a local development chain is a test chain
    try:
        EvmAdapter(network="ethereum", mode="test", rpc_url=chain.anvil.url).check_chain()
    finally:
        chain.anvil.rpc("anvil_setChainId", [1])


def test_the_scanner_records_the_payers_address_and_the_list_finds_it(chain, live_api):
    token_order, token_address = charge_to_pay(live_api, **USDT_ERC20, amount="3")
    ether_order, ether_address = charge_to_pay(live_api, channel="eth", currency="ETH", amount="0.01")
    other_order, _ = charge_to_pay(live_api, **USDT_ERC20, amount="4")

    _pay_tokens(chain, token_address, 3_000_000)
    chain.w3.eth.wait_for_transaction_receipt(_send(chain.w3, to=Web3.to_checksum_address(ether_address),
                                                    value=10**16))
    network_scan(adapter=chain.adapter)

    senders = set(Transfer.objects.filter(order_id__in=[token_order, ether_order]).values_list("sender", flat=True))
    assert senders == {PAYER.address}  # EIP-55, whatever form the node gave (log topics are lower case)
    for spelling in (PAYER.address, PAYER.address.lower()):
        response = live_api.get("/api/v1/orders", query=f"from_address={spelling}")
        assert response.status_code == 200, response.body
        assert {o["id"] for o in response.body["data"]} == {token_order, ether_order}
    assert other_order not in {o["id"] for o in live_api.get(
        "/api/v1/orders", query=f"from_address={PAYER.address}&network=ETH").body["data"]}


# --- one pass, many orders (orders_apply_transfers) -------------------------------------------


def test_one_pass_moves_every_touched_order_once_and_a_second_pass_changes_nothing(chain, live_api):
    exact, exact_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    under, under_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    untouched, _ = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_tokens(chain, exact_address, 25_000_000)
    _pay_tokens(chain, under_address, 4_000_000)
    _pay_tokens(chain, under_address, 6_000_000)  # two transfers, one pass: summed
    _mine(chain, CONFIRMATIONS)

    result = network_scan(adapter=chain.adapter)

    assert result.recorded == 3 and result.orders == {exact, under}
    assert order_state(exact) == ("paid", "") and order_state(under) == ("pending", "underpaid")
    assert order_state(untouched) == ("created", "")
    assert Order.objects.get(pk=under).amount_received == Decimal("10")
    assert _events(exact) == [("order.created", None), ("order.paid", "created")]
    assert _events(under) == [("order.created", None), ("order.pending", "created"),
                              ("order.payment_exception", "created")]
    assert list(OrderEvent.objects.filter(order_id=exact).values_list("to_status", flat=True)) == ["created", "paid"]
    assert ChainCursor.objects.get(network="ethereum", mode="live").pending_orders == {}
    events, audit = Event.objects.count(), OrderEvent.objects.count()

    cursor = ChainCursor.objects.get(network="ethereum", mode="live")
    start = chain.adapter.block(result.from_block - 1)
    ChainCursor.objects.filter(pk=cursor.pk).update(last_block=start.number, last_block_hash=start.hash)
    again = network_scan(adapter=chain.adapter)  # the same blocks once more

    assert again.recorded == 0 and again.orders == set()
    assert (Event.objects.count(), OrderEvent.objects.count()) == (events, audit)
    assert Transfer.objects.filter(order_id=under).count() == 2


# A worker killed mid-pass (testing/crash.py): the beat's scan job runs in a REAL subprocess on the
# committed test database (hence transaction=True), which SIGKILLs itself at the point; the test
# process then runs the next pass, as the next beat would.


def _audit(order_id):
    return list(OrderEvent.objects.filter(order_id=order_id).order_by("created_at", "id")
                .values_list("to_status", flat=True))


def _pending_on_cursor():
    return set(ChainCursor.objects.get(network="ethereum", mode="live").pending_orders)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_scanners_commit_loses_no_order(chain, live_api):
    paid, paid_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    under, under_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_tokens(chain, paid_address, 25_000_000)
    _pay_tokens(chain, under_address, 10_000_000)
    _mine(chain, CONFIRMATIONS)
    before = ChainCursor.objects.get(network="ethereum", mode="live").last_block

    crash = run_killed("scan_after_commit", network="ethereum", mode="live")

    assert crash.killed, crash.stderr[-3000:]
    assert Transfer.objects.filter(order_id__in=[paid, under], status="confirmed").count() == 2  # committed
    assert ChainCursor.objects.get(network="ethereum", mode="live").last_block > before  # moved past them
    assert order_state(paid) == ("created", "") and order_state(under) == ("created", "")  # not applied
    assert _pending_on_cursor() == {paid, under}

    result = network_scan(adapter=chain.adapter)  # the next beat: no new block, nothing new recorded

    assert result.recorded == 0 and result.orders == {paid, under}
    assert order_state(paid) == ("paid", "") and order_state(under) == ("pending", "underpaid")
    assert _events(paid) == [("order.created", None), ("order.paid", "created")]
    assert _events(under) == [("order.created", None), ("order.pending", "created"),
                              ("order.payment_exception", "created")]
    assert _audit(paid) == ["created", "paid"] and _audit(under) == ["created", "pending"]
    assert _pending_on_cursor() == set()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_apply_chunks_leaves_the_rest_to_the_next_pass_and_nothing_twice(chain, live_api):
    orders = [charge_to_pay(live_api, **USDT_ERC20, amount="25") for _ in range(3)]
    for _, address in orders:
        _pay_tokens(chain, address, 25_000_000)
    _mine(chain, CONFIRMATIONS)
    first, *rest = sorted(order_id for order_id, _ in orders)  # chunks go in id order

    crash = run_killed("scan_mid_apply", network="ethereum", mode="live", apply_chunk=1)

    assert crash.killed, crash.stderr[-3000:]
    assert order_state(first) == ("paid", "")  # the first chunk committed whole...
    assert _events(first) == [("order.created", None), ("order.paid", "created")]
    assert _audit(first) == ["created", "paid"]
    for order_id in rest:  # ...the later ones never ran
        assert order_state(order_id) == ("created", "") and _audit(order_id) == ["created"]
    assert _pending_on_cursor() == {first, *rest}  # the cursor was not cleared for any
    assert Transfer.objects.filter(order_id__in=[first, *rest]).count() == 3

    result = network_scan(adapter=chain.adapter)

    assert result.recorded == 0 and result.orders == {first, *rest}
    for order_id in (first, *rest):
        assert order_state(order_id) == ("paid", "")
        assert _events(order_id) == [("order.created", None), ("order.paid", "created")]  # none twice
        assert _audit(order_id) == ["created", "paid"]
    assert _pending_on_cursor() == set()


def test_an_order_that_cannot_be_applied_holds_back_no_other_and_stays_pending(chain, live_api, monkeypatch):
    import orders.services

    broken, broken_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    fine, fine_address = charge_to_pay(live_api, **USDT_ERC20, amount="25")
    _pay_tokens(chain, broken_address, 25_000_000)
    _pay_tokens(chain, fine_address, 25_000_000)
    _mine(chain, CONFIRMATIONS)
    apply_funds = orders.services._apply_funds

    def failing(order, funds, **kwargs):
        if order.pk == broken:
            raise RuntimeError("cannot apply")
        return apply_funds(order, funds, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(orders.services, "_apply_funds", failing)
        network_scan(adapter=chain.adapter)

    assert order_state(fine) == ("paid", "") and order_state(broken) == ("created", "")
    assert list(ChainCursor.objects.get(network="ethereum", mode="live").pending_orders) == [broken]

    network_scan(adapter=chain.adapter)

    assert order_state(broken) == ("paid", "")
    assert _events(fine) == [("order.created", None), ("order.paid", "created")]
    assert ChainCursor.objects.get(network="ethereum", mode="live").pending_orders == {}
