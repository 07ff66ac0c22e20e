"""Solana settlements end to end, on transactions LiteSVM executes behind the local JSON-RPC
server (testing/solana_local.py: a validator cannot run here): a live order paid on the chain
and scanned, the settlement planned and advanced by the beat tasks, and the chain itself
asked what the merchant, the operator, the deposit and the fee payer hold afterwards. SOL and
USDC (a fresh mint wired in as the usdc_sol channel's); the deposit's token account closed;
workers killed (SIGKILL, a real process) after signing, after broadcasting, before recording;
a lost transaction replaced only once its blockhash expired."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chains.adapters.registry import adapter_for
from charges.models import Channel
from charges.watching import network_scan
from core.money import to_base_units
from merchants.models import Merchant
from merchants.services import payout_address_set
from orders.models import Order
from settlements import feepayer, keys
from settlements.models import Candidate, CandidateStatus, Outbound, OwedFee, Settlement
from settlements.tasks import advance_outbounds, advance_settlement, plan_settlements
from testing.client import charge_to_pay, order_state
from testing.crash import run_killed
from testing.solana_local import create_mint, mint_to, token_account, transfer_sol, transfer_token
from wallets.services import wallet_root_ensure
from webhooks.models import Event

LAMPORTS = 10**9
RENT = 890_880
TOKEN_ACCOUNT_RENT = 2_039_280
SIGNATURE_FEE = 5_000


class Chain:
    """The local chain wired in as fluxa's solana live node, a funded payer holding a fresh
    USDC mint, the operator's platform address and its funded fee payer."""

    def __init__(self, local, live_api, settings):
        self.local = local
        self.api = live_api
        self.payer = local.funded_keypair(10**12)
        self.mint = create_mint(local, self.payer, decimals=6)
        mint_to(local, self.payer, self.mint, self.payer.pubkey(), 10**12)
        local.produce_block()
        Channel.objects.filter(code="usdc_sol").update(token_contract=str(self.mint), required_confirmations=1)
        Channel.objects.filter(code="sol").update(required_confirmations=1)
        self.platform = Keypair().pubkey()  # does not exist on the chain yet
        self.merchant_payout = Keypair().pubkey()
        settings.FLUXA_CHAINS = {"solana": {"live": local.url}}
        settings.FLUXA_PLATFORM_ADDRESSES = {"solana": str(self.platform)}
        settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"solana": 1}
        settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"solana": 0}
        wallet_root_ensure()  # the HD root from FLUXA_WALLET_MNEMONIC, as a deployment's first charge would
        self.fee_payer = Pubkey.from_string(keys.fee_payer_address(network="solana", mode="live"))
        local.airdrop(self.fee_payer, 10 * LAMPORTS)
        payout_address_set(merchant=Merchant.objects.get(pk=live_api.merchant_id), mode="live", network="solana",
                           address=str(self.merchant_payout))
        self.adapter = adapter_for("solana", "live")
        network_scan(adapter=self.adapter, start_back=0)

    def paid_sol_order(self, amount: str = "0.5") -> tuple[str, Pubkey]:
        order_id, address = charge_to_pay(self.api, channel="sol", currency="SOL", amount=amount)
        deposit = Pubkey.from_string(address)
        transfer_sol(self.local, self.payer, deposit, lamports(amount))
        self.local.produce_blocks(2)
        network_scan(adapter=self.adapter)
        assert order_state(order_id) == ("paid", "")
        return order_id, deposit

    def paid_usdc_order(self, amount: str = "25", pay: int | None = None) -> tuple[str, Pubkey]:
        order_id, address = charge_to_pay(self.api, channel="usdc_sol", currency="USDC", amount=amount)
        deposit = Pubkey.from_string(address)
        transfer_token(self.local, self.payer, self.mint, deposit, pay or to_base_units(Decimal(amount), 6))
        self.local.produce_blocks(2)
        network_scan(adapter=self.adapter)
        assert order_state(order_id)[0] == "paid"
        return order_id, deposit

    def tokens(self, owner: Pubkey) -> int | None:
        found = self.adapter.token_balance(str(token_account(owner, self.mint)))
        return None if found is None else found[0]


