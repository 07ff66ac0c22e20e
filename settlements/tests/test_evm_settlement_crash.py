"""EVM settlements survive a killed worker and two beat runs at once.

Crash tests kill a REAL process (testing/crash.py): the due outbounds are stepped in a
subprocess on the same (committed, hence transaction=True) test database, which SIGKILLs itself
at one point; the test process then runs the beat jobs again and checks the chain itself:
exactly one transfer per outbound, the merchant paid exactly once."""

from __future__ import annotations

import pytest

from chains.signing.evm import decode
from settlements.models import Candidate, Outbound, Settlement
from settlements.tasks import advance_outbounds, plan_settlements
from testing.client import run_concurrently
from testing.crash import run_killed
from testing.evm_settlements import evm, new_address, payout_address  # noqa: F401  (evm: the fixture)


def _confirmed(order_id: str):
    return lambda: Settlement.objects.get(order_id=order_id).status == "confirmed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_settlement_never_sends_twice(evm, live_api, merchant_keys, point):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    start_nonce = evm.nonce(deposit)
    plan_settlements()

    killed = run_killed(point)

    assert killed.killed, killed.stderr[-3000:]
    net = Outbound.objects.get(legs__settlement__order_id=order_id, legs__role="net")
    expected = {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    assert net.status == expected
    on_chain = evm.nonce(deposit) - start_nonce
    assert on_chain == (0 if point == "after_sign" else 1)  # automine: a sent transfer is in a block at once

    evm.settle_until(_confirmed(order_id))  # the restart

    assert evm.nonce(deposit) - start_nonce == 2  # exactly the net and the fee, each once
    candidate = Candidate.objects.get(outbound__legs__settlement__order_id=order_id, outbound__legs__role="net")
    assert evm.balance(merchant_payout) == decode(bytes.fromhex(candidate.raw))["value"]
    assert Settlement.objects.get(order_id=order_id).tx_hash == candidate.txid


@pytest.mark.django_db(transaction=True)
def test_beat_runs_at_once_never_double_send(evm, live_api, merchant_keys):
    payout = new_address()
    payout_address(merchant_keys.merchant, payout)
    orders = [evm.paid_order(live_api, eth="0.02") for _ in range(4)]
    start = {deposit: evm.nonce(deposit) for _, deposit in orders}

    run_concurrently(4, lambda i: plan_settlements())
    for _ in range(10):
        run_concurrently(4, lambda i: (plan_settlements(), advance_outbounds()))
        if all(Settlement.objects.get(order_id=order_id).status == "confirmed" for order_id, _ in orders):
            break
        evm.mine(1)

    settlements = [Settlement.objects.get(order_id=order_id) for order_id, _ in orders]
    assert [s.status for s in settlements] == ["confirmed"] * 4
    for _, deposit in orders:
        assert evm.nonce(deposit) - start[deposit] == 2  # one net and one fee transfer per settlement
    outbounds = Outbound.objects.filter(legs__settlement__in=settlements)
    assert outbounds.count() == 8
    for outbound in outbounds:
        assert outbound.candidates.count() == 1  # no duplicate candidate
    assert evm.balance(payout) == sum(int(decode(bytes.fromhex(c.raw))["value"]) for c in
                                      Candidate.objects.filter(outbound__legs__role="net",
                                                               outbound__legs__settlement__in=settlements))
    assert evm.balance(evm.operator) == sum(int(s.fee * 10**18) for s in settlements)
