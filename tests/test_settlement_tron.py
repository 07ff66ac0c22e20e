"""Tron settlements end to end. No java-tron node can run here: testing/tron_fake.py stands in
for it (a local HTTP server answering the full node's documented /wallet/... shapes), keeping
TRX balances, activation, free bandwidth, energy burnt up to the fee_limit and TRC-20 token
balances (see its docstring). Every transaction fluxa sends is built offline here as the real
Transaction.raw protobuf, its txID the SHA-256 of those bytes, signed with the wallet root's
secp256k1 key; the stand-in checks the txID, that the protobuf decodes to the JSON sent with
it, the signature, the reference block and the expiration. Balances asserted below are the
stand-in's after executing those signed transactions."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from eth_account import Account

from chains.adapters.registry import adapter_for
from chains.adapters.tron import NowBlock, TronAccount
from chains.encoding import tron_address_from_hex, tron_address_to_hex
from chains.signing import tron as signing
from charges.models import Channel
from charges.watching import network_scan
from merchants.models import Merchant
from merchants.services import payout_address_set
from settlements import engine, feepayer, keys, tasks
from settlements.families import family_for
from settlements.families.base import CannotSend, NotReady
from settlements.families.tron import (
    ENERGY_TO_EMPTY,
    ENERGY_TO_HOLDER,
    MIN_TOPUP,
    TRX_TRANSFER_BYTES,
    Prepared,
    TronFamily,
    trc20_fee_limit,
    trx_transfer_cost,
)
from settlements.models import Candidate, CandidateStatus, Outbound, OwedFee, Settlement
from testing.client import charge_to_pay, order_state
from testing.crash import run_killed
from testing.tron_fake import sign_transaction, trc20_transfer, tron_hex
from wallets.services import wallet_root_ensure
from webhooks.models import Event

# Test-only keys: never funded on any real chain.
PAYER, MERCHANT, OPERATOR = (Account.from_key(bytes([n]) * 32) for n in (0x41, 0x42, 0x43))
SUN = 1_000_000
PARAMS = {"getEnergyFee": 420, "getTransactionFee": 1000, "getCreateAccountFee": 100_000,
          "getCreateNewAccountFeeInSystemContract": 1_000_000}


def _b58(account) -> str:
    return tron_address_from_hex(tron_hex(account))


@pytest.fixture
def tron(tron_fake, settings):
    node = tron_fake
    wallet_root_ensure()  # the fee payer's key comes from the root (as a charge would set it up)
    token = node.deploy_trc20(tron_hex(PAYER), 10**15)
    Channel.objects.filter(code__in=["usdt_trc20", "trx"]).update(required_confirmations=2)
    Channel.objects.filter(code="usdt_trc20").update(token_contract=tron_address_from_hex(token))
    settings.FLUXA_CHAINS = {"tron": {"live": node.url}}
    settings.FLUXA_PLATFORM_ADDRESSES = {"tron": _b58(OPERATOR)}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"tron": 2}
    settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"tron": 0}
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = {"default": 0}
    node.fund(tron_hex(PAYER), 100_000 * SUN)
    node.fund(tron_hex(OPERATOR), 1 * SUN)  # activated
    node.produce_blocks(1)
    adapter = adapter_for("tron", "live")
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": node, "adapter": adapter, "token": token, "settings": settings})
    adapter.close()



def _pay_trx(chain, address: str, sun: int) -> str:
    """A real TRX payment from PAYER, built and signed offline like fluxa's own."""
    head = chain.node.head
    now = head["block_header"]["raw_data"]
    raw = signing.raw_data(contract=signing.transfer_contract(owner=_b58(PAYER), to=address, amount_sun=sun),
                           ref_block=signing.RefBlock(number=now["number"], block_id=head["blockID"]),
                           expiration_ms=now["timestamp"] + 60_000, timestamp_ms=now["timestamp"])
    return chain.node.broadcast(signing.sign(raw, PAYER.key).broadcast_body())


def _paid_order(chain, live_api, *, channel="trx", currency="TRX", amount="100", activate_merchant=True):
    payout_address_set(merchant=Merchant.objects.get(pk=live_api.merchant_id), mode="live", network="tron",
                       address=_b58(MERCHANT))
    if activate_merchant:
        chain.node.fund(tron_hex(MERCHANT), 1 * SUN)
    order_id, address = charge_to_pay(live_api, channel=channel, currency=currency, amount=amount)
    units = int(Decimal(amount) * SUN)
    if channel == "trx":
        _pay_trx(chain, address, units)
    else:
        tx = trc20_transfer(tron_hex(PAYER), chain.token, tron_address_to_hex(address), units,
                            ref_block=chain.node.head)
        chain.node.broadcast(sign_transaction(tx, PAYER.key))
    chain.node.produce_blocks(2)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    return order_id, address


