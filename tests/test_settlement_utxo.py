"""Settlements on the UTXO family (settlements/families/utxo.py) against the session's real
regtest litecoind: live-mode `ltc` orders paid by the node's wallet, scanned, settled by the
beat task functions; what the merchant's and the operator's addresses hold is read from the
node (scantxoutset).

A stand-in, said here because nothing else can run: the regtest node plays litecoin *live*.
Live mode refuses a node that says it is regtest and has no peers (chains.networks
accepts_chain, UtxoAdapter.node_synced), so the scanner's adapter in these tests answers
"main" and "in step" (RegtestAsLive below); every other call goes to the real node, and the
settlement code uses the plain UtxoAdapter of FLUXA_CHAINS, unchanged. The payout and
platform addresses are live `ltc1` addresses, paid by their scriptPubKey, which is the same
on regtest.
"""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from eth_keys import keys as eth_keys

from chains.adapters.utxo import BroadcastRefused, UtxoAdapter, script_of
from chains.encoding import encode_segwit
from chains.signing.utxo import Input, Payment, SigningError, estimate_vsize, sign_p2wpkh, txid_of
from charges.models import Channel
from charges.watching import network_scan
from merchants.services import payout_address_set
from orders.models import Order
from settlements import tasks
from settlements.families import family_for
from settlements.families.base import NotReady
from settlements.families.utxo import DUST, UtxoFamily
from settlements.models import Candidate, CandidateStatus, Outbound, OwedFee, Settlement, SettlementLeg
from settlements.services import settlement_start
from testing.client import charge_to_pay, make_merchant, order_state
from testing.crash import run_killed
from testing.litecoind import regtest_address
from webhooks.models import Event

LTC = {"channel": "ltc", "currency": "LTC"}
COIN = Decimal("0.00000001")


class RegtestAsLive(UtxoAdapter):
    """The scanner's adapter for the stand-in (see the module docstring): the regtest node
    stands for litecoin mainnet."""

    def chain_identity(self) -> str:
        return "main"

    def node_synced(self) -> bool:
        return True


def fresh_address() -> str:
    """A live litecoin P2WPKH address nobody else pays (a random key hash)."""
    return encode_segwit("ltc", 0, os.urandom(20))


@pytest.fixture
def chain(litecoind, settings):
    # Tiny orders for the dust rules: below the channel's usual minimum.
    Channel.objects.filter(code="ltc").update(required_confirmations=1, min_amount=Decimal("0.00001"))
    platform = fresh_address()
    settings.FLUXA_CHAINS = {"litecoin": {"live": litecoind.url}}
    settings.FLUXA_PLATFORM_ADDRESSES = {"litecoin": platform}
    settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"litecoin": 0}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"litecoin": 2}
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = {"default": 3600}
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    settings.FLUXA_SETTLEMENT_FEE_RATES = {}
    settings.FLUXA_SETTLEMENT_BATCH_SECONDS = 0
    adapter = RegtestAsLive(network="litecoin", mode="live", rpc_url=litecoind.url)
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": litecoind, "adapter": adapter, "platform": platform})
    adapter.close()


def held_by(address: str) -> Decimal:
    """What the chain says the address holds (confirmed outputs)."""
    return UtxoFamily(network="litecoin", mode="live").balance(address, asset="LTC")


