"""POST /api/v1/charges and GET /api/v1/channels through signed HTTP requests: what a charge
answers, how it is routed and priced, and what it refuses."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chains.addresses import validate_address
from charges.models import Channel
from charges.rates import ExchangeRate
from orders.models import Order, OrderEvent, Payment
from testing.client import clients_like, post_charge, run_concurrently

pytestmark = pytest.mark.django_db

ORDER_FIELDS = {
    "id": str, "merchant_order_id": str, "channel_code": str, "channel_name": str, "settlement_mode": str,
    "amount": str, "refunded_amount": str, "currency": str, "status": str, "is_test": bool,
    "subject": str, "description": str, "metadata": dict, "expires_at": str, "paid_at": type(None),
    "created_at": str,
}
INSTRUCTION_FIELDS = {"type": str, "deposit_address": str, "amount_due": str, "chain": str, "asset": str,
                           "required_confirmations": int, "expires_at": str, "payment_uri": str, "qr_url": str}


def test_channels_lists_the_catalogue(api):
    response = api.get("/api/v1/channels")

    assert response.status_code == 200
    codes = {c["code"] for c in response.body["data"]}
    assert codes >= {"usdt_trc20", "trx", "usdt_erc20", "usdc_erc20", "eth", "usdc_base", "eth_base", "usdt_bsc",
                     "bnb", "usdc_polygon", "usdc_arbitrum", "btc", "ltc", "sol", "usdc_sol", "xrp"}
    usdt = next(c for c in response.body["data"] if c["code"] == "usdt_trc20")
    assert usdt == {
        "code": "usdt_trc20", "name": "USDT (TRC-20)", "network": "tron", "asset": "USDT", "asset_decimals": 6,
        "token_contract": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "settlement_mode": "direct",
        "required_confirmations": 19, "min_amount": "1", "max_amount": "1000000", "enabled": True,
    }


def test_channels_hides_disabled_ones(api):
    Channel.objects.filter(code="trx").update(enabled=False)

    codes = {c["code"] for c in api.get("/api/v1/channels").body["data"]}

    assert "trx" not in codes and "usdt_trc20" in codes


def test_create_charge_answers_order_payment_and_instruction(api, merchant_keys):
    response = post_charge(api, merchant_order_id="order-1002", amount="100", subject="Pro plan",
                           metadata={"user_id": "u_42"})

    assert response.status_code == 201
    body = response.body
    assert set(body) == {"order", "payment", "instruction", "idempotent"}
    assert body["idempotent"] is False
    order = body["order"]
    for name, kind in ORDER_FIELDS.items():
        assert isinstance(order[name], kind), name
    assert order["id"].startswith("ord_")
    assert order["merchant_order_id"] == "order-1002"
    assert order["channel_code"] == "usdt_trc20" and order["channel_name"] == "USDT (TRC-20)"
    assert order["settlement_mode"] == "direct"
    assert Decimal(order["amount"]) == Decimal("100") and Decimal(order["refunded_amount"]) == 0
    assert order["currency"] == "USDT" and order["status"] == "created" and order["is_test"] is True
    assert order["subject"] == "Pro plan" and order["metadata"] == {"user_id": "u_42"}

    payment = body["payment"]
    assert payment["id"].startswith("pay_") and payment["order_id"] == order["id"]
    assert payment["status"] == "initiated"
    assert Decimal(payment["amount"]) == 100 and payment["currency"] == "USDT"

    instruction = body["instruction"]
    for name, kind in INSTRUCTION_FIELDS.items():
        assert isinstance(instruction[name], kind), name
    assert instruction["type"] == "crypto_address"
    assert instruction["chain"] == "usdt_trc20" and instruction["asset"] == "USDT"
    assert Decimal(instruction["amount_due"]) == 100
    assert instruction["required_confirmations"] == 19
    assert validate_address(network="tron", mode="test", address=instruction["deposit_address"])
    assert instruction["payment_uri"] == (
        f"tron:{instruction['deposit_address']}?amount=100&token=TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")

    stored = Order.objects.get(pk=order["id"])
    assert stored.merchant == merchant_keys.merchant and stored.mode == "test"
    assert list(OrderEvent.objects.filter(order=stored).values_list("to_status", flat=True)) == ["created"]


def test_qr_url_is_served_by_fluxa_and_decodes_to_the_payment_uri(api):
    import zxingcpp
    from PIL import Image

    instruction = post_charge(api).body["instruction"]
    assert instruction["qr_url"].startswith("http://testserver/")

    image = api.client.get(instruction["qr_url"].removeprefix("http://testserver"))

    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert "max-age" in image["Cache-Control"]
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.content)))
    assert [d.text for d in decoded] == [instruction["payment_uri"]]


def test_channel_wins_over_network(api):
    response = post_charge(api, channel="usdc_base", network="tron", currency="USDC")

    assert response.status_code == 201
    assert response.body["order"]["channel_code"] == "usdc_base"
    assert response.body["instruction"]["payment_uri"].startswith("ethereum:0x036CbD53842c5426634e7929541eC2318f3dCF7e@84532/transfer?address=")


def test_channel_or_network_required(api):
    response = post_charge(api, network=None)

    assert response.status_code == 400
    assert response.error_code == "channel_or_network_required"


def test_no_route(api):
    response = post_charge(api, currency="BTC", network="tron")

    assert response.status_code == 422
    assert response.error_code == "no_route"


def test_unknown_network_is_no_route(api):
    assert post_charge(api, network="dogechain").error_code == "no_route"


def test_reused_merchant_order_id_returns_the_existing_order(api):
    first = post_charge(api, merchant_order_id="order-1002")
    again = post_charge(api, merchant_order_id="order-1002")

    assert again.status_code == 200
    assert again.body["idempotent"] is True
    assert again.body["order"]["id"] == first.body["order"]["id"]
    assert again.body["instruction"]["deposit_address"] == first.body["instruction"]["deposit_address"]
    assert Order.objects.count() == 1


def test_reused_merchant_order_id_with_other_parameters_is_a_conflict(api):
    post_charge(api, merchant_order_id="order-1002", amount="100")

    response = post_charge(api, merchant_order_id="order-1002", amount="101")

    assert response.status_code == 409
    assert response.error_code == "idempotency_conflict"
    assert response.body["error"]["param"] == "merchant_order_id"


def test_merchant_order_id_is_per_merchant_and_mode(merchant_keys, other_merchant):
    for client in (merchant_keys.test, merchant_keys.live, other_merchant.test):
        assert post_charge(client, merchant_order_id="order-1002").status_code == 201
    assert Order.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_charges_make_exactly_one_order(merchant_keys):
    body = {"merchant_order_id": "race-1", "amount": "25"}

    clients = clients_like(merchant_keys.test, 20)
    results = run_concurrently(20, lambda i: post_charge(clients[i], **body))

    assert sorted(r.status_code for r in results) == [200] * 19 + [201]
    assert len({r.body["order"]["id"] for r in results}) == 1
    assert Order.objects.count() == 1 and Payment.objects.count() == 1


def test_idempotency_key_replays_the_stored_response(api):
    first = post_charge(api, headers={"Idempotency-Key": "k-1"})
    replay = post_charge(api, headers={"Idempotency-Key": "k-1"})
    other = post_charge(api, headers={"Idempotency-Key": "k-2"})

    assert first.status_code == replay.status_code == 201
    assert replay.body == first.body
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert other.body["order"]["id"] != first.body["order"]["id"]
    assert Order.objects.count() == 2


def test_idempotency_key_with_another_body_is_a_conflict(api):
    post_charge(api, amount="10", headers={"Idempotency-Key": "k-1"})

    response = post_charge(api, amount="11", headers={"Idempotency-Key": "k-1"})

    assert response.status_code == 409
    assert response.error_code == "idempotency_key_reused"


def test_idempotency_key_replays_errors_too_and_expires_after_a_day(api):
    from api.idempotency import idempotency_purge
    from api.models import IdempotencyKey

    first = post_charge(api, network=None, headers={"Idempotency-Key": "k-err"})  # no route: refused
    replay = post_charge(api, network=None, headers={"Idempotency-Key": "k-err"})
    assert first.error_code == replay.error_code == "channel_or_network_required"

    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_purge() == 1


@pytest.mark.parametrize("amount, code", [
    ("abc", "parameter_invalid"),
    ("-5", "parameter_invalid"),
    ("0", "parameter_invalid"),
    ("1e3", "parameter_invalid"),
    (49.9, "parameter_invalid"),
    ("1.1234567", "parameter_invalid"),  # USDT has 6 decimals
])
def test_bad_amounts(api, amount, code):
    response = post_charge(api, amount=amount)

    assert response.status_code == 400
    assert response.error_code == code
    assert response.body["error"]["param"] == "amount"


@pytest.mark.parametrize("amount", ["0.5", "1000000.01"])
def test_amount_outside_channel_limits(api, amount):
    response = post_charge(api, amount=amount)

    assert response.status_code == 422
    assert response.error_code == "amount_out_of_range"
    assert response.body["error"]["param"] == "amount"


def test_unknown_and_disabled_channels(api):
    unknown = post_charge(api, channel="doge")
    Channel.objects.filter(code="trx").update(enabled=False)
    disabled = post_charge(api, channel="trx", currency="TRX", amount="20")

    assert (unknown.status_code, unknown.error_code) == (400, "unknown_channel")
    assert (disabled.status_code, disabled.error_code) == (422, "channel_disabled")
    assert Order.objects.count() == 0


def test_disabled_channel_is_not_routed(api):
    Channel.objects.filter(code="usdt_trc20").update(enabled=False)

    assert post_charge(api).error_code == "no_route"


def test_oversized_metadata(api):
    response = post_charge(api, metadata={f"k{i}": "v" for i in range(51)})

    assert response.status_code == 400
    assert response.error_code == "metadata_too_large"
    assert response.body["error"]["param"] == "metadata"


def test_priced_in_another_crypto_asset_is_refused(api):
    response = post_charge(api, channel="btc", currency="ETH", amount="1")

    assert (response.status_code, response.error_code) == (422, "unsupported_currency")


def test_fiat_price_is_converted_at_a_locked_rate(api):
    ExchangeRate.objects.create(base="BTC", quote="USD", rate=Decimal("65000"), source="median(test)",
                                sources_used=[], fetched_at=timezone.now())

    response = post_charge(api, channel="btc", currency="USD", amount="49.90")

    assert response.status_code == 201, response.body
    order = response.body["order"]
    # 49.90 / 65000 = 0.000767692... rounded UP to 8 decimals: the payer never pays less.
    assert Decimal(order["amount_due"]) == Decimal("0.00076770")
    assert Decimal(response.body["instruction"]["amount_due"]) == Decimal("0.0007677")
    assert order["currency"] == "USD" and order["asset"] == "BTC"
    assert order["pricing"]["fiat_currency"] == "USD" and Decimal(order["pricing"]["fiat_amount"]) == Decimal("49.9")
    assert Decimal(order["pricing"]["rate"]) == 65000 and order["pricing"]["rate_source"] == "median(test)"

    # The rate is locked: a new market rate does not change this order.
    ExchangeRate.objects.filter(base="BTC").update(rate=Decimal("70000"))
    detail = api.get(f"/api/v1/orders/{order['id']}")
    assert Decimal(detail.body["order"]["amount_due"]) == Decimal("0.0007677")


def test_fiat_price_on_a_stablecoin_uses_the_peg(api):
    response = post_charge(api, currency="USD", amount="25.50")

    assert response.status_code == 201
    assert response.body["order"]["channel_code"] == "usdt_trc20"
    assert Decimal(response.body["instruction"]["amount_due"]) == Decimal("25.5")


def test_stale_or_missing_rate_is_rate_unavailable(api):
    missing = post_charge(api, channel="btc", currency="EUR", amount="10", merchant_order_id="a")
    ExchangeRate.objects.create(base="BTC", quote="EUR", rate=Decimal("60000"), source="median(test)",
                                sources_used=[], fetched_at=timezone.now() - timedelta(hours=1))
    stale = post_charge(api, channel="btc", currency="EUR", amount="10", merchant_order_id="b")

    for response in (missing, stale):
        assert response.status_code == 422
        assert response.error_code == "rate_unavailable"
    assert Order.objects.count() == 0


def test_live_key_makes_live_orders(live_api):
    response = post_charge(live_api)

    assert response.status_code == 201
    assert response.body["order"]["is_test"] is False
    assert validate_address(network="tron", mode="live", address=response.body["instruction"]["deposit_address"])


def test_live_charges_need_a_root_the_operator_set_up(merchant_keys, monkeypatch):
    monkeypatch.delenv("FLUXA_WALLET_MNEMONIC")

    live = post_charge(merchant_keys.live)
    test = post_charge(merchant_keys.test)

    assert (live.status_code, live.error_code) == (422, "wallet_not_configured")
    assert test.status_code == 201  # test mode works on the automatic root


def test_a_pooled_live_address_of_an_automatic_root_is_not_handed_out(merchant_keys, monkeypatch):
    from wallets.models import AddressState, DepositAddress
    from wallets.services import deposit_address_pool_replenish, wallet_root_ensure

    monkeypatch.delenv("FLUXA_WALLET_MNEMONIC")
    wallet_root_ensure()  # generated: nobody ever saw its words
    deposit_address_pool_replenish(network="tron", mode="live", size=2)
    pooled = set(DepositAddress.objects.filter(mode="live", state=AddressState.FREE).values_list("pk", flat=True))

    live = post_charge(merchant_keys.live)

    assert (live.status_code, live.error_code) == (422, "wallet_not_configured")
    assert len(pooled) == 2
    assert set(DepositAddress.objects.filter(mode="live", state=AddressState.FREE).values_list("pk", flat=True)) == pooled
    assert not Order.objects.exists()


def test_a_charge_reads_the_root_within_the_address_claim(api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from wallets.services import deposit_address_pool_replenish, wallet_root_ensure

    wallet_root_ensure()
    deposit_address_pool_replenish(network="tron", mode="test", size=1)
    with CaptureQueriesContext(connection) as captured:
        response = post_charge(api)

    assert response.status_code == 201
    reads = [q["sql"] for q in captured.captured_queries if "wallets_walletroot" in q["sql"]]
    assert len(reads) == 1 and reads[0].startswith("UPDATE"), reads


@pytest.mark.parametrize("mode", ["test", "live"])
def test_every_channel_gets_a_valid_deposit_address_and_uri(merchant_keys, mode):
    client = getattr(merchant_keys, mode)
    seen = set()
    for channel in Channel.objects.all():
        response = post_charge(client, channel=channel.code, currency=channel.asset,
                               amount=format(channel.min_amount.normalize(), "f"))
        assert response.status_code == 201, (channel.code, response.body)
        instruction = response.body["instruction"]
        address = instruction["deposit_address"]
        assert validate_address(network=channel.network, mode=mode, address=address) == address
        assert instruction["payment_uri"].split(":")[0] in {"tron", "ethereum", "bitcoin", "litecoin", "solana",
                                                            "ripple"}
        if channel.network == "xrpl":
            assert isinstance(instruction["destination_tag"], int)
            seen.add((address, instruction["destination_tag"]))
        else:
            seen.add((channel.network, address))
    assert len(seen) == Channel.objects.count()  # nothing shared between open orders


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("network, currency, amount", [("ethereum", "USDT", "10"), ("xrpl", "XRP", "10")])
def test_hundred_concurrent_charges_get_distinct_addresses(merchant_keys, network, currency, amount):
    clients = clients_like(merchant_keys.live, 100)
    results = run_concurrently(100, lambda i: post_charge(clients[i], amount=amount, currency=currency,
                                                          network=network))

    assert [r.status_code for r in results] == [201] * 100, {r.error_code for r in results}
    instructions = [r.body["instruction"] for r in results]
    if network == "xrpl":
        assert len({i["deposit_address"] for i in instructions}) == 1  # one receiving account...
        assert len({i["destination_tag"] for i in instructions}) == 100  # ...a tag per order
    else:
        assert len({i["deposit_address"] for i in instructions}) == 100


def test_operators_edit_channels_in_the_admin(admin_client, api):
    page = admin_client.get("/admin/charges/channel/usdt_trc20/change/")
    assert page.status_code == 200

    form = {"name": "USDT (TRC-20)", "token_contract": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            "token_contract_test": "", "required_confirmations": "25", "min_amount": "5",
            "max_amount": "500", "settlement_mode": "direct", "sort_order": "0"}  # enabled unticked
    saved = admin_client.post("/admin/charges/channel/usdt_trc20/change/", form)

    assert saved.status_code == 302, saved.content.decode()[:2000]
    channel = Channel.objects.get(code="usdt_trc20")
    assert (channel.required_confirmations, channel.min_amount, channel.enabled) == (25, Decimal("5"), False)
    assert post_charge(api).error_code == "no_route"  # disabled: no longer routed
    assert admin_client.get("/admin/orders/order/").status_code == 200


def test_idempotency_key_of_a_dead_request_can_be_retried_after_a_minute(api):
    from api.models import IdempotencyKey

    first = post_charge(api, headers={"Idempotency-Key": "k-dead"})
    # As if the process had died after claiming the key and before answering:
    IdempotencyKey.objects.update(status_code=None, response_encrypted="")
    busy = post_charge(api, headers={"Idempotency-Key": "k-dead"})
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    retried = post_charge(api, headers={"Idempotency-Key": "k-dead"})

    assert first.status_code == 201
    assert (busy.status_code, busy.error_code) == (409, "idempotency_key_in_use")
    assert retried.status_code == 201


def test_stored_responses_are_encrypted_and_never_hold_a_secret(api):
    from django.db import connection

    first = api.post("/api/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/x"},
                     headers={"Idempotency-Key": "k-hook"})
    replay = api.post("/api/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/x"},
                      headers={"Idempotency-Key": "k-hook"})

    # A secret is shown once (issue 16, point 10): the replay has the endpoint, not the secret.
    assert replay.body == {**first.body, "secret": None}
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_idempotencykey")
        assert first.body["secret"] not in repr(cursor.fetchall())