def _settle(chain, rounds=14):
    tasks.plan_settlements()
    for _ in range(rounds):
        tasks.advance_outbounds()
        chain.node.produce_blocks(1)
    tasks.advance_outbounds()


def _sent_by(chain, address: str) -> list[dict]:
    owner = tron_address_to_hex(address)
    return [tx for block in chain.node.blocks for tx in block.get("transactions", [])
            if tx["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"] == owner]


def _paid_deposit(order_id: str) -> str:
    return Outbound.objects.filter(legs__settlement__order_id=order_id, purpose="settlement").first().sender.address


@pytest.mark.django_db
def test_a_paid_usdt_order_is_topped_up_then_settles_net_and_fee(tron, live_api):
    fee_payer = keys.fee_payer_address(network="tron", mode="live")
    tron.node.fund(fee_payer, 500 * SUN)
    order_id, deposit = _paid_order(tron, live_api, channel="usdt_trc20", currency="USDT", amount="1000")
    assert tron.node.balance(deposit) == 0 and tron_address_to_hex(deposit) not in tron.node.accounts  # not activated
    _settle(tron)

    settlement = Settlement.objects.get(order_id=order_id)
    assert (settlement.status, settlement.amount, settlement.fee, settlement.fee_owed) == (
        "confirmed", Decimal("990"), Decimal("10"), False)
    assert tron.node.token_balance(tron.token, _b58(MERCHANT)) == 990 * SUN
    assert tron.node.token_balance(tron.token, _b58(OPERATOR)) == 10 * SUN
    assert tron.node.token_balance(tron.token, deposit) == 0
    # the top-up covered both transfers' fee_limit (the recipients held none: ENERGY_TO_EMPTY) and bytes
    [topup] = _sent_by(tron, fee_payer)
    assert topup["raw_data"]["contract"][0]["parameter"]["value"]["amount"] == 2 * (
        trc20_fee_limit(recipient_holds=False, params=PARAMS) + 360 * 1000)
    assert [t["ret"][0]["contractRet"] for t in _sent_by(tron, deposit)] == ["SUCCESS", "SUCCESS"]
    assert all(t["raw_data"]["fee_limit"] == ENERGY_TO_EMPTY * 420 for t in _sent_by(tron, deposit))
    # the fee payer paid the top-up and the deposit's activation (1.1 TRX, read from the chain)
    assert tron.node.balance(fee_payer) == 500 * SUN - topup["raw_data"]["contract"][0]["parameter"]["value"][
        "amount"] - 1_100_000

    body = live_api.get(f"/api/v1/orders/{order_id}").body
    [shown] = body["settlements"]
    assert (shown["status"], shown["amount"], shown["fee"], shown["tx_hash"]) == (
        "confirmed", "990", "10", settlement.tx_hash)
    assert shown["confirmations"] >= 2 and Decimal(shown["network_cost"]) > 0
    assert list(Event.objects.filter(type__startswith="settlement.").order_by("created_at").values_list(
        "type", flat=True)) == ["settlement.broadcast", "settlement.confirmed"]


@pytest.mark.django_db
def test_a_paid_trx_order_settles_net_and_fee_exactly(tron, live_api):
    order_id, deposit = _paid_order(tron, live_api)
    merchant_before, operator_before = tron.node.balance(_b58(MERCHANT)), tron.node.balance(_b58(OPERATOR))
    _settle(tron, rounds=8)
    settlement = Settlement.objects.get(order_id=order_id)
    assert (settlement.status, settlement.amount, settlement.fee) == ("confirmed", Decimal("99"), Decimal("1"))
    # activated recipients, the deposit's free bandwidth: nothing burnt, the exact net and fee
    assert tron.node.balance(_b58(MERCHANT)) - merchant_before == 99 * SUN
    assert tron.node.balance(_b58(OPERATOR)) - operator_before == 1 * SUN
    assert tron.node.balance(deposit) == 0
    assert Decimal(live_api.get(f"/api/v1/orders/{order_id}").body["settlements"][0]["network_cost"]) == 0