def pay_order(chain, api, amount: str) -> str:
    """A live ltc order of `amount`, paid on the chain, one block deep, scanned: paid."""
    order_id, address = charge_to_pay(api, **LTC, amount=amount)
    assert address.startswith("ltc1")
    chain.node.rpc("sendtoaddress", regtest_address(address), amount)
    chain.node.mine(1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    return order_id


def run(times: int = 1) -> None:
    for _ in range(times):
        tasks.plan_settlements()
        tasks.advance_outbounds()


def onchain_tx(chain, outbound: Outbound) -> dict:
    return chain.node.rpc("getrawtransaction", outbound.txid, True, outbound.block_hash)


@pytest.fixture
def merchant(db):
    return make_merchant(name="Shop", email="shop@example.com")


def set_payout(merchant_keys, address: str) -> None:
    payout_address_set(merchant=merchant_keys.merchant, mode="live", network="litecoin", address=address)


# -- end to end --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_paid_order_settles_net_to_the_merchant_and_fee_to_the_operator_in_one_transaction(chain, merchant):
    payout = fresh_address()
    set_payout(merchant, payout)
    order_id = pay_order(chain, merchant.live, "0.5")

    run()
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "broadcast" and settlement.tx_hash
    assert chain.node.rpc("getmempoolentry", settlement.tx_hash)  # sent, not mined yet

    chain.node.mine(2)
    run()
    settlement.refresh_from_db()
    outbound = SettlementLeg.objects.get(settlement=settlement).outbound
    assert (settlement.status, outbound.status, outbound.confirmations) == ("confirmed", "confirmed", 2)
    order = Order.objects.get(pk=order_id)
    assert settlement.fee == order.fee_amount == Decimal("0.005") and not settlement.fee_owed
    cost = settlement.network_cost
    assert Decimal(0) < cost < Decimal("0.0001")
    assert settlement.amount == Decimal("0.5") - settlement.fee - cost
    # On the chain: exactly the net at the merchant's address, exactly the fee at the operator's.
    assert held_by(payout) == settlement.amount
    assert held_by(chain.platform) == settlement.fee
    tx = onchain_tx(chain, outbound)
    assert len(tx["vin"]) == 1 and len(tx["vout"]) == 2
    assert all(vin["sequence"] == 0xFFFFFFFD for vin in tx["vin"])  # BIP125 signalling
    assert sum(Decimal(o["value"]) for o in tx["vout"]) == Decimal("0.5") - cost

    shown = merchant.live.get(f"/api/v1/orders/{order_id}")
    assert shown.status_code == 200
    [stl] = shown.body["settlements"]
    assert (stl["status"], stl["tx_hash"], stl["confirmations"]) == ("confirmed", outbound.txid, 2)
    assert Decimal(stl["network_cost"]) == cost and Decimal(stl["amount"]) == settlement.amount
    types = list(Event.objects.filter(merchant=merchant.merchant, type__startswith="settlement.")
                 .order_by("created_at", "id").values_list("type", flat=True))
    assert types == ["settlement.broadcast", "settlement.confirmed"]


@pytest.mark.django_db
def test_a_test_order_is_never_settled(chain, merchant):
    set_payout(merchant, fresh_address())
    order_id, _ = charge_to_pay(merchant.test, **LTC, amount="0.5")
    Order.objects.filter(pk=order_id).update(status="paid")
    run()
    assert not Settlement.objects.filter(order_id=order_id).exists()


@pytest.mark.django_db
def test_several_deposits_go_out_in_one_batch_transaction_outputs_merged_per_address(chain, merchant, settings):
    settings.FLUXA_SETTLEMENT_BATCH_SECONDS = 600
    other = make_merchant(name="Other", email="other@example.com")
    payout, other_payout = fresh_address(), fresh_address()
    set_payout(merchant, payout)
    set_payout(other, other_payout)
    orders = [pay_order(chain, merchant.live, "0.3"), pay_order(chain, merchant.live, "0.2"),
              pay_order(chain, other.live, "0.1")]

    run()  # planned into one batch; its window is open: nothing is signed
    settlements = [Settlement.objects.get(order_id=o) for o in orders]
    [batch] = Outbound.objects.filter(legs__settlement__in=settlements).distinct()
    assert batch.status == "planned" and not batch.candidates.exists() and len(batch.sources) == 3
    assert {leg.role for leg in SettlementLeg.objects.filter(outbound=batch)} == {"net"}
    assert SettlementLeg.objects.filter(outbound=batch).count() == 3
    assert batch.next_try_at > timezone.now()  # the beat job leaves it alone until the window closes
    tasks.advance_settlement(settlements[0].id)  # the task planning enqueues steps it at once: it waits too
    batch.refresh_from_db()
    assert batch.status == "planned" and "open for more settlements" in batch.last_error

    settings.FLUXA_SETTLEMENT_BATCH_SECONDS = 0  # the window closes
    Outbound.objects.filter(pk=batch.pk).update(next_try_at=None)
    run()
    chain.node.mine(2)
    run()
    batch.refresh_from_db()
    assert batch.status == "confirmed"
    tx = onchain_tx(chain, batch)
    assert len(tx["vin"]) == 3 and len(tx["vout"]) == 3  # two merchants' nets and the merged fee
    for s in settlements:
        s.refresh_from_db()
        assert s.status == "confirmed" and s.tx_hash == batch.txid
    mine, theirs = settlements[:2], settlements[2:]
    assert held_by(payout) == sum(s.amount for s in mine)
    assert held_by(other_payout) == theirs[0].amount
    assert held_by(chain.platform) == sum(s.fee for s in settlements) == Decimal("0.006")
    # Each pays its part of the one network cost out of its own net; the parts add up.
    assert sum(s.network_cost for s in settlements) == batch.network_cost
    for s in settlements:
        assert s.amount == Decimal(str(s.gross)) - s.fee - s.network_cost and s.network_cost > 0


@pytest.mark.django_db
def test_two_planners_never_lose_a_settlement_of_a_batch(chain, merchant, settings):
    """The second settlement joins the batch under its row lock: both sources are in it and
    both settlements carry a leg to it (the lock itself: select_for_update in plan)."""
    settings.FLUXA_SETTLEMENT_BATCH_SECONDS = 600
    set_payout(merchant, fresh_address())
    first, second = pay_order(chain, merchant.live, "0.1"), pay_order(chain, merchant.live, "0.1")
    run()
    [batch] = Outbound.objects.all()
    assert {s["settlement"] for s in batch.sources} == set(
        Settlement.objects.filter(order_id__in=[first, second]).values_list("id", flat=True))
    assert len(batch.outputs) == 2  # one merchant output, one fee output


@pytest.mark.django_db(transaction=True)
def test_two_planners_at_once_never_lose_a_settlement(transactional_db, chain, settings, monkeypatch):
    """Two settlements join the open batch at the same moment, in two threads with their own
    connections. Each meets the other at a barrier while it holds what it read of the batch:
    with the row lock the second one waits for the first to commit and reads its source (the
    barrier gives up after a second); without it both would append to the same stale list and
    one settlement would be lost from the transaction."""
    settings.FLUXA_SETTLEMENT_BATCH_SECONDS = 600
    merchant = make_merchant(name="Race", email="race@example.com")
    set_payout(merchant, fresh_address())
    orders = [pay_order(chain, merchant.live, "0.1") for _ in range(3)]
    settlement_start(order_id=orders[0])  # opens the batch
    barrier = threading.Barrier(2)
    plan_outputs = UtxoFamily._plan_outputs

    def meet(self, sources):
        try:
            barrier.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass
        return plan_outputs(self, sources)

    monkeypatch.setattr(UtxoFamily, "_plan_outputs", meet)
    errors = []

    def plan(order_id):
        try:
            settlement_start(order_id=order_id)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=plan, args=(o,)) for o in orders[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    [batch] = Outbound.objects.all()
    assert sorted(s["settlement"] for s in batch.sources) == sorted(
        Settlement.objects.filter(order_id__in=orders).values_list("id", flat=True))
    assert SettlementLeg.objects.filter(outbound=batch).count() == 3
    [net_output] = [o for o in batch.outputs if o["role"] == "net"]
    assert Decimal(net_output["amount"]) == sum(Settlement.objects.filter(order_id__in=orders)
                                                .values_list("amount", flat=True))


# -- replacement and reorg ---------------------------------------------------------------------

@pytest.mark.django_db
def test_a_stuck_transaction_is_replaced_by_fee_and_exactly_one_lands(chain, merchant, settings):
    payout = fresh_address()
    set_payout(merchant, payout)
    order_id = pay_order(chain, merchant.live, "0.4")
    run()
    [outbound] = Outbound.objects.all()
    [first] = outbound.candidates.all()
    assert outbound.status == "broadcast"
    assert chain.node.rpc("getmempoolentry", first.txid)

    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 60
    Candidate.objects.filter(pk=first.pk).update(sent_at=first.sent_at - timedelta(seconds=120))  # stuck
    run()
    outbound.refresh_from_db()
    first_c, second = outbound.candidates.order_by("created_at", "id")
    assert second.sends == 1 and outbound.status == "broadcast"
    assert first_c.txid == first.txid and second.txid != first.txid
    assert second.fee_fields["replaces"] == first.txid
    old_fee, new_fee = first.fee_fields["fee"], second.fee_fields["fee"]
    assert new_fee >= old_fee + second.fee_fields["vsize"]  # BIP125: + vsize x 1 sat/vB incremental relay fee
    assert second.network_cost > first.network_cost
    mempool = chain.node.rpc("getrawmempool")
    assert second.txid in mempool and first.txid not in mempool  # replaced in the node's mempool

    # A replacement no node took (sends == 0: a Litecoin node without -mempoolreplacement
    # refuses it) is not bumped again, however long it waits.
    family = family_for("litecoin", "live")
    prepared = family.prepare(outbound)
    Candidate.objects.filter(pk=second.pk).update(sends=0)
    second.refresh_from_db()
    assert family.replacement(outbound, second, prepared, signer=None, stuck_seconds=10_000) is None
    Candidate.objects.filter(pk=second.pk).update(sends=1)

    chain.node.mine(2)
    run()
    outbound.refresh_from_db()
    settlement = Settlement.objects.get(order_id=order_id)
    assert (outbound.status, outbound.txid, settlement.tx_hash) == ("confirmed", second.txid, second.txid)
    statuses = dict(outbound.candidates.values_list("txid", "status"))
    assert statuses[second.txid] == CandidateStatus.MINED
    assert statuses[first.txid] in (CandidateStatus.REPLACED, CandidateStatus.EXPIRED)
    assert held_by(payout) == settlement.amount == Decimal("0.4") - settlement.fee - second.network_cost
    assert settlement.network_cost == second.network_cost


@pytest.mark.django_db
def test_a_reorg_of_the_settlement_block_sends_it_back_and_it_confirms_again(chain, merchant, settings):
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"litecoin": 3}
    payout = fresh_address()
    set_payout(merchant, payout)
    order_id = pay_order(chain, merchant.live, "0.3")
    run()
    [block] = chain.node.mine(1)
    run()
    [outbound] = Outbound.objects.all()
    assert (outbound.status, outbound.block_hash) == ("confirming", block)

    chain.node.rpc("invalidateblock", block)  # the settlement's block is gone: its tx is back in the mempool
    run()
    outbound.refresh_from_db()
    assert outbound.status == "broadcast" and outbound.block_number is None
    assert outbound.candidates.count() == 1  # the same bytes, nothing re-built
    assert outbound.candidates.get().txid in chain.node.rpc("getrawmempool")

    # Mined to another address: the same coinbase at the same height could remake the very block
    # that was invalidated (refused as a duplicate of an invalid block).
    chain.node.mine(3, address=regtest_address(fresh_address()))
    run()
    outbound.refresh_from_db()
    settlement = Settlement.objects.get(order_id=order_id)
    assert outbound.status == "confirmed" and outbound.block_hash != block
    assert settlement.status == "confirmed" and held_by(payout) == settlement.amount


