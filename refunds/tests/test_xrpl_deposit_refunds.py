"""Deposit refunds on the XRP Ledger: live orders paid in part, canceled, quoted and refunded
through the signed API, the Payment built and signed offline by the refunds' beat job.

No rippled can run here: testing/xrpl_fake.py stands in for it (a local HTTP server answering
rippled's documented JSON-RPC shapes; it checks every signature and applies each Payment to
the accounts it keeps when its ledger closes: balance, Sequence, reserve, lsfRequireDestTag).
The balances asserted below are the stand-in's ledger after applying the signed payments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from xrpl.core.keypairs import generate_seed
from xrpl.models.transactions import Payment
from xrpl.transaction import sign
from xrpl.wallet import Wallet

from chains.adapters.registry import adapter_for
from chains.derivation import xrpl_x_address
from charges.watching import network_scan
from core.money import to_base_units
from merchants.models import Merchant
from merchants.services import payout_address_set
from orders.models import Order
from refunds.models import Refund
from refunds.tasks import advance_refunds
from settlements.models import Outbound
from testing.client import charge, order_state
from testing.crash import run_killed
from testing.xrpl_fake import LSF_REQUIRE_DEST_TAG
from webhooks.models import Event

# Test-only keys from fixed seeds: never funded on any real ledger.
PAYER = Wallet.from_seed(generate_seed(entropy="41" * 16))
MERCHANT = Wallet.from_seed(generate_seed(entropy="42" * 16))
EXCHANGE = Wallet.from_seed(generate_seed(entropy="43" * 16))  # a shared account: it requires a tag
NEWCOMER = Wallet.from_seed(generate_seed(entropy="44" * 16))  # never funded: not on the ledger
DROPS = 1_000_000
PAYER_TAG = 7


@pytest.fixture
def xrpl(xrpl_fake, settings):
    node = xrpl_fake
    settings.FLUXA_CHAINS = {"xrpl": {"live": node.url}}
    settings.FLUXA_PLATFORM_ADDRESSES = {"xrpl": MERCHANT.classic_address}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"xrpl": 1}
    settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"xrpl": 0}
    settings.FLUXA_SETTLEMENT_STUCK_SECONDS = {"default": 0}
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    node.fund(PAYER.classic_address, 1000 * DROPS)
    node.fund(MERCHANT.classic_address, 5 * DROPS)
    node.fund(EXCHANGE.classic_address, 50 * DROPS, flags=LSF_REQUIRE_DEST_TAG)
    adapter = adapter_for("xrpl", "live")
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"node": node, "adapter": adapter})
    adapter.close()


def _canceled_order(chain, api, *, paid="10", due="25", fund_reserve=True) -> tuple[str, str]:
    """A live order for `due` XRP paid in part on the stand-in's ledger (a signed Payment with
    its tag), scanned, then canceled by the merchant: (order id, the receiving account)."""
    payout_address_set(merchant=Merchant.objects.get(pk=api.merchant_id), mode="live", network="xrpl",
                       address=MERCHANT.classic_address)
    created = charge(api, channel="xrp", currency="XRP", amount=due)
    account, tag = created["instruction"]["deposit_address"], created["instruction"]["destination_tag"]
    if fund_reserve:  # the operator funds the receiving account's reserve and fees
        chain.node.fund(account, 2 * DROPS)
    sequence = chain.node.accounts[PAYER.classic_address]["Sequence"]
    payment = Payment(account=PAYER.classic_address, destination=account,
                      amount=str(to_base_units(Decimal(paid), 6)), destination_tag=tag, sequence=sequence, fee="12")
    chain.node.submit(sign(payment, PAYER).blob())
    chain.node.close_ledger()
    network_scan(adapter=chain.adapter)
    order_id = created["order"]["id"]
    assert order_state(order_id)[0] == "pending"
    response = api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"})
    assert response.status_code == 200, response.body
    return order_id, account


def _refund_until(chain, done, rounds: int = 8) -> None:
    for _ in range(rounds):
        advance_refunds()
        if done():
            return
        chain.node.close_ledger()
    raise AssertionError(f"not done after {rounds} rounds")


def _confirmed(order_id: str):
    return lambda: Refund.objects.get(order_id=order_id).status == "confirmed"


def _payments_from(chain, account: str) -> list[dict]:
    return [e for ledger in chain.node.ledgers for e in ledger.transactions if e["tx"]["Account"] == account]


def _refund_events(order_id: str) -> list[str]:
    return list(Event.objects.filter(type__startswith="refund.", data__order__id=order_id)
                .order_by("created_at", "id").values_list("type", flat=True))


@pytest.mark.django_db
def test_a_canceled_xrp_order_goes_back_in_full_to_an_x_address_with_its_tag(xrpl, live_api):
    order_id, account = _canceled_order(xrpl, live_api)
    refund_to = xrpl_x_address(PAYER.classic_address, PAYER_TAG, test=False)
    payer_before, account_before = xrpl.node.balance(PAYER.classic_address), xrpl.node.balance(account)

    quote = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={refund_to}")

    assert quote.status_code == 200, quote.body
    q = quote.body["quote"]
    # The receiving account pays the fee (as for a settlement): the payer gets it all.
    assert (q["amount"], q["net"], q["paid_by"], q["network_cost_asset"]) == ("10", "10", "operator", "XRP")
    assert Decimal(q["network_cost"]) == Decimal("0.00001")
    # The X-address is kept as the ledger shows it: the classic account and its tag.
    assert (q["refund_address"], q["destination_tag"]) == (PAYER.classic_address, PAYER_TAG)
    assert q["message"].startswith(f"10 XRP reaches {PAYER.classic_address} (destination tag {PAYER_TAG})")
    assert "E-" not in q["message"]
    assert f"sent with destination tag {PAYER_TAG}" in q["notes"]

    created = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": refund_to})
    assert created.status_code == 201, created.body
    assert created.body["refund"]["status"] == "pending" and created.body["refund"]["quoted_net"] == "10"
    assert created.body["refund"]["destination_tag"] == PAYER_TAG
    _refund_until(xrpl, _confirmed(order_id))

    # On the (stand-in's) ledger: exactly the quoted net arrived, with the X-address's tag.
    assert xrpl.node.balance(PAYER.classic_address) - payer_before == 10 * DROPS
    [sent] = _payments_from(xrpl, account)
    assert (sent["tx"]["Destination"], sent["tx"]["DestinationTag"]) == (PAYER.classic_address, PAYER_TAG)
    assert sent["meta"]["TransactionResult"] == "tesSUCCESS"
    assert account_before - xrpl.node.balance(account) == 10 * DROPS + int(sent["tx"]["Fee"])
    stored = Refund.objects.get(order_id=order_id)
    assert (stored.net, stored.network_cost, stored.tx_hash) == (Decimal(10), Decimal("0.00001"), sent["tx"]["hash"])
    assert Order.objects.get(pk=order_id).status == "refunded"
    assert _refund_events(order_id) == ["refund.created", "refund.broadcast", "refund.confirmed"]
    confirmed = Event.objects.get(type="refund.confirmed", data__order__id=order_id).data["refund"]
    assert (confirmed["net"], confirmed["tx_hash"]) == ("10", sent["tx"]["hash"])


@pytest.mark.django_db
def test_an_account_requiring_a_tag_needs_one_and_gets_it(xrpl, live_api):
    order_id, account = _canceled_order(xrpl, live_api, paid="3")
    exchange = EXCHANGE.classic_address
    before = xrpl.node.balance(exchange)

    untagged = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": exchange})
    assert (untagged.status_code, untagged.error_code) == (422, "invalid_address")
    assert untagged.body["error"]["param"] == "refund_address"
    assert "requires a destination tag" in untagged.body["error"]["message"]
    assert not Refund.objects.filter(order_id=order_id).exists()

    tagged = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": exchange, "destination_tag": 991})
    assert tagged.status_code == 201, tagged.body
    assert tagged.body["refund"]["destination_tag"] == 991
    _refund_until(xrpl, _confirmed(order_id))
    assert xrpl.node.balance(exchange) - before == 3 * DROPS
    [sent] = _payments_from(xrpl, account)
    assert sent["tx"]["DestinationTag"] == 991


@pytest.mark.django_db
def test_the_reserves_and_wrong_addresses_are_refused(xrpl, live_api):
    order_id, account = _canceled_order(xrpl, live_api, paid="0.5")

    def refused(address: str, extra: str = ""):
        answer = live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={address}{extra}")
        assert answer.status_code == 422, answer.body
        return answer.error_code, answer.body["error"]["message"]

    # A payment creating an account must carry the base reserve (1 XRP here, from server_info).
    code, message = refused(NEWCOMER.classic_address)
    assert code == "below_reserve" and "0.5 XRP is below the base reserve of 1 XRP" in message
    # Addresses of another network, of the test network, fluxa's own account.
    assert refused("TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL")[0] == "invalid_address"
    assert refused(xrpl_x_address(PAYER.classic_address, 5, test=True))[0] == "invalid_address"
    code, message = refused(xrpl_x_address(account, 12345, test=False))
    assert code == "invalid_address" and "own receiving account" in message
    # An X-address whose tag is not the destination_tag given with it.
    code, _ = refused(xrpl_x_address(PAYER.classic_address, 5, test=False), "&destination_tag=6")
    assert code == "invalid_address"
    # To an existing account, half an XRP goes through.
    assert live_api.get(f"/api/v1/orders/{order_id}/refund_quote?refund_address={PAYER.classic_address}"
                        ).status_code == 200
    assert not Refund.objects.filter(order_id=order_id).exists()


@pytest.mark.django_db
def test_a_refund_the_receiving_account_cannot_pay_above_its_reserve_is_refused(xrpl, live_api):
    """The receiving account holds only the order's 10 XRP and its reserve is raised to 3 XRP
    (read from server_info): sending the 10 back would take it below, so the quote refuses
    until the operator funds the account."""
    xrpl.node.reserve_base = 3 * DROPS
    order_id, account = _canceled_order(xrpl, live_api, fund_reserve=False)

    answer = live_api.post(f"/api/v1/orders/{order_id}/refund", {"refund_address": PAYER.classic_address})

    assert (answer.status_code, answer.error_code) == (422, "below_reserve")
    assert "below its reserve of 3 XRP (it holds 10 XRP)" in answer.body["error"]["message"]
    xrpl.node.fund(account, 4 * DROPS)
    assert live_api.post(f"/api/v1/orders/{order_id}/refund",
                         {"refund_address": PAYER.classic_address}).status_code == 201
    _refund_until(xrpl, _confirmed(order_id))
    assert xrpl.node.balance(account) >= 3 * DROPS


@pytest.mark.slow  # a real worker process per point
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", ["after_sign", "after_send", "before_record"])
def test_a_worker_killed_mid_refund_never_pays_twice(xrpl, live_api, point):
    order_id, account = _canceled_order(xrpl, live_api)
    payer_before = xrpl.node.balance(PAYER.classic_address)
    assert live_api.post(f"/api/v1/orders/{order_id}/refund",
                         {"refund_address": PAYER.classic_address}).status_code == 201
    if point == "before_record":
        advance_refunds()  # signed and submitted; the ledger holding it closes next
        xrpl.node.close_ledger()

    killed = run_killed(point, purposes=["refund"])

    assert killed.killed, killed.stderr[-3000:]
    outbound = Outbound.objects.get(refund_legs__refund__order_id=order_id)
    assert outbound.status == {"after_sign": "signed", "after_send": "signed", "before_record": "broadcast"}[point]
    _refund_until(xrpl, _confirmed(order_id))  # the restart

    assert len(_payments_from(xrpl, account)) == 1  # one Payment, whatever was killed
    assert xrpl.node.balance(PAYER.classic_address) - payer_before == 10 * DROPS
    assert Order.objects.get(pk=order_id).status == "refunded"