@pytest.mark.django_db
def test_an_unactivated_merchant_address_costs_the_activation_out_of_the_net(tron, live_api):
    order_id, _ = _paid_order(tron, live_api, activate_merchant=False)
    _settle(tron, rounds=8)
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "confirmed"
    assert tron.node.balance(_b58(MERCHANT)) == 99 * SUN - 1_100_000  # 1 TRX + 0.1 TRX burnt activating it
    net = Outbound.objects.get(purpose="settlement")
    assert net.paid_outputs[0]["amount"] == "97.900000" and net.network_cost == Decimal("1.1")


@pytest.mark.django_db
def test_replacement_only_after_the_expiration_passed(tron, live_api):
    """The first transaction expires before any block takes it (the stand-in's clock jumps past
    its expiration and drops it): the reconciler sees it expired and unknown, builds the same
    payment on a fresh reference block, and only that one lands. Both txids are kept."""
    order_id, _ = _paid_order(tron, live_api)
    tasks.plan_settlements()
    tasks.advance_outbounds()
    [first] = Candidate.objects.filter(outputs__0__role="net")
    tasks.advance_outbounds()  # still inside its expiration: not replaced
    assert Candidate.objects.filter(outputs__0__role="net").count() == 1
    tron.node.advance_time(61_000)
    tron.node.produce_blocks(1)  # past the expiration: the node drops it
    _settle(tron, rounds=8)

    old, new = Candidate.objects.filter(outputs__0__role="net").order_by("created_at")
    assert old.txid == first.txid and old.status == CandidateStatus.EXPIRED and new.status == CandidateStatus.MINED
    assert new.valid_until > old.valid_until and new.fee_fields["ref_block"] > old.fee_fields["ref_block"]
    assert len([t for t in _sent_by(tron, _paid_deposit(order_id)) if t["raw_data"]["contract"][0]["parameter"][
        "value"]["to_address"] == tron_hex(MERCHANT)]) == 1
    assert Settlement.objects.get(order_id=order_id).tx_hash == new.txid


@pytest.mark.slow  # a real worker process per point
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_settlement_never_pays_twice(tron, live_api, point):
    order_id, deposit = _paid_order(tron, live_api)
    tasks.plan_settlements()
    if point == "before_record":
        tasks.advance_outbounds()
        tron.node.produce_blocks(1)
    crash = run_killed(point)
    assert crash.killed, crash.stderr
    _settle(tron, rounds=8)
    sent = _sent_by(tron, deposit)
    assert sorted(t["raw_data"]["contract"][0]["parameter"]["value"]["to_address"] for t in sent) == sorted(
        [tron_hex(MERCHANT), tron_hex(OPERATOR)])
    assert Settlement.objects.get(order_id=order_id).status == "confirmed"


@pytest.mark.django_db
def test_a_token_transfer_costing_more_than_the_limit_is_held_before_the_top_up(tron, live_api, settings):
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"tron": {"max": "20"}}  # a transfer to an empty holder: 55 TRX
    tron.node.fund(keys.fee_payer_address(network="tron", mode="live"), 500 * SUN)
    order_id, _ = _paid_order(tron, live_api, channel="usdt_trc20", currency="USDT", amount="1000")
    _settle(tron, rounds=3)
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "held" and "above the limit" in settlement.reason
    assert not _sent_by(tron, keys.fee_payer_address(network="tron", mode="live"))  # no TRX was spent


@pytest.mark.django_db
def test_a_small_token_fee_is_owed(tron, live_api):
    tron.node.fund(keys.fee_payer_address(network="tron", mode="live"), 500 * SUN)
    order_id, deposit = _paid_order(tron, live_api, channel="usdt_trc20", currency="USDT", amount="100")
    _settle(tron)
    settlement = Settlement.objects.get(order_id=order_id)
    assert settlement.status == "confirmed" and settlement.fee_owed
    assert OwedFee.objects.get(settlement=settlement).amount == Decimal("1") and \
        OwedFee.objects.get(settlement=settlement).held_at == deposit
    assert tron.node.token_balance(tron.token, _b58(MERCHANT)) == 99 * SUN
    assert tron.node.token_balance(tron.token, deposit) == 1 * SUN  # the owed fee stays on the deposit


# -- the rules, unit by unit ----------------------------------------------------------------------

def _account(free=600, balance=0):
    return TronAccount(address="T", balance_sun=balance, free_bandwidth=free, bandwidth=0, energy=0)