# -- the rules ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_fee_below_dust_is_owed_and_goes_with_the_merchant_output(chain, merchant):
    payout = fresh_address()
    set_payout(merchant, payout)
    order_id = pay_order(chain, merchant.live, "0.002")  # 1 %: 0.00002 LTC = 2000 sat < 2940 dust
    run()
    chain.node.mine(2)
    run()
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "confirmed" and settlement.fee_owed and settlement.fee == Decimal("0.00002")
    owed = OwedFee.objects.get(settlement=settlement)
    assert owed.amount == Decimal("0.00002") and "dust" in owed.reason
    assert held_by(chain.platform) == 0
    assert held_by(payout) == settlement.amount == Decimal("0.002") - settlement.network_cost
    outbound = Outbound.objects.get()
    assert len(onchain_tx(chain, outbound)["vout"]) == 1


@pytest.mark.django_db
def test_a_net_that_cannot_clear_dust_fails_before_anything_is_signed(chain, merchant):
    set_payout(merchant, fresh_address())
    order_id = pay_order(chain, merchant.live, "0.00003")  # 3000 sat: under dust once it pays its cost
    run()
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "failed" and "dust" in settlement.reason
    assert not Candidate.objects.exists()


@pytest.mark.django_db
def test_a_network_cost_above_the_maximum_holds_the_settlement(chain, merchant, settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"litecoin": {"max": "0.000001"}}  # 100 sat: below any real cost
    set_payout(merchant, fresh_address())
    order_id = pay_order(chain, merchant.live, "0.2")
    run()
    settlement = Settlement.objects.get(order_id=order_id)
    outbound = Outbound.objects.get()
    assert (settlement.status, outbound.status) == ("held", "planned")
    assert "above the" in settlement.reason and not outbound.candidates.exists()

    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"litecoin": {"max": "0.01"}}
    Outbound.objects.filter(pk=outbound.pk).update(next_try_at=None)
    run()
    settlement.refresh_from_db()
    assert settlement.status == "broadcast"


