"""Deposit refunds on Solana (SOL and an SPL token), on transactions LiteSVM executes behind the
local JSON-RPC server (testing/solana_local.py: a validator cannot run here, as for the Solana
settlement tests): live orders paid in part on the chain, scanned, canceled, quoted and refunded
through the signed API, the transfer built and sent by the refunds' beat job, and the chain
itself asked what the refund address, the deposit and the fee payer hold afterwards.

The operator's fee payer pays every refund's network fee (and the rent of a recipient's new
token account): the quote says paid_by operator and the payer receives the amount in full."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chains.adapters.registry import adapter_for
from charges.models import Channel
from charges.watching import network_scan
from core.money import to_base_units
from orders.models import Order
from refunds.models import Refund
from refunds.tasks import advance_refunds
from settlements import keys
from settlements.models import Candidate, Outbound
from testing.client import charge_to_pay, make_merchant, order_state
from testing.crash import run_killed
from testing.solana_local import create_mint, mint_to, token_account, transfer_sol, transfer_token
from wallets.services import wallet_root_ensure
from webhooks.models import Event

LAMPORTS = 10**9
RENT = 890_880
TOKEN_ACCOUNT_RENT = 2_039_280
SIGNATURE_FEE = 5_000


def lamports(amount: Decimal | str) -> int:
    return to_base_units(Decimal(amount), 9)


class Chain:
    """The local chain wired in as fluxa's solana live node, a funded payer holding a fresh
    USDC mint (the usdc_sol channel's), and the operator's funded fee payer."""

    def __init__(self, local, settings):
        self.local = local
        self.payer = local.funded_keypair(10**12)
        self.mint = create_mint(local, self.payer, decimals=6)
        mint_to(local, self.payer, self.mint, self.payer.pubkey(), 10**12)
        local.produce_block()
        Channel.objects.filter(code="usdc_sol").update(token_contract=str(self.mint), required_confirmations=1)
        Channel.objects.filter(code="sol").update(required_confirmations=1)
        settings.FLUXA_CHAINS = {"solana": {"live": local.url}}
        settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"solana": 1}
        settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
        wallet_root_ensure()
        self.fee_payer = Pubkey.from_string(keys.fee_payer_address(network="solana", mode="live"))
        local.airdrop(self.fee_payer, 10 * LAMPORTS)
        self.adapter = adapter_for("solana", "live")
        network_scan(adapter=self.adapter, start_back=0)

    def canceled_sol_order(self, api, *, paid: str, due: str = "0.5") -> tuple[str, Pubkey]:
        """A live SOL order charged for `due`, paid `paid` on the chain, scanned (pending), then
        canceled by the merchant through the signed API: (order id, deposit address)."""
        order_id, address = charge_to_pay(api, channel="sol", currency="SOL", amount=due)
        deposit = Pubkey.from_string(address)
        transfer_sol(self.local, self.payer, deposit, lamports(paid))
        return order_id, self._cancel(api, order_id, deposit)

    def canceled_usdc_order(self, api, *, paid: str, due: str = "25") -> tuple[str, Pubkey]:
        order_id, address = charge_to_pay(api, channel="usdc_sol", currency="USDC", amount=due)
        deposit = Pubkey.from_string(address)
        transfer_token(self.local, self.payer, self.mint, deposit, to_base_units(Decimal(paid), 6))
        return order_id, self._cancel(api, order_id, deposit)

    def _cancel(self, api, order_id: str, deposit: Pubkey) -> Pubkey:
        self.local.produce_blocks(2)
        network_scan(adapter=self.adapter)
        assert order_state(order_id)[0] == "pending"
        response = api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"})
        assert response.status_code == 200, response.body
        return deposit

    def refund_until(self, order_id: str, *, rounds: int = 6) -> None:
        """The refunds' beat job, a block produced after each round, until the refund is confirmed."""
        for _ in range(rounds):
            advance_refunds()
            if Refund.objects.get(order_id=order_id).status == "confirmed":
                return
            self.local.produce_block()
        raise AssertionError(f"not confirmed after {rounds} rounds: {Refund.objects.get(order_id=order_id).status}")

    def tokens(self, owner: Pubkey) -> int | None:
        found = self.adapter.token_balance(str(token_account(owner, self.mint)))
        return None if found is None else found[0]

    def moving(self, deposit: Pubkey) -> list[str]:
        """Every transaction on the chain signed by the deposit address (fee payer first)."""
        return [tx.signatures[0] for block in self.local.blocks.values() for tx in block["transactions"]
                if len(tx.account_keys) > 1 and tx.account_keys[1] == str(deposit) and len(tx.signatures) == 2]


@pytest.fixture
def chain(local_solana, settings):
    return Chain(local_solana, settings)


def _refund_events(order_id: str) -> list[str]:
    return list(Event.objects.filter(type__startswith="refund.", data__order__id=order_id)
                .order_by("created_at", "id").values_list("type", flat=True))


def _quote(api, order_id: str, address) -> dict:
    answer = api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={address}")
    assert answer.status_code == 200, answer.body
    return answer.body["quote"]


@pytest.mark.django_db
def test_a_canceled_sol_order_goes_back_in_full_the_fee_payer_paying_the_fee(chain, live_api):
    order_id, deposit = chain.canceled_sol_order(live_api, paid="0.2")
    payer = Keypair().pubkey()  # a new account: 0.2 SOL is above the rent-exempt minimum
    fee_payer_before = chain.local.balance(chain.fee_payer)

    q = _quote(live_api, order_id, payer)

    assert (q["amount"], q["net"], q["paid_by"], q["network_cost_asset"]) == ("0.2", "0.2", "operator", "SOL")
    assert q["network_cost"] == "0.00001"  # two signatures
    assert q["message"] == (f"0.2 SOL reaches {payer}; the network cost, about 0.00001 SOL, is not taken from "
                            "the refund: the operator pays it.")

    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": str(payer)})

    assert created.status_code == 201, created.body
    assert created.body["refund"]["status"] == "pending" and created.body["refund"]["quoted_net"] == "0.2"
    chain.refund_until(order_id)

    # On the chain: exactly the quoted net at the refund address; the deposit is empty; the
    # fee payer paid the fee.
    assert chain.local.balance(payer) == lamports(q["net"])
    assert chain.local.balance(deposit) == 0
    assert chain.local.balance(chain.fee_payer) == fee_payer_before - lamports(q["network_cost"])
    stored = Refund.objects.get(order_id=order_id)
    [outbound] = Outbound.objects.filter(refund_legs__refund=stored)
    assert outbound.purpose == "refund" and chain.moving(deposit) == [outbound.txid]
    assert (stored.net, stored.network_cost, stored.tx_hash) == (Decimal("0.2"), Decimal("0.00001"), outbound.txid)
    body = live_api.get(f"/api/v1/orders/{order_id}").body
    assert body["order"]["status"] == "refunded"
    assert body["refunds"][0]["status"] == "confirmed" and body["refunds"][0]["paid_by"] == "operator"
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
    confirmed = Event.objects.get(type="refund.confirmed", data__order__id=order_id).data["refund"]
    assert (confirmed["net"], confirmed["tx_hash"]) == ("0.2", outbound.txid)


@pytest.mark.django_db
def test_a_canceled_usdc_order_goes_back_in_full_the_fee_payer_creating_the_token_account(chain, live_api):
    order_id, deposit = chain.canceled_usdc_order(live_api, paid="4")
    payer = Keypair().pubkey()  # holds nothing: no USDC token account yet
    deposit_token_account = str(token_account(deposit, chain.mint))
    fee_payer_before = chain.local.balance(chain.fee_payer)

    q = _quote(live_api, order_id, payer)

    assert (q["amount"], q["net"], q["paid_by"], q["network_cost_asset"]) == ("4", "4", "operator", "SOL")
    assert Decimal(q["network_cost"]) == Decimal(2 * SIGNATURE_FEE + TOKEN_ACCOUNT_RENT) / LAMPORTS  # fee + rent
    assert "4 USDC reaches" in q["message"] and "4.000000" not in q["message"]
    assert any("token account" in note for note in q["notes"])
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": str(payer)}).status_code == 201
    chain.refund_until(order_id)

    assert chain.tokens(payer) == 4_000_000
    assert chain.adapter.account(deposit_token_account) is None  # emptied and closed
    # The fee payer paid the fee and the new token account, and got the deposit's rent back.
    assert chain.local.balance(chain.fee_payer) == (fee_payer_before - lamports(q["network_cost"])
                                                    + TOKEN_ACCOUNT_RENT)
    stored = Refund.objects.get(order_id=order_id)
    assert (stored.net, stored.network_cost) == (Decimal("4"), Decimal(q["network_cost"]))
    assert Order.objects.get(pk=order_id).status == "refunded"
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]


