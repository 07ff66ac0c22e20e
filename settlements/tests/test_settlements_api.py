"""The settlements a merchant reads: on the order (GET /api/v1/orders/{id}) and listed
(GET /api/v1/settlements), scoped to the key's merchant and mode; and what the database
refuses whatever the code does."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from orders.models import Order
from settlements.models import Settlement, SettlementStatus
from testing.client import charge

pytestmark = pytest.mark.django_db


def _settlement(order_id: str, **fields) -> Settlement:
    order = Order.objects.get(pk=order_id)
    values = {"order": order, "merchant_id": order.merchant_id, "mode": order.mode, "network": order.network,
              "asset": order.asset, "gross": Decimal("49.9"), "fee": Decimal("0.499"), "amount": Decimal("49.401"),
              "to_address": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", "status": SettlementStatus.CONFIRMED,
              "tx_hash": "ab" * 32, "confirmations": 20, "network_cost": Decimal("13.5"), "network_cost_asset": "TRX"}
    return Settlement.objects.create(**{**values, **fields})


def test_the_order_lists_its_settlement_with_the_documented_fields(live_api):
    order_id = charge(live_api)["order"]["id"]
    settlement = _settlement(order_id)

    body = live_api.get(f"/api/v1/orders/{order_id}").body

    [shown] = body["settlements"]
    assert shown["id"] == settlement.id and shown["id"].startswith("stl_")
    assert shown["status"] == "confirmed"
    assert Decimal(shown["amount"]) == Decimal("49.401") and Decimal(shown["fee"]) == Decimal("0.499")
    assert shown["to_address"] == settlement.to_address and shown["tx_hash"] == "ab" * 32
    assert Decimal(shown["network_cost"]) == Decimal("13.5") and shown["confirmations"] == 20


def test_the_settlement_list_is_scoped_filtered_and_paged(live_api, merchant_keys, other_merchant):
    first = _settlement(charge(live_api)["order"]["id"])
    second = _settlement(charge(live_api)["order"]["id"], status=SettlementStatus.BROADCAST)

    listed = live_api.get("/api/v1/settlements").body
    assert [row["id"] for row in listed["data"]] == [second.id, first.id]
    assert [row["id"] for row in live_api.get("/api/v1/settlements?status=broadcast").body["data"]] == [second.id]
    assert [row["id"] for row in live_api.get(f"/api/v1/settlements?order_id={first.order_id}").body["data"]] \
        == [first.id]
    assert [row["id"] for row in live_api.get("/api/v1/settlements?limit=1&offset=1").body["data"]] == [first.id]
    assert merchant_keys.test.get("/api/v1/settlements").body["data"] == []
    assert other_merchant.live.get("/api/v1/settlements").body["data"] == []
    refused = live_api.get("/api/v1/settlements?state=paid")
    assert refused.status_code == 400 and refused.body["error"]["code"] == "unknown_parameter"


def test_a_test_order_can_never_have_a_settlement(api):
    order_id = charge(api)["order"]["id"]
    with pytest.raises(IntegrityError), transaction.atomic():
        _settlement(order_id)


def test_one_settlement_per_order(live_api):
    order_id = charge(live_api)["order"]["id"]
    _settlement(order_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        _settlement(order_id)


def test_feepayer_prints_json_for_the_configured_networks(settings, capsys):
    settings.FLUXA_CHAINS = {}
    call_command("feepayer")
    assert capsys.readouterr().out.strip() == "{}"
