"""EVM settlements survive a killed worker and two beat runs at once.

Crash tests kill a REAL process: the beat job advance_outbounds runs in a subprocess on the
same (committed, hence transaction=True) test database, wrapped so that it SIGKILLs itself at
one point; the test process then runs the jobs again and checks the chain itself: exactly one
transfer per outbound, the merchant paid exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from chains.signing.evm import decode
from settlements.models import Candidate, Outbound, Settlement
from settlements.tasks import advance_outbounds, plan_settlements
from testing.client import run_concurrently
from testing.evm_settlements import evm, new_address, payout_address  # noqa: F401  (evm: the fixture)

ROOT = Path(__file__).resolve().parents[2]

# Runs in the subprocess: wrap the step at the point named by argv[1] so that the process kills
# itself there, then run the beat job.
KILLED_WORKER = r'''
import os, signal, sys
import django
django.setup()
from settlements import engine
from settlements.families.evm import EvmFamily

def die():
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[1]
if point == "after_sign":          # the signed bytes are stored (committed), nothing broadcast
    signed = engine.outbound_sign
    def outbound_sign(outbound, *, family):
        step = signed(outbound, family=family)
        if step.after == "signed":
            die()
        return step
    engine.outbound_sign = outbound_sign
elif point == "after_broadcast":   # the node accepted the bytes, the database does not know yet
    sent = EvmFamily.send
    def send(self, raw):
        sent(self, raw)
        die()
    EvmFamily.send = send
elif point == "before_recording":  # in a block, killed before the database records it
    def record(*args, **kwargs):
        die()
    engine._record_landed = record
else:
    raise SystemExit(f"unknown point {point}")
from settlements.tasks import advance_outbounds
advance_outbounds()
raise SystemExit("was not killed")
'''


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def run_killed(point: str) -> subprocess.CompletedProcess:
    """Run advance_outbounds in a new process with this test's settings and database, killed
    (SIGKILL, by itself) at `point`."""
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "fluxa_site.settings"}
    for name in ("FLUXA_CHAINS", "FLUXA_PLATFORM_ADDRESSES", "FLUXA_SETTLEMENT_REORG_MARGIN",
                 "FLUXA_SETTLEMENT_CONFIRMATIONS", "FLUXA_SETTLEMENT_COST_LIMITS", "FLUXA_SETTLEMENT_STUCK_SECONDS"):
        env[name] = json.dumps(getattr(django_settings, name))
    return subprocess.run([sys.executable, "-c", KILLED_WORKER, point], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _confirmed(order_id: str):
    return lambda: Settlement.objects.get(order_id=order_id).status == "confirmed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_broadcast", "before_recording"])
def test_a_worker_killed_mid_settlement_never_sends_twice(evm, live_api, merchant_keys, point):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    start_nonce = evm.nonce(deposit)
    plan_settlements()

    killed = run_killed(point)

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    net = Outbound.objects.get(legs__settlement__order_id=order_id, legs__role="net")
    expected = {"after_sign": "signed", "after_broadcast": "signed", "before_recording": "broadcast"}[point]
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