@pytest.fixture
def chain(local_solana, live_api, settings):
    return Chain(local_solana, live_api, settings)


def settle(chain: Chain, blocks: int = 1) -> Settlement:
    """The beat jobs as the worker runs them: plan, advance (sign, send), a block, advance."""
    plan_settlements()
    advance_outbounds()
    chain.local.produce_blocks(blocks)
    advance_outbounds()
    return Settlement.objects.get()


def lamports(amount: Decimal | str) -> int:
    return to_base_units(Decimal(amount), 9)


# -- 1. end to end -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_paid_sol_order_settles_net_to_the_merchant_and_fee_to_the_operator_in_one_transaction(chain):
    order_id, deposit = chain.paid_sol_order("0.5")
    order = Order.objects.get(pk=order_id)
    fee_payer_before = chain.local.balance(chain.fee_payer)

    plan_settlements()
    advance_outbounds()  # signed, sent, executed in the open block: processed, not yet confirmed
    settlement = Settlement.objects.get()
    assert settlement.status == "broadcast"
    assert list(Event.objects.filter(type__startswith="settlement.").values_list("type", flat=True)) == [
        "settlement.broadcast"]
    chain.local.produce_block()
    advance_outbounds()

    settlement.refresh_from_db()
    assert settlement.status == "confirmed" and settlement.fee_owed is False
    assert (settlement.amount, settlement.fee) == (order.amount_due - order.fee_amount, order.fee_amount)
    assert settlement.fee == Decimal("0.005")  # 1% of 0.5
    # On the chain: exactly the net and the fee arrived; the deposit is empty; the fee payer paid the fee.
    assert chain.local.balance(chain.merchant_payout) == lamports(settlement.amount)
    assert chain.local.balance(chain.platform) == lamports(settlement.fee)
    assert chain.local.balance(deposit) == 0
    assert chain.local.balance(chain.fee_payer) == fee_payer_before - 2 * SIGNATURE_FEE
    # One transaction, two transfers in it, signed by the fee payer (first) and the deposit.
    [outbound] = Outbound.objects.all()
    [tx] = [tx for block in chain.local.blocks.values() for tx in block["transactions"]
            if tx.signatures[0] == outbound.txid]
    assert tx.account_keys[0] == str(chain.fee_payer) and tx.account_keys[1] == str(deposit)
    assert len(tx.instructions) == 2 and len(tx.signatures) == 2

    body = chain.api.get(f"/api/v1/orders/{order_id}").body
    [shown] = body["settlements"]
    assert shown["status"] == "confirmed" and shown["tx_hash"] == outbound.txid
    assert shown["network_cost"] == "0.00001" and shown["network_cost_asset"] == "SOL"
    assert shown["confirmations"] >= 1 and shown["amount"] == "0.495" and shown["fee"] == "0.005"
    assert list(Event.objects.filter(type__startswith="settlement.").order_by("created_at", "id")
                .values_list("type", flat=True)) == ["settlement.broadcast", "settlement.confirmed"]

    plan_settlements()
    advance_outbounds()  # nothing more happens
    assert Outbound.objects.count() == 1 and Candidate.objects.count() == 1


@pytest.mark.django_db
def test_a_paid_usdc_order_creates_the_token_accounts_and_closes_the_deposits(chain):
    order_id, deposit = chain.paid_usdc_order("25")
    deposit_token_account = str(token_account(deposit, chain.mint))
    assert chain.adapter.account(deposit_token_account) is not None
    fee_payer_before = chain.local.balance(chain.fee_payer)

    settlement = settle(chain)
    assert settlement.status == "confirmed"
    assert (settlement.amount, settlement.fee) == (Decimal("24.75"), Decimal("0.25"))
    assert chain.tokens(chain.merchant_payout) == 24_750_000
    assert chain.tokens(chain.platform) == 250_000
    assert chain.adapter.account(deposit_token_account) is None  # closed
    # The fee payer paid the fee and two new token accounts, and got the deposit's rent back.
    assert chain.local.balance(chain.fee_payer) == (fee_payer_before - 2 * SIGNATURE_FEE - 2 * TOKEN_ACCOUNT_RENT
                                                    + TOKEN_ACCOUNT_RENT)
    [shown] = chain.api.get(f"/api/v1/orders/{order_id}").body["settlements"]
    assert shown["status"] == "confirmed" and shown["network_cost"] == "0.00408856"
    candidate = Candidate.objects.get()
    assert candidate.fee_fields["token_accounts_created"] == [str(chain.merchant_payout), str(chain.platform)]
    assert candidate.fee_fields["rent_reclaimed"] == TOKEN_ACCOUNT_RENT

    # A second order: the token accounts exist now, only the fee is the network cost.
    chain.paid_usdc_order("10")
    plan_settlements()
    advance_outbounds()
    chain.local.produce_block()
    advance_outbounds()
    second = Settlement.objects.exclude(pk=settlement.pk).get()
    assert second.status == "confirmed" and second.network_cost == Decimal("0.00001")
    assert chain.tokens(chain.merchant_payout) == 24_750_000 + 9_900_000


