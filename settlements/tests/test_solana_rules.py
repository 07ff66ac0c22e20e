"""The Solana settlement rules (settlements/families/solana.py), pure: what one sweep moves from
the planned outputs and what the node showed. The same rules run end to end on LiteSVM in
tests/test_settlement_solana.py."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from settlements.families.base import CannotSend, NotReady
from settlements.families.solana import Decision, Facts, SolanaFamily, check_costs, decide

RENT = 890_880
TOKEN_RENT = 2_039_280
DEPOSIT, MERCHANT, PLATFORM, FEE_PAYER = "Dep1111", "Mer1111", "Pla1111", "Fee1111"


def outbound(*outputs, token="", decimals=6, max_cost=None):
    return SimpleNamespace(
        token=token, max_network_cost=max_cost, sender=SimpleNamespace(address=DEPOSIT),
        outputs=[{"address": a, "amount": str(amount), "role": role, "tag": None} for a, amount, role in outputs],
        sources=[{"role": "fee_payer", "address": FEE_PAYER, "decimals": decimals}])


def facts(**kw):
    base = dict(blockhash="h", valid_until=150, fee_payer=FEE_PAYER, fee_payer_lamports=10**9, rent_minimum=RENT,
                token_account_rent=TOKEN_RENT)
    return Facts(**{**base, **kw})


def sol_facts(balance, *, exists=(MERCHANT, PLATFORM), **kw):
    return facts(deposit_lamports=balance, recipient_exists={a: a in exists for a in (MERCHANT, PLATFORM)}, **kw)


# -- SOL ----------------------------------------------------------------------------------------

def test_the_deposit_is_emptied_net_and_fee_in_one_decision():
    d = decide(outbound((MERCHANT, Decimal("0.495"), "net"), (PLATFORM, Decimal("0.005"), "fee")),
               sol_facts(500_000_000, exists=()))
    assert d.transfers == [(MERCHANT, 495_000_000, "net"), (PLATFORM, 5_000_000, "fee")]


def test_a_new_recipient_below_the_rent_exempt_minimum_holds_the_settlement():
    planned = outbound((MERCHANT, Decimal("0.0008"), "net"), (PLATFORM, Decimal("0.0002"), "fee"))
    with pytest.raises(NotReady) as held:
        decide(planned, sol_facts(1_000_000, exists=(PLATFORM,)))
    assert held.value.hold and "merchant's payout address" in held.value.reason and "890880" in held.value.reason
    # The same amounts to accounts that exist go through: only a new account needs the minimum.
    assert decide(planned, sol_facts(1_000_000)).transfers == [(MERCHANT, 800_000, "net"), (PLATFORM, 200_000, "fee")]


def test_a_fee_below_the_minimum_to_a_platform_address_that_does_not_exist_holds_too():
    planned = outbound((MERCHANT, Decimal("0.0495"), "net"), (PLATFORM, Decimal("0.0005"), "fee"))
    with pytest.raises(NotReady) as held:
        decide(planned, sol_facts(50_000_000, exists=(MERCHANT,)))
    assert held.value.hold and "platform address" in held.value.reason


def test_at_the_minimum_exactly_a_new_account_is_fine():
    planned = outbound((MERCHANT, Decimal("0.00089088"), "net"))
    assert decide(planned, sol_facts(RENT, exists=())).transfers == [(MERCHANT, RENT, "net")]


def test_a_rest_below_the_minimum_goes_with_the_net_a_larger_one_stays():
    planned = outbound((MERCHANT, Decimal("0.495"), "net"), (PLATFORM, Decimal("0.005"), "fee"))
    small = decide(planned, sol_facts(500_000_000 + 1_000))
    assert small.transfers[0] == (MERCHANT, 495_001_000, "net")
    large = decide(planned, sol_facts(500_000_000 + RENT))
    assert large.transfers[0] == (MERCHANT, 495_000_000, "net")  # the overpayment stays, a valid account


def test_a_deposit_short_of_the_settlement_waits_without_a_hold():
    with pytest.raises(NotReady) as waiting:
        decide(outbound((MERCHANT, Decimal("0.5"), "net")), sol_facts(400_000_000))
    assert not waiting.value.hold


def test_nothing_to_move_cannot_be_sent():
    with pytest.raises(CannotSend):
        decide(outbound((MERCHANT, Decimal("0"), "net")), sol_facts(0))


def test_a_zero_net_is_left_out():
    d = decide(outbound((MERCHANT, Decimal("0"), "net"), (PLATFORM, Decimal("0.01"), "fee")), sol_facts(10_000_000))
    assert d.transfers == [(PLATFORM, 10_000_000, "fee")]


# -- SPL ----------------------------------------------------------------------------------------

def spl_facts(balance, *, existing=(), decimals=6, **kw):
    return facts(token_balance=balance, token_decimals=decimals,
                 token_account_exists={o: o in existing for o in (MERCHANT, PLATFORM)}, **kw)


def test_a_token_sweep_creates_the_missing_token_accounts_and_closes_the_deposits():
    planned = outbound((MERCHANT, Decimal("24.75"), "net"), (PLATFORM, Decimal("0.25"), "fee"), token="Mint")
    d = decide(planned, spl_facts(25_000_000, existing=(PLATFORM,)))
    assert d.transfers == [(MERCHANT, 24_750_000, "net"), (PLATFORM, 250_000, "fee")]
    assert (d.create_for, d.close, d.rent_paid, d.rent_reclaimed) == ([MERCHANT], True, TOKEN_RENT, TOKEN_RENT)


def test_an_overpaid_token_account_is_left_open_with_the_rest():
    planned = outbound((MERCHANT, Decimal("24.75"), "net"), (PLATFORM, Decimal("0.25"), "fee"), token="Mint")
    d = decide(planned, spl_facts(30_000_000, existing=(MERCHANT, PLATFORM)))
    assert (d.create_for, d.close, d.rent_paid, d.rent_reclaimed) == ([], False, 0, 0)


def test_a_mint_with_other_decimals_than_the_channel_cannot_be_sent():
    planned = outbound((MERCHANT, Decimal("25"), "net"), token="Mint", decimals=6)
    with pytest.raises(CannotSend):
        decide(planned, spl_facts(25_000_000_000, decimals=9))


def test_no_deposit_token_account_waits():
    with pytest.raises(NotReady):
        decide(outbound((MERCHANT, Decimal("25"), "net"), token="Mint"), spl_facts(None))


# -- costs --------------------------------------------------------------------------------------

def test_a_fee_payer_that_cannot_pay_and_stay_rent_exempt_holds():
    planned = outbound((MERCHANT, Decimal("25"), "net"), token="Mint")
    decision = Decision(transfers=[(MERCHANT, 25_000_000, "net")], create_for=[MERCHANT], rent_paid=TOKEN_RENT)
    enough = 10_000 + TOKEN_RENT + RENT
    check_costs(planned, facts(fee_payer_lamports=enough), decision, 10_000)
    with pytest.raises(NotReady) as held:
        check_costs(planned, facts(fee_payer_lamports=enough - 1), decision, 10_000)
    assert held.value.hold and "fee payer" in held.value.reason


def test_a_network_cost_above_the_limit_holds():
    decision = Decision(transfers=[(MERCHANT, 1, "net")])
    check_costs(outbound((MERCHANT, 1, "net"), max_cost=Decimal("0.00001")), facts(), decision, 10_000)
    with pytest.raises(NotReady) as held:
        check_costs(outbound((MERCHANT, 1, "net"), max_cost=Decimal("0.000009")), facts(), decision, 10_000)
    assert held.value.hold and "above the limit" in held.value.reason


# -- planning -----------------------------------------------------------------------------------

def plan(*, token="", fee=Decimal("0.005"), fee_address: str | None = PLATFORM):
    channel = SimpleNamespace(code="usdc_sol" if token else "sol", is_token=bool(token),
                              asset_decimals=6 if token else 9,
                              token_contract_for=lambda mode: token)
    order = SimpleNamespace(channel=channel, mode="live", asset="USDC" if token else "SOL")
    settlement = SimpleNamespace(amount=Decimal("0.495"), fee=fee)
    return SolanaFamily(network="solana", mode="live").plan(
        settlement=settlement, order=order, deposit=SimpleNamespace(address=DEPOSIT, derivation_index=7),
        payout_address=MERCHANT, payout_tag=None, fee_address=fee_address, fee_payer_address=FEE_PAYER)


def test_one_outbound_from_the_deposit_carries_net_and_fee(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"solana": {"max": "0.01"}}
    p = plan()
    [spec] = p.outbounds
    assert (spec.sender_address, spec.sender_index, spec.leg_role, spec.max_network_cost) == (
        DEPOSIT, 7, "net", Decimal("0.01"))
    assert [(o.address, o.role) for o in spec.outputs] == [(MERCHANT, "net"), (PLATFORM, "fee")]
    assert spec.sources == [{"role": "fee_payer", "address": FEE_PAYER, "decimals": 9}] and not p.fee_owed


def test_without_a_platform_address_a_sol_fee_is_owed_at_the_fee_payer_and_a_token_fee_on_the_deposit():
    sol = plan(fee_address=None)
    assert sol.fee_owed and sol.owed_held_at == FEE_PAYER
    assert [(o.address, o.role) for o in sol.outbounds[0].outputs] == [(MERCHANT, "net"), (FEE_PAYER, "fee")]
    token = plan(token="Mint", fee_address=None)
    assert token.fee_owed and token.owed_held_at == ""  # services: held at the deposit address
    assert [o.role for o in token.outbounds[0].outputs] == ["net"]


def test_no_fee_no_fee_output():
    p = plan(fee=Decimal(0))
    assert [o.role for o in p.outbounds[0].outputs] == ["net"] and not p.fee_owed
