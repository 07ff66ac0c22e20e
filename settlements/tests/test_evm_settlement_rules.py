"""The EVM family's rules one by one, without a node: what a plan asks for (fee leg, owed fee,
top-up), what a build pays (balance minus gas and what later transfers keep), the cost limit,
and the replacement's bump. The signing is real (an anvil dev key); prepared node reads are
given as values."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from eth_account import Account

from chains.adapters.evm import FeeData
from chains.derivation import SigningKey
from chains.signing.evm import bumped, decode
from settlements.families.base import NotReady
from settlements.families.evm import EvmFamily, Prepared
from testing.anvil import DEV_PRIVATE_KEYS

KEY = DEV_PRIVATE_KEYS[3]
SENDER = Account.from_key(KEY).address.lower()
MERCHANT, OPERATOR, FEE_PAYER = ("0x" + c * 40 for c in "abc")
GWEI = 10**9


def _signer(account):
    return SigningKey(network="ethereum", mode="live", index=0, path="m/test", address=SENDER, curve="secp256k1",
                      public_key=b"", secret=bytes.fromhex(KEY[2:]))


def _family():
    return EvmFamily(network="ethereum", mode="live")


def _plan(*, fee="0.0005", gross="0.05", token="", fee_address=OPERATOR):
    channel = SimpleNamespace(is_token=bool(token), token_contract_for=lambda mode: token, code="x")
    order = SimpleNamespace(channel=channel, asset="USDT" if token else "ETH")
    settlement = SimpleNamespace(fee=Decimal(fee), gross=Decimal(gross))
    deposit = SimpleNamespace(address=SENDER, derivation_index=4)
    return _family().plan(settlement=settlement, order=order, deposit=deposit, payout_address=MERCHANT,
                          payout_tag=None, fee_address=fee_address, fee_payer_address=FEE_PAYER)


def test_a_native_plan_sends_the_rest_then_the_fee_after_it(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    plan = _plan()
    net, fee = plan.outbounds
    assert (net.outputs[0].amount, net.outputs[0].address, net.leg_role) == (Decimal("0.0495"), MERCHANT, "net")
    assert (fee.outputs[0].amount, fee.outputs[0].address, fee.after) == (Decimal("0.0005"), OPERATOR, 0)
    assert net.sender_address == fee.sender_address == SENDER and net.sender_index == 4
    assert not plan.fee_owed and plan.fee == Decimal("0.0005")


def test_a_native_fee_below_twice_the_least_a_transfer_costs_is_owed(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"min": "0.00025"}}
    assert not _plan(fee="0.0005").fee_owed  # exactly twice: sent
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"min": "0.00026"}}
    plan = _plan(fee="0.0005")
    assert plan.fee_owed and "below 2 x" in plan.owed_reason
    assert [o.leg_role for o in plan.outbounds] == ["net"]


def test_no_platform_address_makes_the_fee_owed_and_a_zero_fee_sends_nothing(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    plan = _plan(fee_address=None)
    assert plan.fee_owed and "no platform address" in plan.owed_reason and len(plan.outbounds) == 1
    plan = _plan(fee="0")
    assert not plan.fee_owed and len(plan.outbounds) == 1


def test_a_token_plan_tops_up_from_the_fee_payer_first(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"max": "0.01", "min": "1"}}
    token = "0x" + "d" * 40
    topup, net, fee = _plan(token=token, gross="25", fee="0.25").outbounds
    assert (topup.sender_address, topup.sender_role, topup.purpose) == (FEE_PAYER, "fee_payer", "topup")
    assert topup.outputs[0].address == SENDER and topup.asset == "ETH" and topup.token == ""
    assert (net.after, fee.after) == (0, 0) and net.token == fee.token == token
    assert net.outputs[0].amount == Decimal("24.75") and fee.outputs[0].amount == Decimal("0.25")
    assert net.max_network_cost == Decimal("0.01")  # the fee is never judged against gas for tokens


NET = 495 * 10**14  # 0.0495 ETH: a 0.05 ETH payment less a 0.0005 fee
FEE = 5 * 10**14


def _outbound(amount="0.0495", role="net", token="", purpose="settlement"):
    return SimpleNamespace(id="otx_x", token=token, purpose=purpose, sender=SimpleNamespace(address=SENDER),
                           outputs=[{"address": MERCHANT, "amount": amount, "role": role, "tag": None}])


def _fee_leg():
    return _outbound(amount="0.0005", role="fee", purpose="fee")


def _prepared(**kw):
    base = {"fee": FeeData(base_fee=10 * GWEI, priority_fee=GWEI), "max_fee": 21 * GWEI, "priority": GWEI,
            "balance": 5 * 10**16, "gas": 21_000, "to": MERCHANT, "value": NET, "later_value": FEE}
    return Prepared(**{**base, **kw})


def test_the_native_net_pays_its_gas_and_the_fee_legs_gas_out_of_gross_less_fee(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    keep = 21_000 * 21 * GWEI  # the fee leg's gas at this cap
    built = _family().build(_outbound(), _prepared(keep=keep, balance=6 * 10**16), nonce=3, signer=_signer)
    cost = 21_000 * 21 * GWEI
    tx = decode(built.raw)
    # 0.06 ETH on the address (0.01 paid above the amount due): that excess stays, with the fee.
    assert tx["value"] == NET - keep - cost and tx["nonce"] == 3 and tx["to"] == MERCHANT
    assert built.network_cost == Decimal(cost) / 10**18 and built.fee_fields["keep"] == keep
    assert Decimal(built.outputs[0]["amount"]) == Decimal(tx["value"]) / 10**18


def test_a_cost_above_the_maximum_holds_and_a_balance_below_the_gas_waits(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"max": "0.0004"}}  # 21,000 x 21 gwei = 0.000441
    with pytest.raises(NotReady) as held:
        _family().build(_outbound(), _prepared(), nonce=0, signer=_signer)
    assert held.value.hold and "above the limit" in held.value.reason
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    with pytest.raises(NotReady) as short:  # a net that does not cover the gas waits for cheaper gas
        _family().build(_outbound(amount="0.000441"), _prepared(value=21_000 * 21 * GWEI), nonce=0, signer=_signer)
    assert short.value.hold and "does not cover" in short.value.reason
    with pytest.raises(NotReady) as missing:  # the address holds less than planned
        _family().build(_outbound(), _prepared(balance=NET), nonce=0, signer=_signer)
    assert "less than" in missing.value.reason


def test_the_fee_leg_pays_exactly_the_fee_and_lowers_its_cap_to_what_the_address_holds(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    fee_wei = 5 * 10**14
    holds = fee_wei + 21_000 * 15 * GWEI  # gas for 15 gwei, not the 21 gwei cap
    built = _family().build(_fee_leg(), _prepared(balance=holds, value=fee_wei, later_value=0), nonce=1,
                            signer=_signer)
    tx = decode(built.raw)
    assert tx["value"] == fee_wei and tx["max_fee_per_gas"] == 15 * GWEI
    with pytest.raises(NotReady):  # not even the base fee: it waits
        _family().build(_fee_leg(), _prepared(balance=fee_wei + 21_000 * 10 * GWEI, value=fee_wei), nonce=1,
                        signer=_signer)


def test_a_replacement_bumps_both_fee_fields_by_an_eighth_at_the_same_nonce(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    family = _family()
    first = family.build(_outbound(), _prepared(keep=0), nonce=5, signer=_signer)
    candidate = SimpleNamespace(nonce=5, fee_fields=first.fee_fields, outputs=first.outputs)
    second = family.replacement(_outbound(), candidate, _prepared(), signer=_signer, stuck_seconds=999)
    one, two = decode(first.raw), decode(second.raw)
    assert two["nonce"] == 5 and two["max_fee_per_gas"] == bumped(one["max_fee_per_gas"])
    assert two["max_priority_fee_per_gas"] == bumped(one["max_priority_fee_per_gas"])
    assert two["value"] == one["value"] - 21_000 * (two["max_fee_per_gas"] - one["max_fee_per_gas"])
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"max": str(Decimal(21_000 * 22 * GWEI) / 10**18)}}
    assert family.replacement(_outbound(), candidate, _prepared(), signer=_signer, stuck_seconds=999) is None
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    fee_leg = family.build(_fee_leg(), _prepared(balance=5 * 10**14 + 21_000 * 21 * GWEI,
                                                 value=5 * 10**14), nonce=6, signer=_signer)
    stuck_fee = SimpleNamespace(nonce=6, fee_fields=fee_leg.fee_fields, outputs=fee_leg.outputs)
    assert family.replacement(_fee_leg(), stuck_fee,
                              _prepared(balance=5 * 10**14 + 21_000 * 21 * GWEI, value=5 * 10**14),
                              signer=_signer, stuck_seconds=999) is None  # it cannot pay the higher gas


def test_a_top_up_pays_its_computed_amount_and_a_replacement_keeps_it(settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    family = _family()
    topup = SimpleNamespace(id="otx_t", token="", purpose="topup", sender=SimpleNamespace(address=SENDER),
                            outputs=[{"address": MERCHANT, "amount": "gas", "role": "topup", "tag": None}])
    first = family.build(topup, _prepared(value=10**15, later_value=0, balance=10**18), nonce=9, signer=_signer)
    assert decode(first.raw)["value"] == 10**15 and first.outputs[0]["amount"] == "0.001000000000000000"
    candidate = SimpleNamespace(nonce=9, fee_fields=first.fee_fields, outputs=first.outputs)
    # gas rose meanwhile, so a fresh computation would top up more: the replacement keeps its amount
    second = family.replacement(topup, candidate, _prepared(value=3 * 10**15, balance=10**18), signer=_signer,
                                stuck_seconds=999)
    assert decode(second.raw)["value"] == 10**15 and decode(second.raw)["nonce"] == 9