@pytest.mark.django_db
def test_an_overpaid_usdc_deposit_keeps_the_rest_and_its_token_account(chain):
    chain.paid_usdc_order("25", pay=30_000_000)
    deposit = Pubkey.from_string(Order.objects.get().deposit_addresses.get().address)
    settlement = settle(chain)
    assert settlement.status == "confirmed" and chain.tokens(chain.merchant_payout) == 24_750_000
    assert chain.tokens(deposit) == 5_000_000  # the overpayment stays, for a refund


@pytest.mark.django_db
def test_without_a_platform_address_the_sol_fee_is_owed_and_moved_to_the_fee_payer(chain, settings):
    settings.FLUXA_PLATFORM_ADDRESSES = {}
    _, deposit = chain.paid_sol_order("0.5")
    fee_payer_before = chain.local.balance(chain.fee_payer)
    settlement = settle(chain)
    assert settlement.status == "confirmed" and settlement.fee_owed
    owed = OwedFee.objects.get()
    assert (owed.amount, owed.held_at) == (Decimal("0.005"), str(chain.fee_payer))
    assert chain.local.balance(deposit) == 0
    assert chain.local.balance(chain.fee_payer) == fee_payer_before - 2 * SIGNATURE_FEE + lamports(owed.amount)
    assert chain.local.balance(chain.platform) == 0


@pytest.mark.django_db
def test_without_a_platform_address_a_token_fee_is_owed_on_the_deposits_token_account(chain, settings):
    settings.FLUXA_PLATFORM_ADDRESSES = {}
    _, deposit = chain.paid_usdc_order("25")
    settlement = settle(chain)
    assert settlement.status == "confirmed" and settlement.fee_owed
    owed = OwedFee.objects.get()
    assert (owed.amount, owed.held_at) == (Decimal("0.25"), str(deposit))
    assert chain.tokens(chain.merchant_payout) == 24_750_000 and chain.tokens(deposit) == 250_000  # not closed


@pytest.mark.django_db
def test_a_net_below_the_rent_minimum_to_an_address_that_does_not_exist_is_held_until_it_does(chain):
    Channel.objects.filter(code="sol").update(min_amount=Decimal("0.001"))
    Merchant.objects.filter(pk=chain.api.merchant_id).update(fee_percent=Decimal("15"))
    chain.local.airdrop(chain.platform, LAMPORTS)  # the operator's address exists; the merchant's does not
    _, deposit = chain.paid_sol_order("0.001")  # net 0.00085 SOL: below the 890,880 lamports a new account needs
    plan_settlements()
    advance_outbounds()
    settlement = Settlement.objects.get()
    assert (settlement.amount, settlement.fee) == (Decimal("0.00085"), Decimal("0.00015"))
    assert settlement.status == "held" and "does not exist on Solana yet" in settlement.reason
    assert chain.local.balance(deposit) == 1_000_000 and Candidate.objects.count() == 0

    chain.local.airdrop(chain.merchant_payout, LAMPORTS)  # the merchant activates the address
    advance_settlement(settlement.id)
    chain.local.produce_block()
    advance_settlement(settlement.id)
    settlement.refresh_from_db()
    assert settlement.status == "confirmed"
    assert chain.local.balance(chain.merchant_payout) == LAMPORTS + 850_000
    assert chain.local.balance(chain.platform) == LAMPORTS + 150_000 and chain.local.balance(deposit) == 0