@pytest.mark.django_db
def test_a_usdc_refund_to_an_existing_token_account_costs_only_the_fee(chain, live_api):
    order_id, _ = chain.canceled_usdc_order(live_api, paid="2.5")
    payer = Keypair()
    transfer_token(chain.local, chain.payer, chain.mint, payer.pubkey(), 1)  # the payer's account exists
    chain.local.produce_block()

    q = _quote(live_api, order_id, payer.pubkey())

    assert (q["net"], q["network_cost"]) == ("2.5", "0.00001")
    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": str(payer.pubkey())})
    assert created.status_code == 201, created.body
    chain.refund_until(order_id)
    assert chain.tokens(payer.pubkey()) == 2_500_001


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_sol_below_the_rent_minimum_to_a_new_address_is_refused_and_an_existing_one_takes_it(chain, live_api):
    """A canceled order's deposit always holds at least the rent-exempt minimum (Solana refuses
    to fund an account with less), so a refund below it is an overpayment's excess: 0.0005 SOL
    beyond the 0.5 due, refunded before the settlement (the merchant has no payout address)."""
    order_id, address = charge_to_pay(live_api, channel="sol", currency="SOL", amount="0.5")
    deposit = Pubkey.from_string(address)
    transfer_sol(chain.local, chain.payer, deposit, lamports("0.5005"))  # 500,000 lamports < 890,880 too many
    chain.local.produce_blocks(2)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id)[0] == "paid"
    new = Keypair().pubkey()
    existing = Keypair().pubkey()
    chain.local.airdrop(existing, LAMPORTS)

    refused = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={new}")
    posted = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": str(new)})

    assert (refused.status_code, refused.error_code) == (422, "below_reserve")
    message = refused.body["error"]["message"]
    assert "0.00089088 SOL" in message and "0.0005 SOL" in message and "E-" not in message
    assert (posted.status_code, posted.error_code) == (422, "below_reserve")
    assert not Refund.objects.filter(order_id=order_id).exists()

    q = _quote(live_api, order_id, existing)
    assert (q["cause"], q["amount"], q["net"]) == ("overpayment", "0.0005", "0.0005")
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": str(existing)}).status_code == 201
    chain.refund_until(order_id)
    assert chain.local.balance(existing) == LAMPORTS + 500_000
    assert chain.local.balance(deposit) == lamports("0.5")  # the amount due stays for the settlement
    assert Order.objects.get(pk=order_id).status == "paid"