@pytest.mark.django_db
def test_the_minimum_cost_and_the_configured_rate_when_the_node_has_no_estimate(chain, merchant, settings,
                                                                             monkeypatch):
    estimate = chain.node.rpc("estimatesmartfee", 6).get("feerate")
    adapter = UtxoAdapter(network="litecoin", mode="live", rpc_url=chain.node.url)
    assert adapter.fee_rate(6) == (None if estimate is None else estimate * 100_000)  # LTC/kvB -> sat/vB
    adapter.close()
    # A fresh node has no estimate ("Insufficient data"); the session's node may have gathered
    # one from earlier tests' transactions, so the adapter answers None here, as it does for
    # such a node: the stand-in is that one answer, everything else is the real node.
    monkeypatch.setattr(UtxoAdapter, "fee_rate", lambda self, target: None)
    settings.FLUXA_SETTLEMENT_FEE_RATES = {"litecoin": 7}
    set_payout(merchant, fresh_address())
    pay_order(chain, merchant.live, "0.2")
    run()
    [candidate] = Candidate.objects.all()
    assert candidate.fee_fields["fee"] == 7 * estimate_vsize(1, [b"\x00" * 22, b"\x00" * 22])
    assert Decimal(candidate.fee_fields["fee_rate"]) == 7

    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"litecoin": {"min": "0.0001"}}
    set_payout(merchant, fresh_address())
    pay_order(chain, merchant.live, "0.2")
    run()
    newest = Candidate.objects.order_by("-created_at").first()
    assert newest.network_cost == Decimal("0.0001")
    assert chain.node.rpc("getmempoolentry", newest.txid)["fees"]["base"] == Decimal("0.0001")