@pytest.mark.django_db
def test_a_network_cost_above_the_limit_holds_the_settlement(chain, settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"solana": {"max": "0.000001"}}
    order_id, deposit = chain.paid_sol_order("0.5")
    plan_settlements()
    advance_outbounds()
    settlement = Settlement.objects.get()
    assert settlement.status == "held" and "above the limit" in settlement.reason
    assert Candidate.objects.count() == 0 and chain.local.balance(deposit) == lamports(Decimal("0.5"))


@pytest.mark.django_db
def test_a_fee_payer_short_of_the_fee_waits_with_the_reason_then_goes_on_once_funded(chain):
    _, deposit = chain.paid_sol_order("0.5")
    chain.local.svm.set_account(chain.fee_payer, _account(lamports=RENT))  # the fee payer holds only its rent
    assert feepayer.fee_payers(mode="live")["solana"]["balance"] == "0.00089088"
    plan_settlements()
    advance_outbounds()
    settlement = Settlement.objects.get()
    assert settlement.status == "held" and "fee payer" in settlement.reason and Outbound.objects.get().held
    assert Candidate.objects.count() == 0 and chain.local.balance(deposit) == lamports("0.5")
    chain.local.airdrop(chain.fee_payer, LAMPORTS)
    advance_settlement(settlement.id)
    chain.local.produce_block()
    advance_settlement(settlement.id)
    settlement.refresh_from_db()
    assert settlement.status == "confirmed" and chain.local.balance(chain.merchant_payout) == lamports("0.495")
    assert not Outbound.objects.get().held


def _account(*, lamports: int):
    from solders.account import Account
    from solders.system_program import ID as SYSTEM_PROGRAM

    return Account(lamports=lamports, data=b"", owner=SYSTEM_PROGRAM, executable=False, rent_epoch=0)


@pytest.mark.django_db
def test_a_test_order_never_settles(chain, api):
    order_id, _ = charge_to_pay(api, channel="sol", currency="SOL", amount="0.5")
    api.post(f"/api/v1/orders/{order_id}/simulate_payment", {})
    assert Order.objects.get(pk=order_id).status == "paid"
    plan_settlements()
    assert Settlement.objects.count() == 0


# -- 2. crashes: a real worker process killed at each point ------------------------------------

def crash(point: str) -> None:
    """Plan here, then the worker's steps in a real process (testing/crash.py), SIGKILLed at `point`."""
    plan_settlements()
    result = run_killed(point)
    assert result.killed, (result.returncode, result.stderr[-3000:])


