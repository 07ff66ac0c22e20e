"""Deposit refunds on Tron: live TRX and TRC-20 USDT orders paid in part, canceled, quoted and
refunded through the signed API, every transaction built and signed offline by the refunds'
beat job.

No java-tron node can run here: testing/tron_fake.py stands in for it (a local HTTP server
answering the full node's documented /wallet/... shapes; it checks each transaction's txID
against its protobuf, the signature, the reference block and the expiration, and executes it
against the accounts it keeps: TRX, activation, free bandwidth, energy, TRC-20 balances). The
balances asserted below are the stand-in's after executing those signed transactions."""

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
from orders.models import Order
from refunds.models import Refund
from refunds.tasks import advance_refunds
from settlements import keys
from settlements.families.base import NotReady
from settlements.families.tron import Prepared, TronFamily
from settlements.models import Outbound
from testing.client import charge_to_pay, order_state
from testing.crash import run_killed
from testing.tron_fake import FREE_BANDWIDTH, sign_transaction, trc20_transfer, tron_hex
from wallets.services import wallet_root_ensure
from webhooks.models import Event

# Test-only keys: never funded on any real chain.
PAYER, MERCHANT, REFUNDEE, NEWCOMER = (Account.from_key(bytes([n]) * 32) for n in (0x51, 0x52, 0x53, 0x54))
SUN = 1_000_000


def _b58(account) -> str:
    return tron_address_from_hex(tron_hex(account))


@pytest.fixture
def tron(tron_fake, settings):
    node = tron_fake
    wallet_root_ensure()  # the fee payer's key comes from the root
    token = node.deploy_trc20(tron_hex(PAYER), 10**15)
    Channel.objects.filter(code__in=["usdt_trc20", "trx"]).update(required_confirmations=2)
    Channel.objects.filter(code="usdt_trc20").update(token_contract=tron_address_from_hex(token))
    settings.FLUXA_CHAINS = {"tron": {"live": node.url}}
    settings.FLUXA_PLATFORM_ADDRESSES = {"tron": _b58(MERCHANT)}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"tron": 2}
    settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"tron": 0}
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = {"default": 0}
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    node.fund(tron_hex(PAYER), 100_000 * SUN)
    node.fund(tron_hex(MERCHANT), 1 * SUN)
    node.fund(tron_hex(REFUNDEE), 1 * SUN)  # activated; NEWCOMER never is
    node.produce_blocks(1)
    adapter = adapter_for("tron", "live")
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": node, "adapter": adapter, "token": token})
    adapter.close()


def _pay_trx(chain, address: str, sun: int) -> None:
    """A real TRX payment from PAYER, built and signed offline like fluxa's own."""
    head = chain.node.head
    now = head["block_header"]["raw_data"]
    raw = signing.raw_data(contract=signing.transfer_contract(owner=_b58(PAYER), to=address, amount_sun=sun),
                           ref_block=signing.RefBlock(number=now["number"], block_id=head["blockID"]),
                           expiration_ms=now["timestamp"] + 60_000, timestamp_ms=now["timestamp"])
    chain.node.broadcast(signing.sign(raw, PAYER.key).broadcast_body())


def _canceled_order(chain, api, *, paid: str, due: str = "100", usdt: bool = False) -> tuple[str, str]:
    """A live order for `due` paid in part (`paid` TRX, or USDT), confirmed, scanned, then
    canceled by the merchant: (order id, deposit address)."""
    payout_address_set(merchant=Merchant.objects.get(pk=api.merchant_id), mode="live", network="tron",
                       address=_b58(MERCHANT))
    channel, currency = ("usdt_trc20", "USDT") if usdt else ("trx", "TRX")
    order_id, address = charge_to_pay(api, channel=channel, currency=currency, amount=due)
    units = int(Decimal(paid) * SUN)
    if usdt:
        tx = trc20_transfer(tron_hex(PAYER), chain.token, tron_address_to_hex(address), units,
                            ref_block=chain.node.head)
        chain.node.broadcast(sign_transaction(tx, PAYER.key))
    else:
        _pay_trx(chain, address, units)
    chain.node.produce_blocks(2)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id)[0] == "pending"
    response = api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"})
    assert response.status_code == 200, response.body
    return order_id, address


def _refund_until(chain, done, rounds: int = 14) -> None:
    for _ in range(rounds):
        advance_refunds()
        if done():
            return
        chain.node.produce_blocks(1)
    raise AssertionError(f"not done after {rounds} rounds")


def _confirmed(order_id: str):
    return lambda: Refund.objects.get(order_id=order_id).status == "confirmed"


def _sent_by(chain, address: str) -> list[dict]:
    owner = tron_address_to_hex(address)
    return [tx for block in chain.node.blocks for tx in block.get("transactions", [])
            if tx["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"] == owner]


