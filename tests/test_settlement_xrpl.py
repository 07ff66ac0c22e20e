"""XRP Ledger settlements end to end. No rippled can run here: testing/xrpl_fake.py stands in
for it (a local HTTP server answering rippled's documented JSON-RPC shapes), and it keeps the
accounts the test funds: their balances, Sequence, OwnerCount and flags, applying each Payment
when its ledger closes, refusing a wrong Sequence or a passed LastLedgerSequence, keeping the
reserve (see its docstring). Everything fluxa sends is a real Payment, signed offline here
with xrpl-py from the wallet root's key; the stand-in checks every signature. Balances asserted
below are the stand-in's ledger after applying those signed payments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from xrpl.core.keypairs import generate_seed
from xrpl.models.transactions import Payment
from xrpl.transaction import sign
from xrpl.wallet import Wallet

from chains.adapters.registry import adapter_for
from chains.adapters.xrpl import AccountInfo, Reserves
from chains.derivation import xrpl_x_address
from charges.watching import network_scan
from core.money import to_base_units
from merchants.models import Merchant
from merchants.services import payout_address_set
from settlements import engine, tasks
from settlements.families import family_for
from settlements.families.base import CannotSend, NotReady
from settlements.families.xrpl import FEE_WORTH_SENDING, Prepared, check_payment, split_address
from settlements.models import Candidate, CandidateStatus, Outbound, OwedFee, Settlement
from testing.client import charge, order_state
from testing.crash import run_killed
from webhooks.models import Event

# Test-only keys from fixed seeds: never funded on any real ledger.
PAYER = Wallet.from_seed(generate_seed(entropy="31" * 16))
MERCHANT = Wallet.from_seed(generate_seed(entropy="32" * 16))
OPERATOR = Wallet.from_seed(generate_seed(entropy="33" * 16))
MERCHANT_TAG = 4242
DROPS = 1_000_000


@pytest.fixture
def xrpl(xrpl_fake, settings):
    node = xrpl_fake
    settings.FLUXA_CHAINS = {"xrpl": {"live": node.url}}
    settings.FLUXA_PLATFORM_ADDRESSES = {"xrpl": OPERATOR.classic_address}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"xrpl": 1}
    settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"xrpl": 0}
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = {"default": 0}
    node.fund(PAYER.classic_address, 1000 * DROPS)
    node.fund(MERCHANT.classic_address, 5 * DROPS)
    node.fund(OPERATOR.classic_address, 5 * DROPS)
    adapter = adapter_for("xrpl", "live")
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": node, "adapter": adapter, "settings": settings})
    adapter.close()



def _paid_order(chain, live_api, *, amount="25", payout=None, fund_reserve=True):
    """A live order paid on the stand-in's ledger (a signed Payment with its tag), scanned:
    (order id, the receiving account)."""
    merchant = Merchant.objects.get(pk=live_api.merchant_id)
    payout_address_set(merchant=merchant, mode="live", network="xrpl",
                       address=payout or xrpl_x_address(MERCHANT.classic_address, MERCHANT_TAG, test=False))
    created = charge(live_api, channel="xrp", currency="XRP", amount=amount)
    account, tag = created["instruction"]["deposit_address"], created["instruction"]["destination_tag"]
    if fund_reserve:  # the operator funds the receiving account's reserve and fees
        chain.node.fund(account, 2 * DROPS)
    sequence = chain.node.accounts[PAYER.classic_address]["Sequence"]
    payment = Payment(account=PAYER.classic_address, destination=account, amount=str(to_base_units(
        Decimal(amount), 6)), destination_tag=tag, sequence=sequence, fee="12")
    chain.node.submit(sign(payment, PAYER).blob())
    chain.node.close_ledger()
    network_scan(adapter=chain.adapter)
    assert order_state(created["order"]["id"]) == ("paid", "")
    return created["order"]["id"], account


def _settle(chain, rounds=8):
    """Beat passes with a ledger closing between them, until nothing moves."""
    tasks.plan_settlements()
    for _ in range(rounds):
        tasks.advance_outbounds()
        chain.node.close_ledger()
    tasks.advance_outbounds()


def _payments_to(chain, address):
    return [e for ledger in chain.node.ledgers for e in ledger.transactions
            if e["tx"].get("Destination") == address and e["tx"]["Account"] != PAYER.classic_address]


@pytest.mark.django_db
def test_a_paid_xrp_order_settles_net_and_fee_from_the_receiving_account(xrpl, live_api):
    order_id, account = _paid_order(xrpl, live_api)
    merchant_before = xrpl.node.balance(MERCHANT.classic_address)
    operator_before = xrpl.node.balance(OPERATOR.classic_address)
    _settle(xrpl)

    settlement = Settlement.objects.get(order_id=order_id)
    assert (settlement.status, settlement.amount, settlement.fee, settlement.fee_owed) == (
        "confirmed", Decimal("24.75"), Decimal("0.25"), False)
    # on the (stand-in's) ledger: exactly the net and exactly the fee arrived
    assert xrpl.node.balance(MERCHANT.classic_address) - merchant_before == 24_750_000
    assert xrpl.node.balance(OPERATOR.classic_address) - operator_before == 250_000
    [net] = _payments_to(xrpl, MERCHANT.classic_address)
    assert net["tx"]["DestinationTag"] == MERCHANT_TAG  # the X-address's tag
    assert net["tx"]["Account"] == account and net["meta"]["TransactionResult"] == "tesSUCCESS"
    assert net["tx"]["hash"] == settlement.tx_hash
    assert net["tx"]["LastLedgerSequence"] > net["tx"]["ledger_index"]
    # the receiving account kept its reserve and paid two fees
    assert xrpl.node.balance(account) == 27 * DROPS - 25 * DROPS - 2 * 10

    body = live_api.get(f"/api/v1/orders/{order_id}").body
    [shown] = body["settlements"]
    assert (shown["status"], shown["tx_hash"], shown["amount"], shown["fee"]) == (
        "confirmed", settlement.tx_hash, "24.75", "0.25")
    assert Decimal(shown["network_cost"]) == Decimal("0.00002") and shown["confirmations"] >= 1
    types = list(Event.objects.filter(type__startswith="settlement.").order_by("created_at").values_list(
        "type", flat=True))
    assert types == ["settlement.broadcast", "settlement.confirmed"]


@pytest.mark.django_db
def test_a_test_order_never_settles(xrpl, api):
    merchant = Merchant.objects.get(pk=api.merchant_id)
    payout_address_set(merchant=merchant, mode="test", network="xrpl", address=MERCHANT.classic_address)
    charge(api, channel="xrp", currency="XRP", amount="5")
    tasks.plan_settlements()
    assert not Settlement.objects.exists()


@pytest.mark.django_db
def test_below_the_reserve_the_settlement_is_held_until_the_account_is_funded(xrpl, live_api):
    """The receiving account only holds the order's 25 XRP: paying 24.75 out would leave less
    than the ledger's reserve (read from server_info; here raised to 3 XRP), so it waits."""
    xrpl.node.reserve_base = 3 * DROPS
    order_id, account = _paid_order(xrpl, live_api, fund_reserve=False)
    _settle(xrpl, rounds=2)
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "held" and "reserve of 3.000000 XRP" in settlement.reason
    assert not _payments_to(xrpl, MERCHANT.classic_address)

    xrpl.node.fund(account, 4 * DROPS)
    Outbound.objects.update(next_try_at=None)
    _settle(xrpl)
    assert Settlement.objects.get(order_id=order_id).status == "confirmed"
    assert xrpl.node.balance(account) >= 3 * DROPS