@pytest.mark.django_db
def test_an_address_of_another_network_a_destination_tag_and_the_deposit_itself_are_refused(chain, live_api):
    order_id, deposit = chain.canceled_sol_order(live_api, paid="0.1")
    payer = str(Keypair().pubkey())

    calls = {
        "evm": {"refund_address": "0x" + "ab" * 20},
        "bitcoin": {"refund_address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
        "short": {"refund_address": payer[:-4]},
        "deposit": {"refund_address": str(deposit)},
        "tag": {"refund_address": payer, "destination_tag": 7},
    }
    answers = {name: live_api.post(f"/api/v1/orders/{order_id}/refund", body) for name, body in calls.items()}

    for name in ("evm", "bitcoin", "short", "deposit"):
        assert (answers[name].status_code, answers[name].error_code) == (422, "invalid_address"), name
        assert answers[name].body["error"]["param"] == "refund_address"
    assert (answers["tag"].status_code, answers["tag"].error_code) == (400, "invalid_destination_tag")
    assert not Refund.objects.filter(order_id=order_id).exists()


@pytest.mark.django_db
def test_a_refund_in_flight_refuses_a_second_one(chain, live_api):
    order_id, _ = chain.canceled_sol_order(live_api, paid="0.1")
    payer = str(Keypair().pubkey())
    first = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    second = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": payer})
    assert first.status_code == 201
    assert (second.status_code, second.error_code) == (409, "refund_in_progress")
    chain.refund_until(order_id)
    again = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={payer}")
    assert (again.status_code, again.error_code) == (422, "nothing_to_refund")


# -- a worker killed mid-refund ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_refund_sends_one_transfer(transactional_db, chain, point):
    keys_ = make_merchant(name=f"Crash {point}", email=f"sol-refund-{point}@example.com")
    order_id, deposit = chain.canceled_sol_order(keys_.live, paid="0.2")
    payer = Keypair().pubkey()
    assert keys_.live.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": str(payer)}).status_code == 201
    if point == "before_record":
        advance_refunds()  # sent here; the next block holds it when the killed process reads it
        chain.local.produce_block()

    killed = run_killed(point, purposes=["refund"])

    assert killed.killed, (killed.returncode, killed.stderr[-3000:])
    outbound = Outbound.objects.get(refund_legs__refund__order_id=order_id)
    assert outbound.status == {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    [candidate] = Candidate.objects.filter(outbound=outbound)

    chain.refund_until(order_id)  # the restart: the stored bytes, sent again where needed

    assert chain.moving(deposit) == [candidate.txid]  # one transfer, whatever was killed
    assert chain.local.balance(payer) == lamports("0.2") and chain.local.balance(deposit) == 0
    assert Refund.objects.get(order_id=order_id).net == Decimal("0.2")
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
