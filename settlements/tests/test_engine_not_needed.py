"""Two engine additions the EVM family needs, pinned with a scripted stand-in family (a stand-in
on purpose: the rules are the engine's; the EVM tests run them on anvil): an outbound with
nothing to send (NotNeeded, a top-up the deposit does not need) resolves confirmed without a
transaction and lets what waited for it go on; a reconcile reads the node for a replacement
only once one is due."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from settlements import engine
from settlements.families.base import Built, Family, NotNeeded, TxState
from settlements.models import Outbound, OutboundStatus, SenderRole

pytestmark = pytest.mark.django_db


class Scripted(Family):
    uses_nonce = True

    def __init__(self):
        super().__init__(network="ethereum", mode="live")
        self.not_needed: set[str] = set()
        self.prepares = 0
        self.pool: set[str] = set()

    def plan(self, **kwargs):  # pragma: no cover - the tests create outbounds directly
        raise NotImplementedError

    def prepare(self, outbound):
        self.prepares += 1
        if outbound.id in self.not_needed:
            raise NotNeeded("the address holds the gas")
        return {}

    def build(self, outbound, prepared, *, nonce, signer):
        raw = f"{outbound.id}:{nonce}".encode()
        return Built(txid=hashlib.sha256(raw).hexdigest(), raw=raw, outputs=outbound.outputs,
                     network_cost=Decimal("0.001"), fee_asset="ETH", nonce=nonce)

    def replacement(self, outbound, candidate, prepared, *, signer, stuck_seconds):
        return None

    def send(self, raw):
        self.pool.add(hashlib.sha256(raw).hexdigest())

    def state(self, candidate):
        return TxState(found=candidate.txid in self.pool)


def _outbound(address, **fields) -> Outbound:
    account = engine.sending_account(network="ethereum", mode="live", address=address, role=SenderRole.DEPOSIT,
                                     derivation_index=0)
    return Outbound.objects.create(network="ethereum", mode="live", purpose=fields.pop("purpose", "settlement"),
                                   sender=account, asset="ETH", required_confirmations=1,
                                   outputs=[{"address": "0xmerchant", "amount": "1", "role": "net"}], **fields)


def test_an_outbound_with_nothing_to_send_is_confirmed_without_a_transaction(monkeypatch):
    monkeypatch.setattr(engine.keys, "signer", lambda account: None)
    family = Scripted()
    topup = _outbound("0xfeepayer", purpose="topup")
    token = _outbound("0xdeposit", depends_on=topup)
    family.not_needed.add(topup.id)

    assert engine.outbound_step(token.id, family=family).after == OutboundStatus.PLANNED  # waits for the top-up
    step = engine.outbound_step(topup.id, family=family)

    topup.refresh_from_db()
    assert (step.before, step.after) == (OutboundStatus.PLANNED, OutboundStatus.CONFIRMED)
    assert not topup.candidates.exists() and topup.network_cost == 0 and topup.txid == ""
    assert topup.nonce is None and topup.sender.next_nonce is None  # no nonce was used
    assert "nothing to send" in topup.last_error
    assert engine.outbound_step(token.id, family=family).after == OutboundStatus.SIGNED  # it goes on


def test_a_reconcile_reads_the_node_for_a_replacement_only_once_it_is_due(monkeypatch, settings):
    monkeypatch.setattr(engine.keys, "signer", lambda account: None)
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 600
    family = Scripted()
    outbound = _outbound("0xdeposit2")
    engine.outbound_step(outbound.id, family=family)  # signed
    engine.outbound_step(outbound.id, family=family)  # broadcast
    before = family.prepares

    assert engine.outbound_step(outbound.id, family=family).note == "waiting for a block"
    assert family.prepares == before  # not stuck: no fee estimates, no balance read

    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 0
    engine.outbound_step(outbound.id, family=family)
    assert family.prepares == before + 1
