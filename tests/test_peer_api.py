"""The peers' order API in fluxa's vocabulary, through signed HTTP requests: the spellings a
merchant migrating from a peer gateway sends (network codes, "cancelled",
X-Idempotency-Key), delete by reference, reusing the reference of a deleted or canceled
order, the payer-address filter and the presentation fields."""

import pytest

from orders.models import Order
from testing.client import charge, post_charge

pytestmark = pytest.mark.django_db


# --- network codes and names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["TRON", "Tron", "TRX", "trx", " tron "])
def test_a_charge_routes_on_a_network_code_or_name(api, name):
    body = charge(api, network=name)

    assert body["order"]["network"] == "tron" and body["order"]["channel_code"] == "usdt_trc20"


@pytest.mark.parametrize("name, channel", [("LTC", "ltc"), ("XRP", "xrp"), ("SOL", "sol"),
                                           ("Bitcoin", "btc"), ("ETH", "eth")])
def test_the_peers_uppercase_codes_route_to_their_network(live_api, name, channel):
    # Priced in the native coin: the peers' code picks the network, the currency the channel.
    currency = {"ltc": "LTC", "xrp": "XRP", "sol": "SOL", "btc": "BTC", "eth": "ETH"}[channel]
    response = post_charge(live_api, network=name, currency=currency, amount="1")

    assert response.status_code == 201, response.body
    assert response.body["order"]["channel_code"] == channel


def test_an_unknown_network_still_has_no_route(api):
    assert post_charge(api, network="DOGE").error_code == "no_route"


@pytest.mark.parametrize("name", ["TRON", "tron", "TRX", "Tron"])
def test_the_network_filter_takes_any_case_and_the_codes(api, name):
    tron = charge(api)["order"]["id"]
    charge(api, channel="usdc_base", currency="USDC")

    response = api.get("/api/v1/orders", query=f"network={name}")

    assert response.status_code == 200
    assert [o["id"] for o in response.body["data"]] == [tron] and response.body["total"] == 1


def test_the_network_filter_refuses_a_network_that_does_not_exist(api):
    response = api.get("/api/v1/orders", query="network=dogechain")

    assert response.status_code == 400
    assert response.error_code == "unknown_network" and response.body["error"]["param"] == "network"


# --- "cancelled" ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["cancelled", "Cancelled", "CANCELED", "canceled"])
def test_patch_takes_cancelled_for_canceled(api, spelling):
    order_id = charge(api)["order"]["id"]

    response = api.patch(f"/api/v1/orders/{order_id}", {"status": spelling})

    assert response.status_code == 200, response.body
    assert response.body["order"]["status"] == "canceled"
    assert Order.objects.get(pk=order_id).status == "canceled"


def test_the_status_filter_takes_cancelled(api):
    canceled = charge(api)["order"]["id"]
    charge(api)
    api.patch(f"/api/v1/orders/{canceled}", {"status": "canceled"})

    for spelling in ("cancelled", "canceled", "Cancelled"):
        response = api.get("/api/v1/orders", query=f"status={spelling}")
        assert [o["id"] for o in response.body["data"]] == [canceled], spelling


def test_a_status_that_is_no_alias_is_still_refused(api):
    order_id = charge(api)["order"]["id"]

    assert api.patch(f"/api/v1/orders/{order_id}", {"status": "cancel"}).status_code == 400
    assert api.get("/api/v1/orders", query="status=cancel").status_code == 400


# --- X-Idempotency-Key ------------------------------------------------------------------------


def test_x_idempotency_key_replays_like_idempotency_key(api):
    first = post_charge(api, headers={"X-Idempotency-Key": "k-1"})
    replay = post_charge(api, headers={"X-Idempotency-Key": "k-1"})
    other_name = post_charge(api, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == replay.status_code == other_name.status_code == 201
    assert replay.body == first.body == other_name.body
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert other_name.headers.get("Idempotent-Replayed") == "true"  # one key, whichever name
    assert Order.objects.count() == 1


def test_x_idempotency_key_with_another_body_is_a_conflict(api):
    post_charge(api, amount="10", headers={"X-Idempotency-Key": "k-1"})

    response = post_charge(api, amount="11", headers={"X-Idempotency-Key": "k-1"})

    assert response.status_code == 409 and response.error_code == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_both_names_with_different_keys_are_refused(api):
    response = post_charge(api, headers={"Idempotency-Key": "k-1", "X-Idempotency-Key": "k-2"})

    assert response.status_code == 400 and response.error_code == "parameter_invalid"
    assert response.body["error"]["param"] == "Idempotency-Key"
    assert Order.objects.count() == 0


def test_the_schema_documents_both_idempotency_headers(api):
    from django.test import Client

    schema = Client().get("/api/v1/schema", HTTP_ACCEPT="application/json")
    charges = schema.json()["paths"]["/api/v1/charges"]["post"]
    headers = {p["name"] for p in charges["parameters"] if p["in"] == "header"}

    assert {"Idempotency-Key", "X-Idempotency-Key"} <= headers
