"""A stuck EVM settlement replaced by the chain's rule (same nonce, +12.5% on both fee fields)
with anvil's automine off, and the settlement block dropped by a reorg (anvil snapshot/revert):
back to broadcast, the same bytes re-sent, confirmed."""

from __future__ import annotations

import pytest

from chains.signing.evm import bumped, decode
from settlements.engine import outbound_step
from settlements.models import Candidate, Outbound, Settlement
from settlements.tasks import plan_settlements
from testing.evm_settlements import evm, new_address, payout_address  # noqa: F401  (evm: the fixture)

pytestmark = pytest.mark.django_db


def _net(order_id: str) -> Outbound:
    return Outbound.objects.get(legs__settlement__order_id=order_id, legs__role="net")


def _confirmed(order_id: str):
    return lambda: Settlement.objects.get(order_id=order_id).status == "confirmed"


def test_a_stuck_transfer_is_replaced_at_the_same_nonce_and_only_one_lands(evm, live_api, merchant_keys, settings):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    start_nonce = evm.nonce(deposit)
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 0  # anything outside a block is stuck at once
    evm.anvil.rpc("evm_setAutomine", [False])
    try:
        plan_settlements()
        net = _net(order_id)
        assert outbound_step(net.id).after == "signed"
        assert outbound_step(net.id).after == "broadcast"       # in the node's pool, not in a block
        assert outbound_step(net.id).after == "signed"          # stuck: a replacement is signed and stored
        assert outbound_step(net.id).after == "broadcast"       # and sent: it takes the first one's place

        first, second = Candidate.objects.filter(outbound=net).order_by("created_at", "id")
        assert first.nonce == second.nonce == start_nonce and first.txid != second.txid
        one, two = first.fee_fields, second.fee_fields
        assert two["max_fee_per_gas"] >= bumped(one["max_fee_per_gas"])
        assert two["max_priority_fee_per_gas"] >= bumped(one["max_priority_fee_per_gas"])
        assert bumped(100) == 113  # +12.5%, rounded up
        raw_one, raw_two = decode(bytes.fromhex(first.raw)), decode(bytes.fromhex(second.raw))
        assert raw_one["nonce"] == raw_two["nonce"] and raw_two["value"] < raw_one["value"]  # it pays the higher gas

        evm.mine(1)
    finally:
        evm.anvil.rpc("evm_setAutomine", [True])
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 600
    outbound_step(net.id)

    net.refresh_from_db()
    assert net.txid == second.txid and net.status in ("confirming", "confirmed")
    statuses = dict(Candidate.objects.filter(outbound=net).values_list("txid", "status"))
    assert statuses == {first.txid: "replaced", second.txid: "mined"}  # both kept
    assert evm.w3.eth.get_transaction_receipt(second.txid).status == 1
    assert evm.anvil.rpc("eth_getTransactionReceipt", [first.txid]) is None  # only one landed
    assert evm.nonce(deposit) == start_nonce + 1
    assert evm.balance(merchant_payout) == decode(bytes.fromhex(second.raw))["value"]

    evm.settle_until(_confirmed(order_id))
    assert Settlement.objects.get(order_id=order_id).tx_hash == second.txid
    assert evm.nonce(deposit) == start_nonce + 2  # then the fee, once


def test_a_reorg_that_drops_the_settlement_block_sends_the_same_bytes_again(evm, live_api, merchant_keys):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    start_nonce = evm.nonce(deposit)
    plan_settlements()
    net = _net(order_id)
    before_settlement = evm.anvil.snapshot()

    while outbound_step(net.id).changed:  # signed, broadcast, mined (automine): confirming
        pass
    net.refresh_from_db()
    assert net.status == "confirming" and net.block_number is not None
    txid, block = net.txid, net.block_number

    evm.anvil.revert(before_settlement)   # the settlement's block is gone...
    evm.mine(3)                           # ...and a longer chain without it took its place
    assert evm.anvil.rpc("eth_getTransactionByHash", [txid]) is None

    step = outbound_step(net.id)
    assert (step.before, step.after) == ("confirming", "broadcast")  # back to broadcast, re-sent
    net.refresh_from_db()
    assert net.block_number is None
    outbound_step(net.id)  # the re-sent bytes are in a block again
    net.refresh_from_db()
    assert net.status == "confirming" and net.txid == txid and net.block_number != block
    candidate = Candidate.objects.get(outbound=net)  # the same candidate, no new one
    assert candidate.txid == txid and candidate.sends >= 2

    evm.settle_until(_confirmed(order_id))
    assert evm.nonce(deposit) == start_nonce + 2
    assert evm.balance(merchant_payout) == decode(bytes.fromhex(candidate.raw))["value"]
