"""The portal's products and payment links pages through Django's test client (the browser
test is in tests/test_portal_browser.py): each page writes through checkout.services, the
service's refusals are shown on the form, scoping by merchant and mode, roles, and the orders
list filtered by product and link."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from api.csp import PORTAL_POLICY
from checkout.models import PaymentLink, Product
from orders.models import Order
from testing.client import charge
from testing.portal import make_member, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(merchant_keys):
    return signed_in(make_member(merchant_keys.merchant, role="owner"))


def _link_id(answer) -> str:
    assert answer.status_code == 302, answer.content.decode()[:2000]
    found = re.fullmatch(r"/portal/payment-links/(pl_[A-Za-z0-9]+)", answer["Location"])
    assert found, answer["Location"]
    return found.group(1)


def _product_id(answer) -> str:
    assert answer.status_code == 302, answer.content.decode()[:2000]
    found = re.fullmatch(r"/portal/products/(prd_[A-Za-z0-9]+)", answer["Location"])
    assert found, answer["Location"]
    return found.group(1)


def _errors(answer) -> str:
    found = re.search(r'<div class="errors"[^>]*>(.*?)</div>', answer.content.decode(), re.S)
    return found.group(1) if found else ""


def test_a_product_is_made_refused_changed_and_switched_off_through_the_checkout_services(owner_client, api):
    made = owner_client.post("/portal/products", {"name": "Blue mug", "description": "Stoneware",
                                                  "price": "12.50", "currency": "eur"})
    product = Product.objects.get(pk=_product_id(made))
    assert (product.name, product.price, product.currency, product.mode) == ("Blue mug", Decimal("12.5"), "EUR",
                                                                              "test")
    assert api.get(f"/api/v1/products/{product.id}").body["price"] == "12.5"  # the API sees the same row

    for bad, says in [({"price": "0", "currency": "EUR"}, "price: must be greater than 0"),
                      ({"price": "1.234", "currency": "EUR"}, "EUR has at most 2 decimals"),
                      ({"price": "1", "currency": "ZZZ"}, "unsupported_currency")]:
        refused = owner_client.post("/portal/products", {"name": "x", **bad})
        assert refused.status_code == 400 and says in _errors(refused), (bad, _errors(refused))
    assert Product.objects.count() == 1

    page = owner_client.get(f"/portal/products/{product.id}").content.decode()
    assert 'value="12.5"' in page and "Blue mug" in page
    assert _product_id(owner_client.post(f"/portal/products/{product.id}", {
        "name": "Blue mug XL", "description": "", "price": "14", "currency": "EUR"})) == product.id
    product.refresh_from_db()
    assert (product.name, product.price) == ("Blue mug XL", Decimal("14"))
    refused = owner_client.post(f"/portal/products/{product.id}", {"name": "x", "price": "-1", "currency": "EUR"})
    assert refused.status_code == 400 and "greater than 0" in _errors(refused)

    link = _link_id(owner_client.post("/portal/payment-links", {"product": product.id}))
    assert Client().get(f"/l/{link}").status_code == 302
    owner_client.post(f"/portal/products/{product.id}/toggle", {"active": "0"})
    product.refresh_from_db()
    assert product.active is False
    assert Client().get(f"/l/{link}").status_code == 404  # its links make no order
    assert "its product is switched off" in owner_client.get(f"/portal/payment-links/{link}").content.decode()
    owner_client.post(f"/portal/products/{product.id}/toggle", {"active": "1"})
    assert Client().get(f"/l/{link}").status_code == 302


def test_a_link_made_in_the_portal_makes_an_order_per_visit_up_to_its_limit_and_the_orders_filter_by_it(
        owner_client, api):
    link_id = _link_id(owner_client.post("/portal/payment-links", {
        "amount": "2", "currency": "usdt", "channel": "usdt_trc20", "subject": "Sticker pack", "max_uses": "2",
        "return_url": "https://shop.example/thanks"}))
    link = PaymentLink.objects.get(pk=link_id)
    assert (link.amount, link.currency, link.channel, link.max_uses, link.subject, link.return_url) == (
        Decimal("2"), "USDT", "usdt_trc20", 2, "Sticker pack", "https://shop.example/thanks")
    other = charge(api)["order"]["id"]  # an order of no link

    page = owner_client.get(f"/portal/payment-links/{link_id}").content.decode()
    url = re.search(r'<code id="link-url"[^>]*>([^<]+)</code>', page).group(1)
    assert url == f"http://testserver/l/{link_id}"
    qr = re.search(r'<img src="([^"]+)"[^>]*id="link-qr"', page).group(1).replace("&amp;", "&")
    image = owner_client.get(qr)
    assert image.status_code == 200 and image["Content-Type"] == "image/svg+xml"

    visits = [Client().get(f"/l/{link_id}") for _ in range(3)]
    assert [v.status_code for v in visits] == [302, 302, 404]
    made = set(Order.objects.filter(payment_link_id=link_id).values_list("id", flat=True))
    assert len(made) == 2

    page = owner_client.get(f"/portal/payment-links/{link_id}").content.decode()
    assert re.search(r'id="link-uses">2 of 2<', page) and 'id="link-state">used up<' in page
    listed = owner_client.get(f"/portal/orders?payment_link_id={link_id}").content.decode()
    assert set(re.findall(r'class="order-link">(ord_[A-Za-z0-9]+)<', listed)) == made
    assert other not in listed
    detail = owner_client.get(f"/portal/orders/{sorted(made)[0]}").content.decode()
    assert f'<code>{link_id}</code>' in detail

    lowered = owner_client.post(f"/portal/payment-links/{link_id}", {"max_uses": "1"})
    assert lowered.status_code == 400 and "max_uses_below_uses" in _errors(lowered)
    raised = owner_client.post(f"/portal/payment-links/{link_id}", {"max_uses": "3", "subject": "Stickers"})
    assert raised.status_code == 302
    link.refresh_from_db()
    assert (link.max_uses, link.subject, link.return_url) == (3, "Stickers", "")
    assert Client().get(f"/l/{link_id}").status_code == 302


def test_a_link_is_a_product_or_an_amount_and_the_services_refusals_are_shown(owner_client, other_merchant):
    product = Product.objects.get(pk=_product_id(owner_client.post(
        "/portal/products", {"name": "Mug", "price": "5", "currency": "USDT"})))
    cases = [
        ({"product": product.id, "amount": "3", "currency": "USDT"}, "not both"),
        ({}, "Pass a product, or an amount with its currency"),
        ({"amount": "3"}, "Pass a product, or an amount with its currency"),
        ({"amount": "3", "currency": "USDT", "channel": "btc"}, "collects BTC, not USDT"),
        ({"amount": "0", "currency": "USDT"}, "greater than 0"),
        ({"amount": "3", "currency": "USDT", "expires_at": "2001-01-01T00:00"}, "must be in the future"),
    ]
    for data, says in cases:
        refused = owner_client.post("/portal/payment-links", data)
        assert refused.status_code == 400 and says in _errors(refused), (data, _errors(refused))
    theirs = Product.objects.create(merchant=other_merchant.merchant, mode="test", name="Theirs", price=1,
                                    currency="USDT")
    refused = owner_client.post("/portal/payment-links", {"product": theirs.id})
    assert refused.status_code == 400 and "Product: Select a valid choice" in _errors(refused)
    assert PaymentLink.objects.count() == 0

    ends = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    link_id = _link_id(owner_client.post("/portal/payment-links", {"product": product.id, "expires_at": ends}))
    link = PaymentLink.objects.get(pk=link_id)
    assert link.product_id == product.id and link.amount is None
    assert link.expires_at.strftime("%Y-%m-%dT%H:%M") == ends and link.expires_at.utcoffset() == timedelta(0)
    past = (timezone.now() - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    assert owner_client.post(f"/portal/payment-links/{link_id}", {"expires_at": past}).status_code == 302
    assert 'id="link-state">ended<' in owner_client.get(f"/portal/payment-links/{link_id}").content.decode()
    assert Client().get(f"/l/{link_id}").status_code == 404


def test_a_link_switched_off_makes_no_order_until_switched_on(owner_client):
    link_id = _link_id(owner_client.post("/portal/payment-links", {"amount": "2", "currency": "USDT"}))
    assert owner_client.post(f"/portal/payment-links/{link_id}/toggle", {"active": "0"}).status_code == 302
    assert Client().get(f"/l/{link_id}").status_code == 404
    page = owner_client.get("/portal/payment-links").content.decode()
    assert re.search(rf'data-link-id="{link_id}".*?<span class="bad">switched off</span>', page, re.S)
    owner_client.post(f"/portal/payment-links/{link_id}/toggle", {"active": "1"})
    assert Client().get(f"/l/{link_id}").status_code == 302
    assert Order.objects.filter(payment_link_id=link_id).count() == 1


def test_another_merchants_and_the_other_modes_products_and_links_are_404(owner_client, other_merchant):
    theirs = Product.objects.create(merchant=other_merchant.merchant, mode="test", name="Theirs", price=1,
                                    currency="USDT")
    their_link = PaymentLink.objects.create(merchant=other_merchant.merchant, mode="test", amount=1,
                                            currency="USDT")
    for path in (f"/portal/products/{theirs.id}", f"/portal/payment-links/{their_link.id}"):
        assert owner_client.get(path).status_code == 404
        assert owner_client.post(f"{path}/toggle", {"active": "0"}).status_code == 404
    assert owner_client.post(f"/portal/products/{theirs.id}", {"name": "mine", "price": "1",
                                                               "currency": "USDT"}).status_code == 404
    theirs.refresh_from_db()
    their_link.refresh_from_db()
    assert (theirs.active, theirs.name, their_link.active) == (True, "Theirs", True)
    assert "Theirs" not in owner_client.get("/portal/products").content.decode()
    assert f'data-link-id="{their_link.id}"' not in owner_client.get("/portal/payment-links").content.decode()

    mine = _link_id(owner_client.post("/portal/payment-links", {"amount": "2", "currency": "USDT"}))
    owner_client.post("/portal/mode", {"mode": "live"})
    assert owner_client.get(f"/portal/payment-links/{mine}").status_code == 404
    assert f'data-link-id="{mine}"' not in owner_client.get("/portal/payment-links").content.decode()
    live = _link_id(owner_client.post("/portal/payment-links", {"amount": "2", "currency": "USDT"}))
    assert PaymentLink.objects.get(pk=live).mode == "live"


@pytest.mark.parametrize("role, allowed", [("viewer", False), ("developer", True)])
def test_who_may_change_products_and_links(merchant_keys, role, allowed):
    owner = signed_in(make_member(merchant_keys.merchant, role="owner"))
    product = _product_id(owner.post("/portal/products", {"name": "Mug", "price": "5", "currency": "USDT"}))
    link = _link_id(owner.post("/portal/payment-links", {"product": product}))
    client = signed_in(make_member(merchant_keys.merchant, role=role))
    pages = [client.get(path) for path in ("/portal/products", f"/portal/products/{product}",
                                           "/portal/payment-links", f"/portal/payment-links/{link}")]
    assert [p.status_code for p in pages] == [200] * 4  # everyone reads
    assert all(('id="create-' in p.content.decode() or 'id="save-' in p.content.decode()) is allowed
               for p in pages)
    answers = [client.post("/portal/products", {"name": "New", "price": "1", "currency": "USDT"}),
               client.post(f"/portal/products/{product}/toggle", {"active": "0"}),
               client.post("/portal/payment-links", {"amount": "1", "currency": "USDT"}),
               client.post(f"/portal/payment-links/{link}/toggle", {"active": "0"})]
    assert all((a.status_code == 302) is allowed for a in answers), [a.status_code for a in answers]
    if not allowed:
        assert {a.status_code for a in answers} == {403}
        assert Product.objects.count() == 1 and PaymentLink.objects.count() == 1
        assert Product.objects.get().active and PaymentLink.objects.get().active


def test_the_order_filters_by_product_and_the_pages_carry_the_portal_policy(owner_client, api):
    product = _product_id(owner_client.post("/portal/products", {"name": "Mug", "price": "5", "currency": "USDT"}))
    link = _link_id(owner_client.post("/portal/payment-links", {"product": product, "channel": "usdt_trc20"}))
    visit = Client().get(f"/l/{link}")
    assert visit.status_code == 302
    made = Order.objects.get(payment_link_id=link)
    charge(api)
    listed = owner_client.get(f"/portal/orders?product_id={product}").content.decode()
    assert re.findall(r'class="order-link">(ord_[A-Za-z0-9]+)<', listed) == [made.id]
    for path in ("/portal/products", f"/portal/products/{product}", "/portal/payment-links",
                 f"/portal/payment-links/{link}"):
        page = owner_client.get(path)
        html = page.content.decode()
        assert page["Content-Security-Policy"] == PORTAL_POLICY
        assert "<script" not in html and "<style" not in html and not re.search(r"\son[a-z]+=", html)