@pytest.mark.django_db
def test_replacement_after_last_ledger_sequence_keeps_the_sequence(xrpl, live_api):
    """The first Payment never gets into a ledger (the stand-in closes empty ledgers) until its
    LastLedgerSequence passed: the candidate expires, the replacement has the same Sequence and
    a later LastLedgerSequence, and only it lands. Both txids are kept."""
    order_id, account = _paid_order(xrpl, live_api)
    xrpl.node.include = False
    tasks.plan_settlements()
    tasks.advance_outbounds()
    [first] = Candidate.objects.filter(outputs__0__role="net")
    for _ in range(first.valid_until - xrpl.node.validated.index + 1):
        xrpl.node.close_ledger()
        tasks.advance_outbounds()
    xrpl.node.include = True
    _settle(xrpl)

    candidates = list(Candidate.objects.filter(outputs__0__role="net").order_by("created_at"))
    assert len(candidates) == 2
    old, new = candidates
    assert old.status == CandidateStatus.EXPIRED and new.status == CandidateStatus.MINED
    assert old.nonce == new.nonce and new.valid_until > old.valid_until and old.txid != new.txid
    assert [p["tx"]["hash"] for p in _payments_to(xrpl, MERCHANT.classic_address)] == [new.txid]
    assert Settlement.objects.get(order_id=order_id).tx_hash == new.txid


@pytest.mark.slow  # a real worker process per point
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_settlement_never_pays_twice(xrpl, live_api, point):
    order_id, _ = _paid_order(xrpl, live_api)
    tasks.plan_settlements()
    if point == "before_record":
        tasks.advance_outbounds()  # signed and submitted; the ledger holding it closes next
        xrpl.node.close_ledger()
    crash = run_killed(point)
    assert crash.killed, crash.stderr
    _settle(xrpl)
    assert len(_payments_to(xrpl, MERCHANT.classic_address)) == 1
    assert len(_payments_to(xrpl, OPERATOR.classic_address)) == 1
    assert Settlement.objects.get(order_id=order_id).status == "confirmed"


@pytest.mark.django_db
def test_a_destination_requiring_a_tag_without_one_is_refused(xrpl, live_api):
    xrpl.node.accounts[MERCHANT.classic_address]["Flags"] |= 0x00020000  # lsfRequireDestTag
    order_id, _ = _paid_order(xrpl, live_api, payout=MERCHANT.classic_address)
    _settle(xrpl, rounds=2)
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "failed" and "requires a destination tag" in settlement.reason
    assert not _payments_to(xrpl, MERCHANT.classic_address)