def test_trx_costs_bandwidth_only_past_the_free_bytes_and_activation_for_a_new_recipient():
    assert trx_transfer_cost(sender=_account(free=600), recipient_exists=True, params=PARAMS) == 0
    assert trx_transfer_cost(sender=_account(free=TRX_TRANSFER_BYTES - 1), recipient_exists=True,
                             params=PARAMS) == TRX_TRANSFER_BYTES * 1000
    assert trx_transfer_cost(sender=_account(free=600), recipient_exists=False, params=PARAMS) == 1_100_000
    assert trx_transfer_cost(sender=_account(free=600), recipient_exists=False,
                             params={**PARAMS, "getCreateNewAccountFeeInSystemContract": 2_000_000}) == 2_100_000


def test_a_token_transfer_to_an_empty_holder_gets_the_larger_fee_limit():
    assert trc20_fee_limit(recipient_holds=True, params=PARAMS) == ENERGY_TO_HOLDER * 420
    assert trc20_fee_limit(recipient_holds=False, params=PARAMS) == ENERGY_TO_EMPTY * 420
    assert trc20_fee_limit(recipient_holds=False, params={"getEnergyFee": 210}) == ENERGY_TO_EMPTY * 210


@pytest.mark.django_db
def test_the_top_up_sends_what_is_missing_and_at_least_the_minimum(tron, live_api):
    fee_payer = keys.fee_payer_address(network="tron", mode="live")
    tron.node.fund(fee_payer, 500 * SUN)
    _paid_order(tron, live_api, channel="usdt_trc20", currency="USDT", amount="1000")
    tasks.plan_settlements()
    topup = Outbound.objects.get(purpose="topup")
    family = family_for("tron", "live")
    need = 2 * (ENERGY_TO_EMPTY * 420 + 360 * 1000)
    assert family.prepare(topup).topup_sun == need
    deposit = topup.outputs[0]["address"]
    tron.node.fund(deposit, need - 5 * SUN)
    assert family.prepare(topup).topup_sun == 5 * SUN
    tron.node.fund(deposit, 10 * SUN)
    assert family.prepare(topup).topup_sun == int(MIN_TOPUP * SUN)


def test_the_encoding_matches_a_node_built_transaction():
    """A TransferContract the java-tron node built (its raw_data and raw_data_hex, public
    example): the same fields encode to the same bytes and decode back."""
    raw = signing.raw_data(
        contract=signing.transfer_contract(owner="TUoHaVjx7n5xz8LwPRDckgFrDWhMhuSuJM",
                                           to="TUznHJfHe6gdYY7gvWmf6bNZHuPHDZtowf", amount_sun=1_000_000),
        ref_block=signing.RefBlock(number=0xCBC3, block_id="00" * 8 + "8581ae7e29258a52" + "00" * 16),
        expiration_ms=1656917577000, timestamp_ms=1656917518232)
    assert raw.hex() == (
        "0a02cbc322088581ae7e29258a5240a89aefbf9c305a67080112630a2d747970652e676f6f676c65617069732e636f6d2f70726f74"
        "6f636f6c2e5472616e73666572436f6e747261637412320a1541ce8a0cf0c16d48bcf22825f6053248df653c89ca121541d0b69631"
        "440f0a494bb51f7eee68ff5c593c00f018c0843d7098cfebbf9c30")
    assert signing.decode_raw(raw)["contract"][0]["parameter"]["value"] == {
        "amount": 1_000_000, "owner_address": "41ce8a0cf0c16d48bcf22825f6053248df653c89ca",
        "to_address": "41d0b69631440f0a494bb51f7eee68ff5c593c00f0"}
    signed = signing.sign(raw, bytes([7]) * 32)
    assert signed.txid == signing.txid(raw) and signing.decode_signed(signed.encoded) == signed
    assert signing.signer_of(signed) == "41" + Account.from_key(bytes([7]) * 32).address[2:].lower()