def _refund_events(order_id: str) -> list[str]:
    return list(Event.objects.filter(type__startswith="refund.", data__order__id=order_id)
                .order_by("created_at", "id").values_list("type", flat=True))


@pytest.mark.django_db
def test_a_trx_refund_to_an_address_not_activated_pays_its_activation_out_of_the_refund(tron, live_api):
    order_id, deposit = _canceled_order(tron, live_api, paid="40")
    newcomer = _b58(NEWCOMER)
    assert tron_hex(NEWCOMER) not in tron.node.accounts

    quote = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={newcomer}")

    assert quote.status_code == 200, quote.body
    q = quote.body["quote"]
    # the deposit's free bandwidth covers the bytes; activating the address burns 1.1 TRX (chain parameters)
    assert (q["amount"], q["net"], q["network_cost"], q["paid_by"]) == ("40", "38.9", "1.1", "payer")
    assert q["message"] == (f"38.9 TRX reaches {newcomer}: 40 TRX leaves the deposit address, less 1.1 TRX of "
                            "network cost.")
    assert any("not activated yet" in note for note in q["notes"])

    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": newcomer})
    assert created.status_code == 201, created.body
    _refund_until(tron, _confirmed(order_id))

    # On the (stand-in's) chain: the address exists now and holds exactly the quoted net.
    assert tron.node.balance(newcomer) == int(Decimal(q["net"]) * SUN)
    assert tron.node.balance(deposit) == 0
    [sent] = _sent_by(tron, deposit)
    assert sent["ret"][0]["contractRet"] == "SUCCESS"
    stored = Refund.objects.get(order_id=order_id)
    assert (stored.net, stored.network_cost, stored.tx_hash) == (Decimal("38.9"), Decimal("1.1"), sent["txID"])
    assert Order.objects.get(pk=order_id).status == "refunded"
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
    confirmed = Event.objects.get(type="refund.confirmed", data__order__id=order_id).data["refund"]
    assert (confirmed["net"], confirmed["tx_hash"]) == ("38.9", sent["txID"])


@pytest.mark.django_db
def test_without_free_bandwidth_the_trx_refund_pays_its_bytes_and_keeps_to_the_quote(tron, live_api):
    order_id, deposit = _canceled_order(tron, live_api, paid="40")
    tron.node.accounts[tron_address_to_hex(deposit)]["net_used"] = FREE_BANDWIDTH  # used up today
    refundee = _b58(REFUNDEE)
    before = tron.node.balance(refundee)

    q = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={refundee}").body["quote"]
    # 300 bytes (the family's bound for a signed TransferContract) x getTransactionFee 1000 sun
    assert (q["net"], q["network_cost"], q["paid_by"]) == ("39.7", "0.3", "payer")
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": refundee}).status_code == 201
    _refund_until(tron, _confirmed(order_id))

    assert tron.node.balance(refundee) - before == int(Decimal("39.7") * SUN)  # exactly the quoted net
    [sent] = _sent_by(tron, deposit)
    burnt = tron.node.info[sent["txID"]]["fee"]
    assert 0 < burnt <= 300_000
    assert tron.node.balance(deposit) == 300_000 - burnt  # what the bytes did not burn stays on the deposit


@pytest.mark.django_db
def test_a_canceled_usdt_order_is_refunded_in_full_with_the_fee_payers_top_up(tron, live_api):
    fee_payer = keys.fee_payer_address(network="tron", mode="live")
    tron.node.fund(fee_payer, 500 * SUN)
    order_id, deposit = _canceled_order(tron, live_api, paid="4", due="25", usdt=True)
    refundee = _b58(REFUNDEE)

    q = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={refundee}").body["quote"]
    assert (q["amount"], q["net"], q["paid_by"], q["network_cost_asset"]) == ("4", "4", "operator", "TRX")
    assert q["message"].startswith(f"4 USDT reaches {refundee}; the network cost, about ")
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": refundee}).status_code == 201
    _refund_until(tron, _confirmed(order_id))

    assert tron.node.token_balance(tron.token, refundee) == 4 * SUN
    assert tron.node.token_balance(tron.token, deposit) == 0
    assert tron.node.balance(fee_payer) < 500 * SUN  # the operator paid the energy and the activation
    purposes = sorted(Outbound.objects.filter(refund_legs__refund__order_id=order_id).values_list("purpose",
                                                                                                   flat=True))
    assert purposes == ["refund", "topup"]
    [transfer] = _sent_by(tron, deposit)
    assert transfer["ret"][0]["contractRet"] == "SUCCESS"
    assert Refund.objects.get(order_id=order_id).net == Decimal(4)
    assert Order.objects.get(pk=order_id).status == "refunded"
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]