# -- the rules, unit by unit ----------------------------------------------------------------------

RESERVES = Reserves(base_drops=1_000_000, increment_drops=200_000, base_fee_drops=10, validated_ledger=100)


def _account(address="rAccount", balance=10 * DROPS, owners=0, flags=0):
    return AccountInfo(address=address, balance_drops=balance, sequence=5, owner_count=owners, flags=flags)


def test_the_reserve_counts_the_owner_count_and_the_fee():
    sender = _account(balance=10 * DROPS, owners=3)  # reserve 1 + 3 x 0.2 = 1.6 XRP
    prepared = Prepared(reserves=RESERVES, sender=sender, destination=_account("rDest"), fee_drops=12)
    check_payment(amount_drops=10 * DROPS - 1_600_000 - 12, tag=None, prepared=prepared, max_cost_drops=None)
    with pytest.raises(NotReady) as held:
        check_payment(amount_drops=10 * DROPS - 1_600_000 - 11, tag=None, prepared=prepared, max_cost_drops=None)
    assert held.value.hold and "reserve of 1.600000 XRP" in held.value.reason


def test_a_new_destination_needs_the_base_reserve_and_a_tag_flag_needs_a_tag():
    prepared = Prepared(reserves=RESERVES, sender=_account(), destination=None, fee_drops=12)
    with pytest.raises(CannotSend, match="below the base reserve"):
        check_payment(amount_drops=999_999, tag=None, prepared=prepared, max_cost_drops=None)
    check_payment(amount_drops=1_000_000, tag=None, prepared=prepared, max_cost_drops=None)
    tagged = Prepared(reserves=RESERVES, sender=_account(), destination=_account("rDest", flags=0x00020000),
                      fee_drops=12)
    with pytest.raises(CannotSend, match="requires a destination tag"):
        check_payment(amount_drops=DROPS, tag=None, prepared=tagged, max_cost_drops=None)
    check_payment(amount_drops=DROPS, tag=7, prepared=tagged, max_cost_drops=None)


def test_a_fee_above_the_cost_limit_holds():
    prepared = Prepared(reserves=RESERVES, sender=_account(), destination=_account("rDest"), fee_drops=5000)
    with pytest.raises(NotReady) as held:
        check_payment(amount_drops=DROPS, tag=None, prepared=prepared, max_cost_drops=1000)
    assert held.value.hold


def test_x_addresses_carry_the_tag():
    x = xrpl_x_address(MERCHANT.classic_address, 77, test=False)
    assert split_address(x) == (MERCHANT.classic_address, 77)
    assert split_address(MERCHANT.classic_address, 5) == (MERCHANT.classic_address, 5)
    with pytest.raises(CannotSend):
        split_address(x, 78)


@pytest.mark.django_db
def test_a_small_fee_or_no_operator_address_is_owed(xrpl, live_api, settings):
    settings.FLUXA_PLATFORM_ADDRESSES = {}
    order_id, account = _paid_order(xrpl, live_api)
    _settle(xrpl)
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "confirmed" and settlement.fee_owed
    owed = OwedFee.objects.get(settlement=settlement)
    assert (owed.amount, owed.held_at) == (Decimal("0.25"), account)
    assert not _payments_to(xrpl, OPERATOR.classic_address)

    family = family_for("xrpl", "live")
    plan = family.plan(settlement=Settlement(amount=Decimal("0.0999"), fee=FEE_WORTH_SENDING / 10, asset="XRP"),
                       order=None, deposit=type("D", (), {"address": account})(),
                       payout_address=MERCHANT.classic_address, payout_tag=None,
                       fee_address=OPERATOR.classic_address, fee_payer_address=account)
    assert plan.fee_owed and len(plan.outbounds) == 1 and "not worth" in plan.owed_reason


@pytest.mark.django_db
def test_signed_but_not_submitted_until_past_last_ledger_sequence_is_replaced(xrpl, live_api):
    """A worker stopped between signing and submitting while LastLedgerSequence passed: the
    node answers tefMAX_LEDGER; the candidate is expired (never in a ledger) and replaced with
    the same Sequence, not sent to review."""
    order_id, _ = _paid_order(xrpl, live_api)
    tasks.plan_settlements()
    net = Outbound.objects.get(purpose="settlement")
    assert engine.outbound_step(net.id).after == "signed"
    first = Candidate.objects.get(outbound=net)
    while xrpl.node.validated.index <= first.valid_until:
        xrpl.node.close_ledger()
    _settle(xrpl)
    old, new = Candidate.objects.filter(outbound=net).order_by("created_at")
    assert (old.status, old.sends, new.status, new.nonce) == (CandidateStatus.EXPIRED, 0, CandidateStatus.MINED,
                                                               old.nonce)
    assert Settlement.objects.get(order_id=order_id).status == "confirmed"
    assert [p["tx"]["hash"] for p in _payments_to(xrpl, MERCHANT.classic_address)] == [new.txid]