def signatures_moving(chain: Chain, deposit: Pubkey) -> list[str]:
    """Every transaction on the chain signed by the deposit address (a settlement of it)."""
    return [tx.signatures[0] for block in chain.local.blocks.values() for tx in block["transactions"]
            if len(tx.account_keys) > 1 and tx.account_keys[1] == str(deposit) and len(tx.signatures) == 2]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_settlement_leaves_exactly_one_transfer(chain, point):
    order_id, deposit = chain.paid_sol_order("0.5")
    if point == "before_record":
        plan_settlements()
        advance_outbounds()  # sent; the next block holds it
        chain.local.produce_block()
    crash(point)
    outbound = Outbound.objects.get()
    assert outbound.status == {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    assert Candidate.objects.count() == 1

    advance_outbounds()  # the restarted worker: re-sends the stored bytes (already processed is fine)
    chain.local.produce_block()
    advance_outbounds()
    settlement = Settlement.objects.get()
    assert settlement.status == "confirmed"
    assert signatures_moving(chain, deposit) == [Candidate.objects.get().txid]
    assert chain.local.balance(chain.merchant_payout) == lamports(settlement.amount)
    assert chain.local.balance(chain.platform) == lamports(settlement.fee)
    assert chain.local.balance(deposit) == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_broadcasting_a_usdc_sweep_leaves_one_sweep(chain):
    _, deposit = chain.paid_usdc_order("25")
    crash("after_send")
    advance_outbounds()
    chain.local.produce_block()
    advance_outbounds()
    assert Settlement.objects.get().status == "confirmed"
    assert len(signatures_moving(chain, deposit)) == 1
    assert chain.tokens(chain.merchant_payout) == 24_750_000 and chain.tokens(chain.platform) == 250_000


# -- 3. replacement after the blockhash expired ---------------------------------------------------

@pytest.mark.django_db
def test_a_lost_transaction_is_replaced_only_after_its_blockhash_expired(chain, settings):
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = 0  # stuck at once: only the chain's rule holds it back
    _, deposit = chain.paid_sol_order("0.5")
    chain.local.lose_sends = True  # the leader drops what it is sent
    plan_settlements()
    advance_outbounds()
    first = Candidate.objects.get()
    assert Outbound.objects.get().status == "broadcast"
    assert first.valid_until == chain.local.block_height + 150

    chain.local.produce_blocks(first.valid_until - chain.local.block_height)  # at the last valid height
    advance_outbounds()
    assert Candidate.objects.count() == 1  # still valid: re-sent, never replaced
    chain.local.produce_block()  # the finalized height passes lastValidBlockHeight
    chain.local.lose_sends = False
    advance_outbounds()  # expired -> a replacement with a fresh blockhash, signed, sent
    chain.local.produce_block()
    advance_outbounds()

    first.refresh_from_db()
    second = Candidate.objects.exclude(pk=first.pk).get()
    outbound = Outbound.objects.get()
    assert first.status == CandidateStatus.EXPIRED and second.status == CandidateStatus.MINED
    assert second.fee_fields["blockhash"] != first.fee_fields["blockhash"] and second.outputs == first.outputs
    assert outbound.status == "confirmed" and outbound.txid == second.txid
    assert Settlement.objects.get().tx_hash == second.txid
    assert signatures_moving(chain, deposit) == [second.txid]
    assert chain.adapter.signature_status(first.txid) is None
    assert chain.local.balance(chain.merchant_payout) == lamports(Decimal("0.495"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_candidate_signed_before_a_long_outage_is_replaced_when_the_node_refuses_its_blockhash(chain):
    """Killed after signing, restarted after the blockhash expired: the node refuses the stored
    bytes (BlockhashNotFound); none of its candidates can land any more, so the reconciler
    replaces it instead of asking an operator."""
    _, deposit = chain.paid_sol_order("0.5")
    crash("after_sign")
    chain.local.produce_blocks(152)
    advance_outbounds()
    chain.local.produce_block()
    advance_outbounds()
    outbound = Outbound.objects.get()
    assert outbound.status == "confirmed" and Candidate.objects.count() == 2
    assert signatures_moving(chain, deposit) == [outbound.txid]
    assert chain.local.balance(deposit) == 0


# -- 4. a block that disappears ---------------------------------------------------------------------

@pytest.mark.django_db
def test_a_settlement_whose_block_disappears_goes_back_to_broadcast_and_confirms_once(chain, settings):
    """fluxa reads Solana at `finalized`, so a real reorg of a settlement's block is never seen,
    and LiteSVM cannot undo a block: the node's answers are rewritten instead (the stand-in says
    so) to show the status vanishing while the transfer waits for its 3 slots."""
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"solana": 3}
    _, deposit = chain.paid_sol_order("0.5")
    plan_settlements()
    advance_outbounds()
    chain.local.produce_block()
    advance_outbounds()
    outbound = Outbound.objects.get()
    assert (outbound.status, outbound.confirmations) == ("confirming", 1)

    chain.local.tamper["getSignatureStatuses"] = lambda answer: {**answer, "value": [None] * len(answer["value"])}
    advance_outbounds()
    outbound.refresh_from_db()
    assert (outbound.status, outbound.block_number, outbound.txid) == ("broadcast", None, "")
    assert Candidate.objects.get().sends >= 2  # the same bytes sent again (the node says already processed)
    assert Candidate.objects.count() == 1

    del chain.local.tamper["getSignatureStatuses"]
    chain.local.produce_blocks(2)
    advance_outbounds()
    outbound.refresh_from_db()
    assert (outbound.status, outbound.confirmations) == ("confirmed", 3)
    assert Settlement.objects.get().status == "confirmed"
    assert signatures_moving(chain, deposit) == [outbound.txid]
    assert chain.local.balance(chain.merchant_payout) == lamports(Decimal("0.495"))
