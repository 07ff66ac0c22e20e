"""The hosted checkout and payment links through their public surface: the signed API (charges,
orders, products, payment links) and the payer's pages and status endpoint (Django's client).
The browser tests are tests/test_checkout_browser.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from api.csp import CHECKOUT_POLICY
from charges.rates import ExchangeRate
from orders.models import Order
from testing.client import charge, post_charge, simulate_payment

pytestmark = pytest.mark.django_db

STATUS_KEYS = {"phase", "status", "message", "asset", "amount_due", "amount_received", "amount_confirmed",
               "still_due", "confirmations", "required_confirmations", "payment_uri", "qr_svg_url", "expires_at",
               "seconds_left", "paid_at", "late_payments_accepted", "return_url", "cancel_url"}


@pytest.fixture
def rates(db):
    now = timezone.now()
    for base, rate in (("USDT", "0.92"), ("USDC", "0.92"), ("ETH", "3000"), ("TRX", "0.11"), ("LTC", "80"),
                       ("BTC", "60000"), ("SOL", "150"), ("XRP", "0.5"), ("BNB", "500"), ("POL", "0.4")):
        ExchangeRate.objects.update_or_create(base=base, quote="EUR", defaults={
            "rate": Decimal(rate), "source": "median(test)", "sources_used": [], "fetched_at": now})


def _path(url: str) -> str:
    return urlsplit(url).path


def _page(url: str, **headers):
    return Client().get(_path(url), headers=headers)


# --- checkout_url and the redirect instruction ---------------------------------------------


def test_every_order_has_a_public_checkout_url_at_an_unguessable_token(api):
    first = charge(api)
    second = charge(api)
    urls = [api.get(f"/api/v1/orders/{b['order']['id']}").body["checkout_url"] for b in (first, second)]

    tokens = []
    for url, body in zip(urls, (first, second)):
        match = re.fullmatch(r"http://testserver/pay/([A-Za-z0-9_-]{32})", url)
        assert match, url
        tokens.append(match.group(1))
        assert body["order"]["id"].split("_")[1] not in url  # not derived from the order id
        page = _page(url)
        assert page.status_code == 200
        assert body["instruction"]["deposit_address"] in page.content.decode()
    assert tokens[0] != tokens[1]
    assert Order.objects.get(pk=first["order"]["id"]).checkout_token == tokens[0]
    # a token one character off, or the order id in its place, is no page
    wrong = tokens[0][:-1] + ("A" if tokens[0][-1] != "A" else "B")
    assert Client().get(f"/pay/{wrong}").status_code == 404
    assert Client().get(f"/pay/{first['order']['id']}").status_code == 404
    assert Client().get(f"/pay/{wrong}/status").status_code == 404


def test_a_deleted_order_has_no_checkout_page(api):
    body = charge(api)
    url = api.get(f"/api/v1/orders/{body['order']['id']}").body["checkout_url"]
    assert api.delete(f"/api/v1/orders/{body['order']['id']}").status_code == 204
    assert _page(url).status_code == 404


def test_a_charge_asking_for_redirect_answers_the_checkout_url(api):
    body = charge(api, instruction="redirect")
    detail = api.get(f"/api/v1/orders/{body['order']['id']}").body

    instruction = body["instruction"]
    assert instruction["type"] == "redirect"
    assert instruction["redirect_url"] == detail["checkout_url"]
    assert instruction["deposit_address"] == detail["instruction"]["deposit_address"]  # the address is chosen
    # without asking, the instruction stays what it was, with the same keys
    plain = charge(api)["instruction"]
    assert plain["type"] == "crypto_address" and plain["redirect_url"] is None
    assert set(plain) == set(instruction)


def test_without_network_only_a_redirect_charge_is_taken_and_then_awaits_the_payers_choice(api, rates):
    refused = post_charge(api, amount="20", currency="EUR", network=None)
    assert (refused.status_code, refused.error_code) == (400, "channel_or_network_required")

    body = charge(api, amount="20", currency="EUR", network=None, instruction="redirect")
    order = body["order"]
    assert order["channel_code"] is None and order["amount_due"] is None and order["network"] == ""
    assert order["amount"] == "20" and order["currency"] == "EUR" and order["status"] == "created"
    assert body["instruction"]["type"] == "redirect" and body["instruction"]["deposit_address"] is None
    assert body["instruction"]["redirect_url"].startswith("http://testserver/pay/")
    assert body["payment"]["amount"] == "20" and body["payment"]["currency"] == "EUR"
    # a test payment cannot be simulated before there is a price and an address
    assert simulate_payment(api, order["id"]).error_code == "channel_not_chosen"
    # the same request again is the same order (idempotency on merchant_order_id still holds)
    again = post_charge(api, amount="20", currency="EUR", network=None, instruction="redirect",
                        merchant_order_id="m-1")
    assert again.status_code == 201
    assert post_charge(api, amount="20", currency="EUR", network=None, instruction="redirect",
                       merchant_order_id="m-1").status_code == 200


def test_the_payer_chooses_a_channel_and_the_order_is_priced_then(api, rates):
    body = charge(api, amount="20", currency="EUR", network=None, instruction="redirect")
    url = body["instruction"]["redirect_url"]
    page = _page(url).content.decode()
    assert 'name="channel" value="usdt_trc20"' in page and 'name="channel" value="eth"' in page

    answer = Client().post(_path(url) + "/choose", {"channel": "usdt_trc20"})
    assert answer.status_code == 302 and answer["Location"] == _path(url)

    order = api.get(f"/api/v1/orders/{body['order']['id']}").body
    assert order["order"]["channel_code"] == "usdt_trc20" and order["order"]["network"] == "tron"
    # 20 EUR at 0.92 EUR per USDT, rounded up to USDT's 6 decimals
    assert Decimal(order["order"]["amount_due"]) == Decimal("21.739131")
    assert order["order"]["pricing"]["rate"] == "0.92"
    # the order has its address now: the detail instructs to pay it, as for any order
    assert order["instruction"]["type"] == "crypto_address"
    assert order["instruction"]["deposit_address"].startswith("T")
    assert order["payment"]["amount"] == order["order"]["amount_due"] and order["payment"]["currency"] == "USDT"
    assert order["events"][-1]["reason"] == "channel usdt_trc20 chosen by the payer"
    events = api.get("/api/v1/events", query="type=order.priced").body["data"]
    assert len(events) == 1  # the merchant hears the price and the address
    priced = api.get(f"/api/v1/events/{events[0]['id']}").body
    announced = priced.get("data", priced.get("event", {}).get("data", {}))["order"]
    assert announced["amount_due"] == "21.739131" and announced["channel_code"] == "usdt_trc20"
    assert announced["deposit_address"] == order["instruction"]["deposit_address"]
    state = Client().get(_path(url) + "/status").json()
    assert state["phase"] == "waiting" and state["still_due"] == "21.739131"
    # the same choice again changes nothing; another one is refused on the page
    assert Client().post(_path(url) + "/choose", {"channel": "usdt_trc20"}).status_code == 302
    other = Client().post(_path(url) + "/choose", {"channel": "eth"})
    assert other.status_code == 422
    assert Order.objects.get(pk=body["order"]["id"]).channel_id == "usdt_trc20"


def test_a_choice_outside_the_list_or_after_expiry_is_refused(api, rates):
    body = charge(api, amount="20", currency="EUR", network=None, instruction="redirect")
    url = body["instruction"]["redirect_url"]
    assert Client().post(_path(url) + "/choose", {"channel": "nope"}).status_code == 422
    Order.objects.filter(pk=body["order"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    late = Client().post(_path(url) + "/choose", {"channel": "usdt_trc20"})
    assert late.status_code == 422 and "no longer open" in late.content.decode()
    assert Order.objects.get(pk=body["order"]["id"]).channel_id is None


# --- what the pages and the status endpoint show ------------------------------------------------


def test_status_endpoint_and_page_reveal_nothing_a_payer_should_not_see(api, merchant_keys):
    body = charge(api, merchant_order_id="secret-ref-991", metadata={"internal": "margin-42"},
                  customer={"email": "ann@example.com", "name": "Ann Payer"}, subject="Blue mug",
                  return_url="https://shop.example/thanks")
    url = api.get(f"/api/v1/orders/{body['order']['id']}").body["checkout_url"]
    state = Client().get(_path(url) + "/status")
    page = _page(url)

    assert state.status_code == 200 and set(state.json()) == STATUS_KEYS
    for answer in (state.content.decode(), page.content.decode()):
        for secret in (merchant_keys.merchant.id, "secret-ref-991", "margin-42", "internal", "ann@example.com",
                       "Ann Payer", api.key_id, "fee"):
            assert secret not in answer
    assert "Blue mug" in page.content.decode() and "Acme" in page.content.decode()
    assert state["Cache-Control"] == "no-store" and "Set-Cookie" not in page
    assert state.json()["return_url"] == "https://shop.example/thanks"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.styles, self.inline = [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs.get("src"))
        if tag == "style":
            self.styles += 1
        self.inline += [name for name in attrs if name == "style" or name.startswith("on")]


def test_the_page_has_a_strict_csp_and_no_inline_script_or_style(api):
    url = charge(api)["instruction"]["deposit_address"] and api.get(
        f"/api/v1/orders/{Order.objects.get().id}").body["checkout_url"]
    page = _page(url)
    assert page["Content-Security-Policy"] == CHECKOUT_POLICY
    assert "script-src 'self'" in CHECKOUT_POLICY and "unsafe-inline" not in CHECKOUT_POLICY
    tags = _Tags()
    tags.feed(page.content.decode())
    assert tags.scripts == ["/static/checkout/checkout.js"] and tags.styles == 0 and tags.inline == []


def test_a_partial_payment_shows_what_is_still_due_with_its_own_payment_uri(api):
    body = charge(api, amount="10", currency="USDT")
    order_id = body["order"]["id"]
    url = api.get(f"/api/v1/orders/{order_id}").body["checkout_url"]
    before = Client().get(_path(url) + "/status").json()
    assert before["phase"] == "waiting" and before["payment_uri"] == body["instruction"]["payment_uri"]

    simulate_payment(api, order_id, amount="4")
    partial = Client().get(_path(url) + "/status").json()
    assert partial["phase"] == "partial" and partial["still_due"] == "6"
    assert partial["payment_uri"] != before["payment_uri"]
    assert "amount=6" in partial["payment_uri"] and body["instruction"]["deposit_address"] in partial["payment_uri"]
    assert "6 USDT still due" in partial["message"]
    assert partial["qr_svg_url"].startswith("/qr/svg?")
    assert Client().get(partial["qr_svg_url"]).status_code == 200  # the signed QR of exactly that URI

    simulate_payment(api, order_id, amount="6", confirmations=0)
    seen = Client().get(_path(url) + "/status").json()
    assert seen["phase"] == "confirming" and seen["confirmations"] == 0 and seen["required_confirmations"] == 19

    tx = api.get(f"/api/v1/orders/{order_id}").body["transfers"][0]["tx_hash"]
    simulate_payment(api, order_id, tx_hash=tx, confirmations=7)
    assert Client().get(_path(url) + "/status").json()["message"] == "Payment seen: 7 of 19 confirmations."
    simulate_payment(api, order_id, tx_hash=tx, confirmations=19)
    paid = Client().get(_path(url) + "/status").json()
    assert paid["phase"] == "paid" and paid["paid_at"] and paid["payment_uri"] is None


def test_an_expired_order_says_why_and_what_happens_to_a_late_payment(api, merchant_keys):
    body = charge(api, cancel_url="https://shop.example/cart")
    Order.objects.filter(pk=body["order"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=5))
    from orders.services import orders_expire_due

    orders_expire_due()
    url = api.get(f"/api/v1/orders/{body['order']['id']}").body["checkout_url"]
    page = _page(url).content.decode()
    assert "expired before the payment arrived" in page
    assert 'href="https://shop.example/cart"' in page
    assert "still accepted once it is confirmed" in page  # merchants accept late payments by default
    merchant_keys.merchant.accept_late_payments = False
    merchant_keys.merchant.save()
    assert "the merchant is told and can refund it" in _page(url).content.decode()


def test_the_page_speaks_the_browsers_language(api):
    url = api.get(f"/api/v1/orders/{charge(api)['order']['id']}").body["checkout_url"]
    german = _page(url, accept_language="de-DE,de;q=0.9").content.decode()
    english = _page(url, accept_language="en-US").content.decode()
    assert '<html lang="de">' in german and "Wir warten auf Ihre Zahlung." in german and "Betrag" in german
    assert '<html lang="en">' in english and "Waiting for your payment." in english
    status = Client().get(_path(url) + "/status", headers={"accept-language": "de"}).json()
    assert status["message"] == "Wir warten auf Ihre Zahlung."


def test_pages_and_status_are_rate_limited_per_client_address(api, settings):
    settings.FLUXA_CHECKOUT_RATE = "3/min"
    url = api.get(f"/api/v1/orders/{charge(api)['order']['id']}").body["checkout_url"]
    client = Client(REMOTE_ADDR="198.51.100.7")
    answers = [client.get(_path(url) + "/status").status_code for _ in range(3)]
    limited = client.get(_path(url) + "/status")
    page = client.get(_path(url))
    assert answers == [200, 200, 200]
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json()["error"]["code"] == "rate_limited"
    assert page.status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.8").get(_path(url) + "/status").status_code == 200  # another address


# --- products and payment links ---------------------------------------------------------------


def test_products_are_created_validated_and_scoped(api, live_api, other_merchant):
    created = api.post("/api/v1/products", {"name": "Blue mug", "price": "12.50", "currency": "eur"})
    assert created.status_code == 201, created.body
    product = created.body
    assert product["id"].startswith("prd_") and product["price"] == "12.5" and product["currency"] == "EUR"
    assert product["is_test"] is True and product["active"] is True

    assert api.post("/api/v1/products", {"name": "x", "price": "0", "currency": "EUR"}).status_code == 400
    assert api.post("/api/v1/products", {"name": "x", "price": 5, "currency": "EUR"}).status_code == 400
    assert api.post("/api/v1/products", {"name": "x", "price": "1.234", "currency": "EUR"}).status_code == 400
    unknown = api.post("/api/v1/products", {"name": "x", "price": "1", "currency": "ZZZ"})
    assert (unknown.status_code, unknown.error_code) == (400, "unsupported_currency")
    assert api.post("/api/v1/products", {"price": "1", "currency": "EUR"}).status_code == 400

    assert api.get(f"/api/v1/products/{product['id']}").body == product
    assert [p["id"] for p in api.get("/api/v1/products").body["data"]] == [product["id"]]
    assert live_api.get(f"/api/v1/products/{product['id']}").status_code == 404  # the other mode
    assert other_merchant.test.get(f"/api/v1/products/{product['id']}").status_code == 404
    assert other_merchant.test.get("/api/v1/products").body["total"] == 0
    changed = api.patch(f"/api/v1/products/{product['id']}", {"price": "14", "active": False})
    assert changed.status_code == 200 and changed.body["price"] == "14" and changed.body["active"] is False


def test_payment_links_are_created_validated_and_scoped(api, other_merchant):
    product = api.post("/api/v1/products", {"name": "Blue mug", "price": "12.50", "currency": "EUR"}).body
    by_product = api.post("/api/v1/payment_links", {"product": product["id"], "max_uses": 5})
    assert by_product.status_code == 201, by_product.body
    link = by_product.body
    assert link["id"].startswith("pl_") and link["url"] == f"http://testserver/l/{link['id']}"
    assert (link["product_id"], link["amount"], link["currency"]) == (product["id"], "12.5", "EUR")
    assert (link["max_uses"], link["uses"], link["channel"]) == (5, 0, None)

    fixed = api.post("/api/v1/payment_links", {"amount": "25", "currency": "USDT", "channel": "usdt_trc20"})
    assert fixed.status_code == 201 and fixed.body["product_id"] is None and fixed.body["amount"] == "25"

    for bad, code in (({}, "parameter_missing"), ({"amount": "5"}, "parameter_missing"),
                      ({"product": product["id"], "amount": "5", "currency": "EUR"}, "parameter_invalid"),
                      ({"amount": "5", "currency": "EUR", "max_uses": 0}, "parameter_invalid"),
                      ({"amount": "5", "currency": "EUR", "expires_at": "2001-01-01T00:00:00Z"}, "parameter_invalid"),
                      ({"amount": "5", "currency": "USDT", "channel": "eth"}, "unsupported_currency")):
        answer = api.post("/api/v1/payment_links", bad)
        assert (answer.status_code, answer.error_code) == (400, code), (bad, answer.body)
    other_product = other_merchant.test.post("/api/v1/payment_links", {"product": product["id"]})
    assert other_product.status_code == 404  # another merchant's product is no product
    assert other_merchant.test.get(f"/api/v1/payment_links/{link['id']}").status_code == 404
    assert api.get("/api/v1/payment_links").body["total"] == 2
    off = api.patch(f"/api/v1/payment_links/{link['id']}", {"active": False})
    assert off.status_code == 200 and off.body["active"] is False


def test_each_visit_of_a_link_makes_an_order_and_the_list_filters_by_link_and_product(api, rates):
    product = api.post("/api/v1/products", {"name": "Blue mug", "price": "12.50", "currency": "EUR"}).body
    link = api.post("/api/v1/payment_links", {"product": product["id"], "max_uses": 2,
                                              "return_url": "https://shop.example/thanks"}).body
    other = api.post("/api/v1/payment_links", {"amount": "3", "currency": "USDT", "channel": "usdt_trc20"}).body

    visits = [Client().get(f"/l/{link['id']}") for _ in range(2)]
    assert [v.status_code for v in visits] == [302, 302]
    locations = [v["Location"] for v in visits]
    assert locations[0] != locations[1] and all(loc.startswith("/pay/") for loc in locations)
    assert Client().get(f"/l/{link['id']}").status_code == 404  # max_uses reached
    assert api.get(f"/api/v1/payment_links/{link['id']}").body["uses"] == 2
    fixed = Client().get(f"/l/{other['id']}")
    assert Client().get(fixed["Location"]).status_code == 200

    by_link = api.get("/api/v1/orders", query=f"payment_link_id={link['id']}").body
    assert by_link["total"] == 2
    assert {o["payment_link_id"] for o in by_link["data"]} == {link["id"]}
    assert {o["product_id"] for o in by_link["data"]} == {product["id"]}
    assert api.get("/api/v1/orders", query=f"product_id={product['id']}").body["total"] == 2
    assert api.get("/api/v1/orders", query=f"payment_link_id={other['id']}").body["total"] == 1
    assert api.get("/api/v1/orders", query="product_id=prd_none").body["total"] == 0
    detail = api.get(f"/api/v1/orders/{by_link['data'][0]['id']}").body["order"]
    assert (detail["product_id"], detail["payment_link_id"]) == (product["id"], link["id"])
    assert detail["subject"] == "Blue mug" and detail["amount"] == "12.5" and detail["currency"] == "EUR"
    assert detail["return_url"] == "https://shop.example/thanks" and detail["channel_code"] is None
    fixed_order = api.get("/api/v1/orders", query=f"payment_link_id={other['id']}").body["data"][0]
    assert fixed_order["channel_code"] == "usdt_trc20" and fixed_order["product_id"] is None


def test_a_link_that_is_off_ended_or_of_an_inactive_product_makes_no_order(api):
    product = api.post("/api/v1/products", {"name": "Mug", "price": "2", "currency": "USDT"}).body
    off = api.post("/api/v1/payment_links", {"amount": "2", "currency": "USDT", "channel": "usdt_trc20"}).body
    api.patch(f"/api/v1/payment_links/{off['id']}", {"active": False})
    ended = api.post("/api/v1/payment_links", {"amount": "2", "currency": "USDT", "channel": "usdt_trc20",
                                               "expires_at": (timezone.now() + timedelta(hours=1)).isoformat()}).body
    from checkout.models import PaymentLink

    PaymentLink.objects.filter(pk=ended["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    of_product = api.post("/api/v1/payment_links", {"product": product["id"], "channel": "usdt_trc20"}).body
    api.patch(f"/api/v1/products/{product['id']}", {"active": False})

    for link in (off, ended, of_product):
        assert Client().get(f"/l/{link['id']}").status_code == 404
    assert Client().get("/l/pl_doesnotexist").status_code == 404
    assert api.get("/api/v1/orders").body["total"] == 0


def test_payment_link_visits_are_rate_limited_per_address(api, settings):
    settings.FLUXA_PAYMENT_LINK_RATE = "2/min"
    link = api.post("/api/v1/payment_links", {"amount": "2", "currency": "USDT", "channel": "usdt_trc20"}).body
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [client.get(f"/l/{link['id']}").status_code for _ in range(3)]
    assert codes == [302, 302, 429]
    assert api.get("/api/v1/orders").body["total"] == 2


def test_the_schema_documents_the_redirect_instruction_and_the_new_endpoints(api):
    schema = json.loads(Client().get("/api/v1/schema", headers={"accept": "application/json"}).content)
    instruction = schema["components"]["schemas"]["Instruction"]["properties"]
    kind = instruction["type"]
    if "$ref" in kind or "allOf" in kind:
        ref = kind.get("$ref") or kind["allOf"][0]["$ref"]
        kind = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "redirect_url" in instruction and set(kind["enum"]) >= {"redirect", "crypto_address"}
    assert "instruction" in schema["components"]["schemas"]["ChargeInputRequest"]["properties"]
    assert {"/api/v1/products", "/api/v1/payment_links", "/api/v1/payment_links/{link_id}"} <= set(schema["paths"])
    params = {p["name"] for p in schema["paths"]["/api/v1/orders"]["get"]["parameters"]}
    assert {"product_id", "payment_link_id"} <= params


def test_an_order_awaiting_the_choice_expires_cancels_and_reopens_like_any_other(api, rates):
    body = charge(api, amount="20", currency="EUR", network=None, instruction="redirect")
    order_id, url = body["order"]["id"], body["instruction"]["redirect_url"]
    marked = api.patch(f"/api/v1/orders/{order_id}", {"status": "paid"})
    assert (marked.status_code, marked.error_code) == (409, "channel_not_chosen")  # nothing is priced yet

    assert api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).status_code == 200
    assert Client().get(_path(url) + "/status").json()["phase"] == "canceled"
    reopened = api.patch(f"/api/v1/orders/{order_id}", {"status": "pending"})
    assert reopened.status_code == 200 and reopened.body["order"]["channel_code"] is None
    assert Order.objects.get(pk=order_id).deposit_address == ""

    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    from orders.services import orders_expire_due

    assert orders_expire_due() == 1
    state = Client().get(_path(url) + "/status").json()
    assert state["phase"] == "expired" and state["amount_due"] is None
    assert 'name="channel"' not in _page(url).content.decode()  # no chooser on a closed order


def test_an_order_made_before_checkout_pages_gets_its_url_from_its_token(api):
    order_id = charge(api)["order"]["id"]
    Order.objects.filter(pk=order_id).update(checkout_url="")  # as the migration leaves older orders
    url = api.get(f"/api/v1/orders/{order_id}").body["checkout_url"]
    assert url == f"http://testserver/pay/{Order.objects.get(pk=order_id).checkout_token}"
    assert _page(url).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_visits_of_a_limited_link_make_at_most_max_uses_orders(api):
    from testing.client import run_concurrently

    link = api.post("/api/v1/payment_links", {"amount": "2", "currency": "USDT", "channel": "usdt_trc20",
                                              "max_uses": 2}).body
    codes = run_concurrently(6, lambda i: Client(REMOTE_ADDR=f"192.0.2.{i + 1}").get(f"/l/{link['id']}").status_code)
    assert sorted(codes) == [302, 302, 404, 404, 404, 404]
    assert Order.objects.filter(payment_link_id=link["id"]).count() == 2
    assert api.get(f"/api/v1/payment_links/{link['id']}").body["uses"] == 2


def test_an_xrp_order_shows_its_destination_tag_and_a_token_its_contract(api):
    body = charge(api, amount="5", currency="XRP", network="xrpl")
    tag = body["instruction"]["destination_tag"]
    page = _page(api.get(f"/api/v1/orders/{body['order']['id']}").body["checkout_url"]).content.decode()
    assert tag is not None and f'<code id="tag">{tag}</code>' in page and 'data-copy="tag"' in page
    assert "XRPL testnet" in page and "Token contract" not in page
    assert f"dt={tag}" in body["instruction"]["payment_uri"]
    token = charge(api)  # USDT on TRON
    page = _page(api.get(f"/api/v1/orders/{token['order']['id']}").body["checkout_url"]).content.decode()
    assert f"Token contract: <code class=\"wrap\">{token['instruction']['token_contract']}</code>" in page


def test_the_guide_and_its_pictures_are_served():
    guide = Client().get("/docs/checkout.md").content.decode()
    assert 'src="checkout/checkout-desktop.png"' in guide
    picture = Client().get("/docs/checkout/checkout-desktop.png")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert Client().get("/docs/wallets/checkout-desktop.png").status_code == 404  # only the listed folders
    readme = Client().get("/docs/README.md").content.decode()
    assert 'src="/docs/checkout/checkout-desktop.png"' in readme


def test_the_status_endpoint_reads_the_order_and_its_confirmations_in_one_query(api, django_assert_num_queries):
    body = charge(api, amount="10", currency="USDT")
    simulate_payment(api, body["order"]["id"], amount="4", confirmations=3)
    url = api.get(f"/api/v1/orders/{body['order']['id']}").body["checkout_url"]
    client = Client()
    with django_assert_num_queries(1):
        state = client.get(_path(url) + "/status").json()
    assert state["phase"] == "partial" and state["confirmations"] == 3


def _po_entries(path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (the subset of the format makemessages writes)."""
    entries, key, current = {}, None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("msgid "):
            key, current = "msgid", [json.loads(line[6:])]
            msgid = current
        elif line.startswith("msgstr "):
            key, current = "msgstr", [json.loads(line[7:])]
            msgstr = current
        elif line.startswith('"') and current is not None:
            current.append(json.loads(line))
        elif not line.strip() and key == "msgstr":
            entries["".join(msgid)] = "".join(msgstr)
            key, current = None, None
    return entries


def test_the_committed_german_catalogue_is_compiled_and_complete():
    import gettext
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "locale" / "de" / "LC_MESSAGES"
    source = {k: v for k, v in _po_entries(folder / "django.po").items() if k}
    with open(folder / "django.mo", "rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)._catalog
    assert len(source) > 40 and all(source.values())  # every text translated
    assert {k: catalog.get(k) for k in source} == source  # the .mo is the .po compiled
