"""Deposit refunds on the UTXO family (the Bitcoin code path) against the session's real regtest
litecoind: live `ltc` orders paid in part by the node's wallet, scanned, canceled, quoted and
refunded through the signed API, the transaction built and sent by the refunds' beat job, and
what the refund address holds read from the node (scantxoutset).

A stand-in, said here because nothing else can run: the regtest node plays litecoin *live*,
as in tests/test_settlement_utxo.py. Live mode refuses a node that says it is regtest and has
no peers, so the scanner's adapter answers "main" and "in step" (RegtestAsLive); the refund
code itself uses the plain UtxoAdapter of FLUXA_CHAINS against the real node. Refund addresses
are live `ltc1` addresses, paid by their scriptPubKey, which is the same on regtest.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from chains.adapters.utxo import UtxoAdapter
from chains.encoding import encode_segwit
from charges.models import Channel
from charges.watching import network_scan
from orders.models import Order
from refunds.models import Refund
from refunds.tasks import advance_refunds
from settlements.families.utxo import DUST, UtxoFamily
from settlements.models import Candidate, Outbound
from testing.client import charge_to_pay, make_merchant, order_state
from testing.crash import run_killed
from testing.litecoind import regtest_address
from webhooks.models import Event

SAT = Decimal("0.00000001")


class RegtestAsLive(UtxoAdapter):
    """The scanner's adapter for the stand-in (see the module docstring)."""

    def chain_identity(self) -> str:
        return "main"

    def node_synced(self) -> bool:
        return True


def fresh_address() -> str:
    """A live litecoin P2WPKH address nobody else pays (a random key hash)."""
    return encode_segwit("ltc", 0, os.urandom(20))


def held_by(address: str) -> Decimal:
    """What the chain says the address holds (confirmed outputs)."""
    return UtxoFamily(network="litecoin", mode="live").balance(address, asset="LTC")


def unspent_inputs(node, outbound: Outbound) -> list[str]:
    """The outbound's inputs (the deposit's outputs it spends) still unspent on the chain. (A
    deposit address's own balance says little: the session's node outlives the databases, and
    a fresh database derives the same addresses again.)"""
    inputs = [i for source in outbound.sources for i in source["inputs"]]
    return [f"{i['txid']}:{i['vout']}" for i in inputs if node.rpc("gettxout", i["txid"], i["vout"]) is not None]


class Chain:
    def __init__(self, node, adapter):
        self.node = node
        self.adapter = adapter

    def canceled_order(self, api, *, paid: str, due: str = "1") -> tuple[str, str]:
        """A live ltc order charged for `due` through the signed API, paid `paid` on the chain
        (one output), one block deep, scanned (pending), then canceled by the merchant: (order
        id, deposit address)."""
        order_id, address = charge_to_pay(api, channel="ltc", currency="LTC", amount=due)
        self.node.rpc("sendtoaddress", regtest_address(address), paid)
        self.node.mine(1)
        network_scan(adapter=self.adapter)
        assert order_state(order_id)[0] == "pending"
        response = api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"})
        assert response.status_code == 200, response.body
        return order_id, address

    def refund_until(self, order_id: str, *, rounds: int = 8) -> None:
        """The refunds' beat job, a block mined after each round, until the refund is confirmed."""
        for _ in range(rounds):
            advance_refunds()
            if Refund.objects.get(order_id=order_id).status == "confirmed":
                return
            self.node.mine(1)
        raise AssertionError(f"not confirmed after {rounds} rounds: {Refund.objects.get(order_id=order_id).status}")


@pytest.fixture
def chain(litecoind, settings):
    Channel.objects.filter(code="ltc").update(required_confirmations=1, min_amount=Decimal("0.00001"))
    settings.FLUXA_CHAINS = {"litecoin": {"live": litecoind.url}}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"litecoin": 2}
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = {"default": 3600}
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    settings.FLUXA_SETTLEMENT_FEE_RATES = {}
    settings.FLUXA_SETTLEMENT_BATCH_SECONDS = 600  # a settlement batch would wait: a refund never does
    adapter = RegtestAsLive(network="litecoin", mode="live", rpc_url=litecoind.url)
    network_scan(adapter=adapter, start_back=0)
    yield Chain(litecoind, adapter)
    adapter.close()


def _refund_events(order_id: str) -> list[str]:
    return list(Event.objects.filter(type__startswith="refund.", data__order__id=order_id)
                .order_by("created_at", "id").values_list("type", flat=True))


