"""EVM settlements end to end on the session's anvil: live orders paid for real, settled by
the beat jobs (plan_settlements, advance_outbounds), checked on the chain itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order
from settlements.models import Candidate, Outbound, OwedFee, Settlement
from settlements.tasks import advance_outbounds, plan_settlements
from testing.client import charge, charge_to_pay, order_state, simulate_payment
from testing.evm_settlements import WEI, evm, new_address, payout_address  # noqa: F401  (evm: the fixture)
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def _settlement(order_id: str) -> Settlement | None:
    return Settlement.objects.filter(order_id=order_id).first()


def _confirmed(order_id: str):
    return lambda: (s := _settlement(order_id)) is not None and s.status == "confirmed"


def _events(settlement_id: str) -> list[str]:
    return list(Event.objects.filter(type__startswith="settlement.", data__settlement__id=settlement_id)
                .order_by("created_at").values_list("type", flat=True))


def test_an_ether_order_settles_the_net_to_the_merchant_and_the_fee_to_the_operator(evm, live_api, merchant_keys):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    order = Order.objects.get(pk=order_id)
    assert order.fee_amount > 0
    start_nonce, start_balance = evm.nonce(deposit), evm.balance(deposit)

    evm.settle_until(_confirmed(order_id))

    settlement = _settlement(order_id)
    fee_wei = int(order.fee_amount * WEI)
    # On the chain itself: the merchant holds exactly the net, the operator exactly the fee.
    assert evm.balance(evm.operator) == fee_wei
    assert evm.balance(merchant_payout) == int(settlement.amount * WEI)
    assert evm.nonce(deposit) - start_nonce == 2  # the net, then the fee: two transfers, nothing more
    net = Outbound.objects.get(legs__settlement=settlement, legs__role="net")
    fee = Outbound.objects.get(legs__settlement=settlement, legs__role="fee")
    assert (net.nonce, fee.nonce) == (start_nonce, start_nonce + 1)
    # The merchant's net is the payment minus the fee minus the gas of both transfers (at their caps).
    spent = net.network_cost + fee.network_cost
    assert settlement.network_cost == spent
    assert Decimal("0.05") - order.fee_amount - settlement.amount >= spent
    left = evm.balance(deposit) - start_balance + int(Decimal("0.05") * WEI)
    # what the caps did not use stays on the deposit address
    assert left == int(Decimal("0.05") * WEI) - int(settlement.amount * WEI) - fee_wei - int(spent * WEI)
    assert settlement.tx_hash == net.txid and settlement.network_cost_asset == "ETH"

    body = live_api.get(f"/api/v1/orders/{order_id}").body
    shown = body["settlements"][0]
    assert shown["id"] == settlement.id and shown["status"] == "confirmed"
    assert shown["tx_hash"] == net.txid and shown["to_address"].lower() == merchant_payout
    assert Decimal(shown["network_cost"]) == spent and shown["confirmations"] >= 2
    assert Decimal(shown["amount"]) == settlement.amount
    assert _events(settlement.id) == ["settlement.broadcast", "settlement.confirmed"]


def test_a_token_order_gets_a_gas_top_up_then_the_net_and_the_fee_in_tokens(evm, live_api, merchant_keys):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, usdt="25")
    order = Order.objects.get(pk=order_id)
    fee_payer_before = evm.balance(evm.fee_payer)
    start_nonce, start_balance = evm.nonce(deposit), evm.balance(deposit)

    evm.settle_until(_confirmed(order_id))

    settlement = _settlement(order_id)
    assert evm.token_balance(merchant_payout) == int((Decimal("25") - order.fee_amount) * 10**6)
    assert evm.token_balance(evm.operator) == int(order.fee_amount * 10**6)
    assert evm.token_balance(deposit) == 0
    assert settlement.amount == Decimal("25") - order.fee_amount
    topup = Outbound.objects.get(legs__settlement=settlement, legs__role="topup")
    net = Outbound.objects.get(legs__settlement=settlement, legs__role="net")
    fee = Outbound.objects.get(legs__settlement=settlement, legs__role="fee")
    assert topup.sender.address.lower() == evm.fee_payer.lower() and topup.sender.role == "fee_payer"
    assert (net.nonce, fee.nonce) == (start_nonce, start_nonce + 1) and evm.nonce(deposit) == start_nonce + 2
    assert net.signed_at > topup.confirmed_at  # the token transfers were built after the top-up's receipt
    topped = int(Decimal(topup.paid_outputs[0]["amount"]) * WEI)
    assert topped > 0
    assert fee_payer_before - evm.balance(evm.fee_payer) == topped + int(topup.network_cost * WEI)
    assert evm.balance(deposit) - start_balance == topped - int((net.network_cost + fee.network_cost) * WEI)
    assert settlement.network_cost == topup.network_cost + net.network_cost + fee.network_cost
    assert _events(settlement.id) == ["settlement.broadcast", "settlement.confirmed"]


def test_a_token_deposit_that_already_holds_the_gas_gets_no_top_up(evm, live_api, merchant_keys):
    payout_address(merchant_keys.merchant, new_address())
    order_id, deposit = evm.paid_order(live_api, usdt="25")
    evm.send_eth(deposit, WEI // 100)  # 0.01 ETH: far more than two token transfers cost here
    fee_payer_nonce = evm.nonce(evm.fee_payer)
    start_nonce = evm.nonce(deposit)

    evm.settle_until(_confirmed(order_id))

    settlement = _settlement(order_id)
    topup = Outbound.objects.get(legs__settlement=settlement, legs__role="topup")
    assert topup.status == "confirmed" and not topup.candidates.exists() and topup.network_cost == 0
    assert evm.nonce(evm.fee_payer) == fee_payer_nonce  # the fee payer sent nothing
    assert evm.nonce(deposit) == start_nonce + 2


def test_a_fee_below_twice_the_least_a_transfer_costs_is_owed_and_stays_on_the_deposit(evm, live_api,
                                                                                      merchant_keys, settings):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    fee = Order.objects.get(pk=order_id).fee_amount
    start_nonce, start_balance = evm.nonce(deposit), evm.balance(deposit)
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"min": str(fee / 2 + Decimal("0.000001"))}}

    evm.settle_until(_confirmed(order_id))

    settlement = _settlement(order_id)
    assert settlement.fee_owed is True
    owed = OwedFee.objects.get(settlement=settlement)
    assert owed.amount == fee and owed.held_at.lower() == deposit.lower() and "below 2 x" in owed.reason
    assert not Outbound.objects.filter(legs__settlement=settlement, legs__role="fee").exists()
    assert evm.balance(evm.operator) == 0
    assert evm.nonce(deposit) == start_nonce + 1
    # The fee stays on the deposit address for the operator to collect (with what the cap did not use).
    assert evm.balance(deposit) - (start_balance - int(Decimal("0.05") * WEI)) >= int(fee * WEI)
    assert evm.balance(merchant_payout) == int(settlement.amount * WEI)


def test_a_network_cost_above_the_limit_holds_the_settlement(evm, live_api, merchant_keys, settings):
    payout_address(merchant_keys.merchant, new_address())
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"ethereum": {"max": "0.000000001"}}  # 1 gwei for a whole transfer
    order_id, deposit = evm.paid_order(live_api, eth="0.05")
    start_nonce = evm.nonce(deposit)

    plan_settlements()
    advance_outbounds()

    settlement = _settlement(order_id)
    assert settlement.status == "held" and "above the limit" in settlement.reason
    assert not Candidate.objects.filter(outbound__legs__settlement=settlement).exists()
    assert evm.nonce(deposit) == start_nonce


def test_a_test_order_never_settles(evm, api, merchant_keys):
    order_id = charge(api, channel="eth", currency="ETH", amount="0.05")["order"]["id"]
    assert simulate_payment(api, order_id).status_code == 201
    assert Order.objects.get(pk=order_id).status == "paid"
    plan_settlements()
    advance_outbounds()
    assert not Settlement.objects.filter(order_id=order_id).exists()


def test_an_overpayment_settles_the_amount_due_and_leaves_the_excess_on_the_deposit(evm, live_api, merchant_keys):
    merchant_payout = new_address()
    payout_address(merchant_keys.merchant, merchant_payout)
    order_id, deposit = charge_to_pay(live_api, channel="eth", currency="ETH", amount="0.05")
    evm.send_eth(deposit, 6 * WEI // 100)  # 0.06 ETH for a 0.05 ETH order
    evm.mine(1)
    evm.scan()
    assert order_state(order_id) == ("paid", "overpaid")
    before = evm.balance(deposit)

    evm.settle_until(_confirmed(order_id))

    settlement = _settlement(order_id)
    assert settlement.gross == Decimal("0.05")
    assert evm.balance(merchant_payout) == int(settlement.amount * WEI)
    assert evm.balance(evm.operator) == int(settlement.fee * WEI)
    kept = evm.balance(deposit) - (before - 6 * WEI // 100)
    assert kept >= WEI // 100  # the payer's 0.01 ETH excess (for a deposit refund), plus the caps' gap


# A contract wallet whose receive code stores the value it got (an SSTORE: ~22,000 gas on top of
# the transfer): init code returning the runtime CALLVALUE PUSH1 0 SSTORE STOP.
WALLET_INIT = "0x643460005500600052600560" + "1bf3"


def test_a_contract_wallet_payout_gets_the_gas_its_receive_code_needs(evm, live_api, merchant_keys):
    receipt = evm.deploy(WALLET_INIT)
    wallet = receipt.contractAddress.lower()
    payout_address(merchant_keys.merchant, wallet)
    order_id, deposit = evm.paid_order(live_api, eth="0.05")

    evm.settle_until(_confirmed(order_id))

    settlement = _settlement(order_id)
    assert evm.balance(wallet) == int(settlement.amount * WEI)
    net = Outbound.objects.get(legs__settlement=settlement, legs__role="net")
    used = evm.w3.eth.get_transaction_receipt(net.txid).gasUsed
    assert used > 21_000 and net.candidates.get().fee_fields["gas"] >= used