@pytest.mark.django_db
def test_an_input_the_node_does_not_have_unspent_holds_the_build(chain, merchant):
    set_payout(merchant, fresh_address())
    order_id = pay_order(chain, merchant.live, "0.2")
    run()  # planned and sent
    outbound = Outbound.objects.get()
    sources = outbound.sources
    sources[0]["inputs"][0]["vout"] = 7  # an output that does not exist
    replanned = Outbound.objects.create(network="litecoin", mode="live", purpose="settlement", sender=outbound.sender,
                                        sources=sources, asset="LTC", outputs=outbound.outputs)
    family = family_for("litecoin", "live")
    with pytest.raises(NotReady) as raised:
        family.prepare(replanned)
    assert raised.value.hold and "not unspent" in raised.value.reason
    assert Settlement.objects.get(order_id=order_id).status == "broadcast"


def test_litecoin_dust_is_what_the_node_relays(litecoind):
    """DUST["litecoin"] against the node's own policy: one satoshi less is refused as dust."""
    key = bytes(range(1, 33))

    public = eth_keys.PrivateKey(key).public_key.to_compressed_bytes()
    script = b"\x00\x14" + hashlib.new("ripemd160", hashlib.sha256(public).digest()).digest()
    address = encode_segwit("rltc", 0, script[2:])
    txid = litecoind.rpc("sendtoaddress", address, "0.01")
    litecoind.mine(1)
    vout = next(o["n"] for o in litecoind.rpc("getrawtransaction", txid, True, litecoind.rpc("getbestblockhash"))
                ["vout"] if o["scriptPubKey"]["hex"] == script.hex())
    spend = [(Input(txid=txid, vout=vout, amount=1_000_000, script=script), key, public)]
    for amount, allowed in ((DUST["litecoin"] - 1, False), (DUST["litecoin"], True)):
        signed = sign_p2wpkh(spend, [Payment(script, 1_000_000 - 10_000 - amount), Payment(script, amount)])
        [answer] = litecoind.rpc("testmempoolaccept", [signed.raw.hex()])
        assert answer["allowed"] is allowed, answer
        assert answer["txid"] == signed.txid == txid_of(signed.raw)
        if allowed:
            assert answer["vsize"] == signed.vsize <= estimate_vsize(1, [script, script])
        else:
            assert answer["reject-reason"] == "dust"
    signed = sign_p2wpkh(spend, [Payment(script, 990_000)])
    adapter = UtxoAdapter(network="litecoin", mode="test", rpc_url=litecoind.url)
    assert adapter.send_raw(signed.raw) == signed.txid
    adapter.send_raw(signed.raw)  # already in the mempool: success
    litecoind.mine(1)
    adapter.send_raw(signed.raw)  # already in a block: success
    double = sign_p2wpkh(spend, [Payment(script, 980_000)])
    with pytest.raises(BroadcastRefused) as refused:
        adapter.send_raw(double.raw)
    assert refused.value.missing_inputs
    adapter.close()