@pytest.mark.django_db
def test_a_canceled_litecoin_order_goes_back_at_exactly_the_quoted_net(chain, live_api):
    order_id, deposit = chain.canceled_order(live_api, paid="0.3")
    payer = fresh_address()

    quote = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}")

    assert quote.status_code == 200, quote.body
    q = quote.body["quote"]
    assert (q["amount"], q["paid_by"], q["network_cost_asset"], q["cause"]) == ("0.3", "payer", "LTC", "closed")
    cost, net = Decimal(q["network_cost"]), Decimal(q["net"])
    assert Decimal(0) < cost < Decimal("0.0001") and net + cost == Decimal("0.3")
    assert q["message"] == (f"{q['net']} LTC reaches {payer}: 0.3 LTC leaves the deposit address, less "
                            f"{q['network_cost']} LTC of network cost.")

    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})

    assert created.status_code == 201, created.body
    refund = created.body["refund"]
    assert (refund["status"], refund["quoted_net"], refund["refund_address"]) == ("pending", q["net"], payer)
    chain.refund_until(order_id)

    # On the chain: exactly the quoted net at the refund address, the deposit's output spent.
    assert held_by(payer) == net
    stored = Refund.objects.get(order_id=order_id)
    [outbound] = Outbound.objects.filter(refund_legs__refund=stored)
    assert unspent_inputs(chain.node, outbound) == []
    assert outbound.purpose == "refund" and outbound.candidates.count() == 1
    assert (stored.net, stored.network_cost, stored.tx_hash) == (net, cost, outbound.txid)
    tx = chain.node.rpc("getrawtransaction", outbound.txid, True, outbound.block_hash)
    assert len(tx["vin"]) == 1 and [Decimal(str(o["value"])) for o in tx["vout"]] == [net]  # no change output
    body = live_api.get(f"/api/v1/orders/{order_id}").body
    assert body["order"]["status"] == "refunded"
    assert body["refunds"][0]["status"] == "confirmed" and body["refunds"][0]["tx_hash"] == outbound.txid
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
    confirmed = Event.objects.get(type="refund.confirmed", data__order__id=order_id).data["refund"]
    assert (confirmed["net"], confirmed["tx_hash"]) == (q["net"], outbound.txid)

    again = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}")
    assert (again.status_code, again.error_code) == (422, "nothing_to_refund")


@pytest.mark.django_db
def test_every_output_of_the_deposit_goes_back_in_one_transaction(chain, live_api):
    order_id, address = charge_to_pay(live_api, channel="ltc", currency="LTC", amount="1")
    for amount in ("0.1", "0.05"):
        chain.node.rpc("sendtoaddress", regtest_address(address), amount)
    chain.node.mine(1)
    network_scan(adapter=chain.adapter)
    assert live_api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).status_code == 200
    payer = fresh_address()

    q = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}").body["quote"]
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer}).status_code == 201
    chain.refund_until(order_id)

    assert q["amount"] == "0.15" and held_by(payer) == Decimal(q["net"]) == Decimal("0.15") - Decimal(q["network_cost"])
    outbound = Outbound.objects.get(refund_legs__refund__order_id=order_id)
    assert len(chain.node.rpc("getrawtransaction", outbound.txid, True, outbound.block_hash)["vin"]) == 2
    assert Order.objects.get(pk=order_id).status == "refunded"


@pytest.mark.django_db
def test_the_refund_keeps_to_the_quoted_fee_when_the_node_rate_changes(chain, live_api, settings, monkeypatch):
    """The quote reads the node's rate; the refund is built at exactly the quoted fee even when
    the rate the build reads is another one (here the node has no estimate and the configured
    rate is ten times higher)."""
    order_id, _ = chain.canceled_order(live_api, paid="0.2")
    payer = fresh_address()
    q = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}").body["quote"]
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer}).status_code == 201
    monkeypatch.setattr(UtxoAdapter, "fee_rate", lambda self, target: None)
    settings.FLUXA_SETTLEMENT_FEE_RATES = {"litecoin": 500}

    chain.refund_until(order_id)

    [candidate] = Candidate.objects.filter(outbound__refund_legs__refund__order_id=order_id)
    assert candidate.network_cost == Decimal(q["network_cost"])
    assert held_by(payer) == Decimal(q["net"])