@pytest.mark.django_db
def test_signed_but_not_sent_until_past_its_expiration_is_replaced(tron, live_api):
    """A worker stopped between signing and broadcasting for longer than the expiration: the
    node refuses the stored bytes (TRANSACTION_EXPIRATION_ERROR); the outbound is not sent to
    review but replaced on a fresh reference block, and the merchant is paid once."""
    order_id, deposit = _paid_order(tron, live_api)
    tasks.plan_settlements()
    net = Outbound.objects.get(purpose="settlement")
    assert engine.outbound_step(net.id).after == "signed"
    tron.node.advance_time(61_000)
    tron.node.produce_blocks(1)
    _settle(tron, rounds=8)
    old, new = Candidate.objects.filter(outbound=net).order_by("created_at")
    assert (old.status, old.sends, new.status) == (CandidateStatus.EXPIRED, 0, CandidateStatus.MINED)
    assert Settlement.objects.get(order_id=order_id).status == "confirmed"
    assert len(_sent_by(tron, deposit)) == 2  # the net once, the fee once


@pytest.mark.django_db
def test_a_reorg_of_the_settlement_block_resends_the_same_transaction(tron, live_api):
    """The block holding the net transfer is dropped (the stand-in undoes what it changed):
    the outbound goes back to broadcast, the same signed bytes are sent again and confirm in
    another block; the merchant is paid once, by the one candidate."""
    order_id, deposit = _paid_order(tron, live_api)
    merchant_before = tron.node.balance(_b58(MERCHANT))
    tasks.plan_settlements()
    tasks.advance_outbounds()  # signed and broadcast
    [block] = tron.node.produce_blocks(1)
    tasks.advance_outbounds()
    net = Outbound.objects.get(purpose="settlement")
    assert (net.status, net.block_hash) == ("confirming", block["blockID"])
    assert tron.node.balance(_b58(MERCHANT)) - merchant_before == 99 * SUN

    tron.node.fork(block["block_header"]["raw_data"]["number"] - 1)
    assert tron.node.balance(_b58(MERCHANT)) == merchant_before  # the payment is gone with its block
    tasks.advance_outbounds()
    net.refresh_from_db()
    assert net.status == "broadcast" and net.block_hash == ""
    _settle(tron, rounds=8)
    net.refresh_from_db()
    [candidate] = net.candidates.all()
    assert net.status == "confirmed" and net.txid == candidate.txid and net.block_hash != block["blockID"]
    assert candidate.sends >= 2
    assert tron.node.balance(_b58(MERCHANT)) - merchant_before == 99 * SUN
    assert Settlement.objects.get(order_id=order_id).status == "confirmed"


@pytest.mark.django_db
def test_the_fee_payer_balance_is_read_from_the_chain(tron):
    tron.node.fund(keys.fee_payer_address(network="tron", mode="live"), 150 * SUN)
    entry = feepayer.fee_payers()["tron"]
    assert (entry["address"], Decimal(entry["balance"]), entry["low"]) == (
        keys.fee_payer_address(network="tron", mode="live"), Decimal(150), True)  # below the 200 TRX notice


def _outbound(amount="1", purpose="settlement", max_cost=None, to=None):
    return SimpleNamespace(outputs=[{"address": to or _b58(MERCHANT), "amount": amount, "role": "net", "tag": None}],
                           sender=SimpleNamespace(address=_b58(PAYER)), purpose=purpose, token="",
                           max_network_cost=max_cost)


def _prepared(*, balance=10 * SUN, free=600, recipient_exists=True, topup_sun=None):
    return Prepared(now=NowBlock(number=5, block_id="00" * 32, timestamp_ms=0), params=PARAMS,
                    sender=_account(free=free, balance=balance), recipient_exists=recipient_exists,
                    topup_sun=topup_sun)


def test_a_trx_transfer_smaller_than_its_network_cost_is_never_sent():
    family = TronFamily(network="tron", mode="live")
    with pytest.raises(CannotSend, match="takes all of"):
        family._compose(_outbound("1.1"), _prepared(recipient_exists=False))
    _, outputs, _, cost = family._compose(_outbound("1.2"), _prepared(recipient_exists=False))
    assert (outputs[0]["amount"], cost) == ("0.100000", 1_100_000)


def test_a_short_fee_payer_or_a_cost_above_the_limit_holds():
    family = TronFamily(network="tron", mode="live")
    with pytest.raises(NotReady) as short:
        family._compose(_outbound(purpose="topup"), _prepared(balance=5 * SUN, topup_sun=5 * SUN,
                                                             recipient_exists=False))
    assert short.value.hold and "fund it" in short.value.reason
    with pytest.raises(NotReady) as costly:
        family._compose(_outbound("5", max_cost=Decimal("0.1")), _prepared(free=0))
    assert costly.value.hold and "above the limit" in costly.value.reason
