"""The engine's own rules, one at a time, against a scripted in-memory chain.

This chain is a stand-in on purpose: these tests pin the lifecycle logic (what is stored
before a send, what is re-sent, when a nonce is allocated, what a reorg or a refusal does),
independent of any one network. Every family is tested end to end on its real local chain
(anvil, litecoind, LiteSVM, the XRPL/Tron stand-ins) in the family tests."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from chains.adapters.base import ChainUnavailable
from settlements import engine
from settlements.families.base import Built, Family, NotReady, TxRejected, TxState
from settlements.models import Candidate, CandidateStatus, Outbound, OutboundStatus, SenderRole, SendingAccount

pytestmark = pytest.mark.django_db


class MemoryChain(Family):
    """Accepts raw bytes into a mempool; `mine()` puts the mempool in a block."""

    uses_nonce = True

    def __init__(self, *, network="ethereum", mode="live"):
        super().__init__(network=network, mode=mode)
        self.mempool: dict[str, bytes] = {}
        self.blocks: list[dict[str, bytes]] = []
        self.sent: list[bytes] = []
        self.down = False
        self.refuse: str | None = None
        self.fee = 10
        self.builds = 0

    # the chain
    def mine(self):
        self.blocks.append(dict(self.mempool))
        self.mempool.clear()

    def drop_last_block(self):
        self.blocks.pop()

    def _where(self, txid):
        for height, block in enumerate(self.blocks):
            if txid in block:
                return height
        return None

    # the family
    def plan(self, **kwargs):  # pragma: no cover - the engine tests create outbounds directly
        raise NotImplementedError

    def prepare(self, outbound):
        if self.down:
            raise ChainUnavailable("node down")
        return {"fee": self.fee}

    def build(self, outbound, prepared, *, nonce, signer):
        self.builds += 1
        raw = f"{outbound.id}:{nonce}:{prepared['fee']}".encode()
        return Built(txid=hashlib.sha256(raw).hexdigest(), raw=raw, outputs=outbound.outputs,
                     network_cost=Decimal(prepared["fee"]) / 1000, fee_asset="ETH", nonce=nonce,
                     fee_fields={"fee": prepared["fee"]})

    def replacement(self, outbound, candidate, prepared, *, signer, stuck_seconds):
        bumped = dict(prepared, fee=int(candidate.fee_fields["fee"] * 1.125) + 1)
        return self.build(outbound, bumped, nonce=candidate.nonce, signer=signer)

    def send(self, raw):
        if self.down:
            raise ChainUnavailable("node down")
        if self.refuse:
            raise TxRejected(self.refuse)
        txid = hashlib.sha256(raw).hexdigest()
        if self._where(txid) is not None:
            self.sent.append(raw)
            return  # already in a block: a node answers "already known"
        sender_nonce, fee = raw.rsplit(b":", 1)
        for block in self.blocks:  # like an EVM node: one transaction per sender and nonce
            if any(other.rsplit(b":", 1)[0] == sender_nonce for other in block.values()):
                raise TxRejected("nonce too low")
        for other_txid, other in list(self.mempool.items()):
            if other.rsplit(b":", 1)[0] == sender_nonce and other_txid != txid:
                if int(other.rsplit(b":", 1)[1]) >= int(fee):
                    raise TxRejected("replacement transaction underpriced")
                del self.mempool[other_txid]
        self.sent.append(raw)
        self.mempool[txid] = raw

    def state(self, candidate):
        height = self._where(candidate.txid)
        if height is not None:
            return TxState(found=True, in_block=True, block_number=height, block_hash=f"h{height}",
                           confirmations=len(self.blocks) - height, succeeded=True)
        return TxState(found=candidate.txid in self.mempool)


@pytest.fixture
def chain(monkeypatch):
    chain = MemoryChain()
    monkeypatch.setattr(engine.keys, "signer", lambda account: None)  # the in-memory build signs nothing
    return chain


def _outbound(address="0xsender", **fields) -> Outbound:
    account = engine.sending_account(network="ethereum", mode="live", address=address, role=SenderRole.DEPOSIT,
                                     derivation_index=0)
    return Outbound.objects.create(network="ethereum", mode="live", purpose="settlement", sender=account,
                                   asset="ETH", outputs=[{"address": "0xmerchant", "amount": "rest", "role": "net"}],
                                   required_confirmations=2, **fields)


def _step(outbound, chain):
    return engine.outbound_step(outbound.id, family=chain)


def test_the_signed_bytes_are_stored_before_anything_is_sent(chain):
    outbound = _outbound()
    chain.down = False
    step = engine.outbound_sign(Outbound.objects.get(pk=outbound.pk), family=chain)
    assert step.after == OutboundStatus.SIGNED
    candidate = Candidate.objects.get(outbound=outbound)
    assert chain.sent == []  # signing broadcast nothing
    assert bytes.fromhex(candidate.raw) and candidate.nonce == 0
    assert SendingAccount.objects.get(pk=outbound.sender_id).next_nonce == 1


def test_a_send_that_fails_is_retried_with_the_very_same_bytes(chain):
    outbound = _outbound()
    _step(outbound, chain)
    chain.down = True
    assert _step(outbound, chain).after == OutboundStatus.SIGNED
    chain.down = False
    assert _step(outbound, chain).after == OutboundStatus.BROADCAST
    assert chain.builds == 1  # never signed twice
    assert chain.sent == [bytes.fromhex(Candidate.objects.get(outbound=outbound).raw)]


def test_a_send_the_database_did_not_record_resends_the_same_transaction(chain):
    outbound = _outbound()
    _step(outbound, chain)
    raw = bytes.fromhex(Candidate.objects.get(outbound=outbound).raw)
    chain.send(raw)  # a worker sent it and died before recording: the node has it
    assert _step(outbound, chain).after == OutboundStatus.BROADCAST
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMING
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMED
    assert chain.sent == [raw, raw] and chain.builds == 1
    assert sum(raw in block.values() for block in chain.blocks) == 1


def test_nothing_new_is_built_from_an_address_while_an_earlier_transfer_is_unresolved(chain):
    first, second = _outbound(), _outbound()
    _step(first, chain)
    assert _step(second, chain).after == OutboundStatus.PLANNED
    assert _step(first, chain).after == OutboundStatus.BROADCAST
    assert _step(second, chain).after == OutboundStatus.PLANNED
    chain.mine()
    chain.mine()
    assert _step(first, chain).after == OutboundStatus.CONFIRMED
    assert _step(second, chain).after == OutboundStatus.SIGNED
    assert Outbound.objects.get(pk=second.pk).nonce == 1


def test_a_stuck_transfer_is_replaced_on_the_same_nonce_and_every_candidate_is_kept(chain, settings):
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 0
    outbound = _outbound()
    _step(outbound, chain)
    _step(outbound, chain)
    chain.mempool.clear()  # never mined: dropped by the node
    chain.refuse = None
    step = _step(outbound, chain)
    assert step.after == OutboundStatus.SIGNED and step.note.startswith("replacement")
    candidates = list(Candidate.objects.filter(outbound=outbound).order_by("created_at", "id"))
    assert len(candidates) == 2 and {c.nonce for c in candidates} == {0}
    assert candidates[1].fee_fields["fee"] > candidates[0].fee_fields["fee"]
    _step(outbound, chain)
    chain.mine()
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMED
    statuses = dict(Candidate.objects.filter(outbound=outbound).values_list("txid", "status"))
    assert sorted(statuses.values()) == [CandidateStatus.MINED, CandidateStatus.REPLACED]


def test_a_reorg_of_the_block_sends_it_back_to_broadcast_with_the_same_bytes(chain):
    outbound = _outbound()
    _step(outbound, chain)
    _step(outbound, chain)
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMING
    raw = chain.blocks[-1][Candidate.objects.get(outbound=outbound).txid]
    chain.drop_last_block()
    assert _step(outbound, chain).after == OutboundStatus.BROADCAST
    assert chain.sent[-1] == raw and chain.mempool  # re-sent, same bytes
    chain.mine()
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMED
    assert chain.builds == 1


def test_a_refused_transaction_goes_to_review_and_a_retry_resends_it_without_rebuilding(chain):
    outbound = _outbound()
    _step(outbound, chain)
    chain.refuse = "insufficient funds for gas"
    step = _step(outbound, chain)
    assert step.after == OutboundStatus.NEEDS_REVIEW and "insufficient funds" in step.note
    assert engine.outbounds_due() == []  # the engine leaves it alone
    chain.refuse = None
    assert engine.outbound_retry(outbound_id=outbound.id).after == OutboundStatus.BROADCAST
    _step(outbound, chain)
    assert chain.builds == 1 and len(chain.sent) == 1


def test_not_ready_keeps_it_planned_with_the_reason_and_a_later_try(chain, monkeypatch):
    outbound = _outbound()

    def not_yet(_outbound):
        raise NotReady("the network cost 0.02 ETH is above the limit 0.01 ETH", hold=True, retry_seconds=60)

    monkeypatch.setattr(chain, "prepare", not_yet)
    assert _step(outbound, chain).after == OutboundStatus.PLANNED
    outbound.refresh_from_db()
    assert "above the limit" in outbound.last_error and outbound.next_try_at is not None
    assert engine.outbounds_due() == []


def test_a_dependent_transfer_waits_for_its_top_up_to_confirm(chain):
    top_up = _outbound(address="0xfeepayer")
    token = _outbound(depends_on=top_up)
    assert _step(token, chain).after == OutboundStatus.PLANNED
    _step(top_up, chain)
    _step(top_up, chain)
    chain.mine()
    chain.mine()
    assert _step(top_up, chain).after == OutboundStatus.CONFIRMED
    assert _step(token, chain).after == OutboundStatus.SIGNED


def test_a_reconciler_that_read_the_chain_before_another_confirmed_it_changes_nothing(chain):
    outbound = _outbound()
    _step(outbound, chain)
    _step(outbound, chain)
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMING
    stale = Outbound.objects.get(pk=outbound.pk)  # what a second worker read
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMED
    chain.drop_last_block()
    chain.drop_last_block()  # the stale worker's node no longer shows the block
    step = engine.outbound_reconcile(stale, family=chain)
    assert Outbound.objects.get(pk=outbound.pk).status == OutboundStatus.CONFIRMED
    assert step.after == OutboundStatus.CONFIRMED


def test_a_candidate_judged_expired_that_lands_after_all_is_recorded(chain):
    outbound = _outbound()
    _step(outbound, chain)
    _step(outbound, chain)
    Candidate.objects.filter(outbound=outbound).update(status=CandidateStatus.EXPIRED)
    chain.mine()
    chain.mine()
    assert _step(outbound, chain).after == OutboundStatus.CONFIRMED
    assert Candidate.objects.get(outbound=outbound).status == CandidateStatus.MINED


def test_a_step_that_raises_is_deferred_and_never_stops_the_others(chain, monkeypatch):
    from settlements import tasks

    broken, fine = _outbound(address="0xbroken"), _outbound(address="0xfine")
    real_step = engine.outbound_step

    def step(outbound_id, family=None):
        if outbound_id == broken.id:
            raise RuntimeError("the wallet root does not derive this address")
        return real_step(outbound_id, family=chain)

    monkeypatch.setattr(engine, "outbound_step", step)
    tasks.advance([broken.id, fine.id])

    assert Outbound.objects.get(pk=fine.pk).status == OutboundStatus.BROADCAST
    broken.refresh_from_db()
    assert broken.status == OutboundStatus.PLANNED and "wallet root" in broken.last_error
    assert broken.id not in engine.outbounds_due()


def test_a_transfer_waiting_for_its_top_up_is_due_again_once_the_top_up_confirms(chain):
    top_up = _outbound(address="0xfeepayer")
    token = _outbound(depends_on=top_up)
    _step(token, chain)
    assert token.id not in engine.outbounds_due()  # waiting: out of the due set for a while
    _step(top_up, chain)
    _step(top_up, chain)
    chain.mine()
    chain.mine()
    assert _step(top_up, chain).after == OutboundStatus.CONFIRMED
    assert token.id in engine.outbounds_due()