@pytest.mark.django_db
def test_funds_that_reach_a_refunded_order_go_back_without_its_first_refunds_output(chain, live_api):
    """The first refund spent the deposit's first output; a payment after the order closed is
    refunded on its own (the spent output is neither quoted nor spent again)."""
    order_id, deposit = chain.canceled_order(live_api, paid="0.2")
    payer = fresh_address()
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer}).status_code == 201
    chain.refund_until(order_id)
    first = Refund.objects.get(order_id=order_id)
    assert Order.objects.get(pk=order_id).status == "refunded"

    chain.node.rpc("sendtoaddress", regtest_address(deposit), "0.07")  # the payer pays again, late
    chain.node.mine(1)
    network_scan(adapter=chain.adapter)
    quote = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}")
    assert quote.status_code == 200, quote.body
    q = quote.body["quote"]
    assert (q["amount"], q["cause"]) == ("0.07", "after_close")
    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    assert created.status_code == 201, created.body
    second_id = created.body["refund"]["id"]
    for _ in range(6):
        advance_refunds()
        if Refund.objects.get(pk=second_id).status == "confirmed":
            break
        chain.node.mine(1)

    second = Refund.objects.get(pk=second_id)
    assert second.status == "confirmed" and second.net == Decimal(q["net"])
    assert held_by(payer) == first.net + second.net
    [outbound] = Outbound.objects.filter(refund_legs__refund=second)
    assert [Decimal(i["amount"]) for i in outbound.sources[0]["inputs"]] == [Decimal("0.07")]
    assert Order.objects.get(pk=order_id).status == "refunded"


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_refund_that_would_leave_dust_is_refused_at_quote_time(chain, live_api):
    # 3000 sat: above the 2940 sat dust threshold, below it once the fee is paid.
    order_id, _ = chain.canceled_order(live_api, paid="0.00003")
    payer = fresh_address()

    quote = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}")
    refund = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})

    assert (quote.status_code, quote.error_code) == (422, "below_dust")
    message = quote.body["error"]["message"]
    assert "0.00003 LTC minus the network cost" in message and "0.0000294 LTC dust threshold" in message
    assert "E-" not in message and "0.00003000" not in message
    assert (refund.status_code, refund.error_code) == (422, "below_dust")
    assert not Refund.objects.filter(order_id=order_id).exists() and not Outbound.objects.exists()


@pytest.mark.django_db
def test_an_address_of_another_network_or_mode_and_a_destination_tag_are_refused(chain, live_api):
    order_id, deposit = chain.canceled_order(live_api, paid="0.01")
    payer = fresh_address()
    program = os.urandom(20)

    calls = {
        "bitcoin": {"refund_address": encode_segwit("bc", 0, program)},
        "regtest": {"refund_address": encode_segwit("rltc", 0, program)},   # test mode's, not live
        "evm": {"refund_address": "0x" + "ab" * 20},
        "deposit": {"refund_address": deposit},
        "tag": {"refund_address": payer, "destination_tag": 7},
    }
    answers = {name: live_api.post(f"/api/v1/orders/{order_id}/refund", body) for name, body in calls.items()}

    for name in ("bitcoin", "regtest", "evm", "deposit"):
        assert (answers[name].status_code, answers[name].error_code) == (422, "invalid_address"), name
        assert answers[name].body["error"]["param"] == "refund_address"
    assert (answers["tag"].status_code, answers["tag"].error_code) == (400, "invalid_destination_tag")
    assert answers["tag"].body["error"]["param"] == "destination_tag"
    assert not Refund.objects.filter(order_id=order_id).exists()


@pytest.mark.django_db
def test_a_paid_litecoin_order_has_nothing_to_refund_from_its_deposit(chain, live_api):
    order_id, address = charge_to_pay(live_api, channel="ltc", currency="LTC", amount="0.1")
    chain.node.rpc("sendtoaddress", regtest_address(address), "0.15")  # overpaid: the settlement sends it all
    chain.node.mine(1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id)[0] == "paid"

    refused = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={fresh_address()}")

    assert (refused.status_code, refused.error_code) == (422, "nothing_to_refund")
    assert "refund the payer from there" in refused.body["error"]["message"]


# -- a worker killed mid-refund ------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_refund_sends_one_transaction(transactional_db, chain, point):
    keys = make_merchant(name=f"Crash {point}", email=f"refund-{point}@example.com")
    order_id, deposit = chain.canceled_order(keys.live, paid="0.25")
    payer = fresh_address()
    created = keys.live.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    assert created.status_code == 201, created.body
    if point == "before_record":
        advance_refunds()  # signed and sent here; in a block when the killed process reads it
        chain.node.mine(2)

    killed = run_killed(point, purposes=["refund"])

    assert killed.killed, (killed.returncode, killed.stderr[-3000:])
    outbound = Outbound.objects.get(refund_legs__refund__order_id=order_id)
    [candidate] = outbound.candidates.all()  # signed once, stored before the kill
    assert outbound.status == {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    in_mempool = candidate.txid in chain.node.rpc("getrawmempool")
    assert in_mempool is (point == "after_send")

    chain.refund_until(order_id)  # the restart

    outbound.refresh_from_db()
    assert outbound.status == "confirmed" and outbound.candidates.count() == 1 and outbound.txid == candidate.txid
    refund = Refund.objects.get(order_id=order_id)
    assert held_by(payer) == refund.quoted_net == refund.net  # one transfer reached the payer
    assert unspent_inputs(chain.node, outbound) == []
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