@pytest.mark.django_db
def test_refusals_name_the_rule(tron, live_api, settings):
    order_id, _ = _canceled_order(tron, live_api, paid="1")
    token_id, _ = _canceled_order(tron, live_api, paid="4", due="25", usdt=True)

    def quote(order: str, address: str, extra: str = ""):
        return live_api.get(f"/api/v1/orders/{order}/refund_quote?refund_address={address}{extra}")

    small = quote(order_id, _b58(NEWCOMER))
    assert (small.status_code, small.error_code) == (422, "below_network_cost")
    assert "1 TRX does not cover the network cost of sending it (1.1 TRX)" in small.body["error"]["message"]
    assert "not activated yet" in small.body["error"]["message"]
    assert quote(order_id, _b58(REFUNDEE)).status_code == 200  # activated: nothing to pay for 1 TRX
    for wrong in ("0x52908400098527886E0F7030069857D2E4169EE7", "rPEPPER7kfTD9w2To4CQk6UCfuHM9c6GDY",
                  _b58(REFUNDEE)[:-1] + ("A" if _b58(REFUNDEE)[-1] != "A" else "B")):
        answer = quote(order_id, wrong)
        assert (answer.status_code, answer.error_code, answer.body["error"]["param"]) == (
            422, "invalid_address", "refund_address"), wrong
    tagged = quote(order_id, _b58(REFUNDEE), "&destination_tag=5")
    assert (tagged.status_code, tagged.error_code) == (400, "invalid_destination_tag")

    settings.FLUXA_SETTLEMENT_COST_LIMITS = {"tron": {"max": "20"}}  # a token transfer may burn ~55 TRX
    costly = quote(token_id, _b58(REFUNDEE))
    assert (costly.status_code, costly.error_code) == (422, "network_cost_too_high")
    assert "above the limit 20 TRX" in costly.body["error"]["message"]
    assert not Refund.objects.exists()


@pytest.mark.slow  # a real worker process per point
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_refund_never_sends_twice(tron, live_api, point):
    order_id, deposit = _canceled_order(tron, live_api, paid="40")
    refundee = _b58(REFUNDEE)
    before = tron.node.balance(refundee)
    assert live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": refundee}).status_code == 201
    if point == "before_record":
        advance_refunds()  # signed and broadcast; the block holding it comes next
        tron.node.produce_blocks(1)

    killed = run_killed(point, purposes=["refund"])

    assert killed.killed, killed.stderr[-3000:]
    outbound = Outbound.objects.get(refund_legs__refund__order_id=order_id)
    assert outbound.status == {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    _refund_until(tron, _confirmed(order_id))  # the restart

    assert len(_sent_by(tron, deposit)) == 1  # one transfer, whatever was killed
    assert tron.node.balance(refundee) - before == 40 * SUN
    assert Order.objects.get(pk=order_id).status == "refunded"


# -- the build keeps to the quote, unit by unit ---------------------------------------------------

PARAMS = {"getEnergyFee": 420, "getTransactionFee": 1000, "getCreateAccountFee": 100_000,
          "getCreateNewAccountFeeInSystemContract": 1_000_000}


def _refund_outbound(gross: str, quoted: str):
    return SimpleNamespace(outputs=[{"address": _b58(REFUNDEE), "amount": gross, "role": "net", "tag": None}],
                           sender=SimpleNamespace(address=_b58(PAYER)), purpose="refund", token="",
                           max_network_cost=Decimal(quoted))


def _prepared(*, free: int = 600, recipient_exists: bool = True):
    return Prepared(now=NowBlock(number=5, block_id="00" * 32, timestamp_ms=0), params=PARAMS,
                    sender=TronAccount(address="T", balance_sun=50 * SUN, free_bandwidth=free, bandwidth=0, energy=0),
                    recipient_exists=recipient_exists)


def test_a_trx_refund_sends_the_amount_less_exactly_the_quoted_cost():
    family = TronFamily(network="tron", mode="live")
    # Quoted with the activation; the address was activated since: still exactly the quoted net
    # (the 1.1 TRX not burnt stays on the deposit).
    _, outputs, _, cost = family._compose(_refund_outbound("40", "1.1"), _prepared(recipient_exists=True))
    assert (outputs[0]["amount"], cost) == ("38.900000", 0)
    _, outputs, _, cost = family._compose(_refund_outbound("40", "1.1"), _prepared(recipient_exists=False))
    assert (outputs[0]["amount"], cost) == ("38.900000", 1_100_000)
    # Quoted on free bandwidth, used up now: it waits (held) rather than send less than quoted.
    with pytest.raises(NotReady) as held:
        family._compose(_refund_outbound("40", "0"), _prepared(free=0))
    assert held.value.hold and "more than the refund's quote (0 TRX)" in held.value.reason