def test_signing_refuses_a_key_that_does_not_own_the_input():
    key, other = bytes(range(1, 33)), bytes(range(2, 34))

    public = eth_keys.PrivateKey(key).public_key.to_compressed_bytes()
    wrong = eth_keys.PrivateKey(other).public_key.to_compressed_bytes()
    script = b"\x00\x14" + hashlib.new("ripemd160", hashlib.sha256(public).digest()).digest()
    item = Input(txid="11" * 32, vout=0, amount=10_000, script=script)
    with pytest.raises(SigningError):
        sign_p2wpkh([(item, other, wrong)], [Payment(script, 5_000)])
    with pytest.raises(SigningError):
        sign_p2wpkh([(item, key, public)], [Payment(script, 20_000)])  # more out than in
    signed = sign_p2wpkh([(item, key, public)], [Payment(script, 5_000)])
    assert signed.fee == 5_000 and signed.raw[4:6] == b"\x00\x01"


def test_the_network_cost_is_shared_by_vbytes_and_adds_up():
    family = UtxoFamily(network="litecoin", mode="live")
    a, b = fresh_address(), fresh_address()
    sources = [{"settlement": "stl_1", "inputs": [{}], "to": a, "fee_to": b, "fee": "0.1"},
               {"settlement": "stl_2", "inputs": [{}, {}, {}], "to": a, "fee_to": "", "fee": "0"}]
    shares = family._shares(sources, 1001)
    assert sum(shares) == 1001 and shares[1] > shares[0]
    assert family._shares(sources, 1) in ([1, 0], [0, 1]) and sum(family._shares(sources, 1)) == 1
    assert script_of(network="litecoin", mode="live", address=a).startswith("0014")
    bitcoin = UtxoFamily(network="bitcoin", mode="live")  # the same code, bitcoin's parameters
    assert bitcoin.dust == 294 and bitcoin.asset == "BTC"
    assert bitcoin._script(encode_segwit("bc", 0, bytes(20))) == b"\x00\x14" + bytes(20)
    with pytest.raises(ValueError):
        bitcoin._script(a)  # a litecoin address is no bitcoin address


# -- crashes in a real process -----------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_settlement_leaves_exactly_one_transfer(transactional_db, chain, point):
    merchant = make_merchant(name=f"Crash {point}", email=f"{point}@example.com")
    payout = fresh_address()
    set_payout(merchant, payout)
    order_id = pay_order(chain, merchant.live, "0.25")
    tasks.plan_settlements()  # the settlement exists; the killed process does the rest
    if point == "before_record":
        tasks.advance_outbounds()
        chain.node.mine(2)  # in a block: the killed process dies writing it down
    done = run_killed(point)  # a real worker process, SIGKILLed at the point (testing/crash.py)
    assert done.killed, (done.returncode, done.stdout, done.stderr[-3000:])

    outbound = Outbound.objects.get(legs__settlement__order_id=order_id)
    [candidate] = outbound.candidates.all()  # signed once, stored before the kill
    if point == "after_sign":
        assert outbound.status == "signed"
        assert candidate.txid not in chain.node.rpc("getrawmempool")
    elif point == "after_send":
        assert outbound.status == "signed"  # the database never heard the node took it...
        assert candidate.txid in chain.node.rpc("getrawmempool")  # ...but it did
    else:
        assert outbound.status == "broadcast"

    run()
    chain.node.mine(2)
    run()
    outbound.refresh_from_db()
    settlement = Settlement.objects.get(order_id=order_id)
    assert outbound.status == "confirmed" and outbound.candidates.count() == 1
    assert settlement.status == "confirmed" and settlement.tx_hash == candidate.txid
    assert held_by(payout) == settlement.amount  # exactly one transfer reached the merchant
    deposit_input = outbound.sources[0]["inputs"][0]
    assert chain.node.rpc("gettxout", deposit_input["txid"], deposit_input["vout"]) is None
