"""The hosted checkout in a real browser (Debian's chromium through Playwright), against the
live server: the page of a test order (address, amount, the QR decoded and compared with the
copied payment request), a partial payment seen without a reload, then paid with the return
link; an expired order; the channel chooser; a payment link making an order per visit; the
page in German; the page without JavaScript.

One browser for the module, a fresh context per test. FLUXA_WRITE_SCREENSHOTS=1 writes the
pictures under docs/checkout/ (desktop and phone width) that the README shows.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from charges.rates import ExchangeRate
from orders.models import Order
from orders.services import orders_expire_due
from testing.client import charge, simulate_payment

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "checkout"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def open_context(browser, live_server, settings):
    """new(**options) -> a fresh browser context; every one is closed after the test."""
    settings.FLUXA_CHECKOUT_POLL_SECONDS = 1
    made = []

    def new(**options):
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()


@pytest.fixture
def rates(transactional_db):
    now = timezone.now()
    for base, rate in (("USDT", "0.92"), ("USDC", "0.92"), ("ETH", "3000"), ("TRX", "0.11"), ("LTC", "80"),
                       ("BTC", "60000"), ("SOL", "150"), ("XRP", "0.5"), ("BNB", "500"), ("POL", "0.4")):
        ExchangeRate.objects.update_or_create(base=base, quote="EUR", defaults={
            "rate": Decimal(rate), "source": "median(test)", "sources_used": [], "fetched_at": now})


def _shoot(page, name: str) -> None:
    if os.environ.get("FLUXA_WRITE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True, animations="disabled")


def _checkout_path(api, order_id: str) -> str:
    return urlsplit(api.get(f"/api/v1/orders/{order_id}").body["checkout_url"]).path


def _decode_qr(page) -> str:
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(page.locator("#qr").screenshot()))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, found
    return found[0].text


def _watch(page, problems: list):
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda err: problems.append(str(err)))


def test_the_payer_sees_address_amount_and_qr_then_still_due_then_paid_without_a_reload(
        live_server, api, open_context):
    body = charge(api, amount="10", currency="USDT", subject="Blue mug", return_url="https://shop.example/thanks")
    order_id, address = body["order"]["id"], body["instruction"]["deposit_address"]
    context = open_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems, navigations = [], []
    _watch(page, problems)
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    answer = page.goto(live_server.url + _checkout_path(api, order_id))
    assert answer.status == 200
    assert page.locator("#address").inner_text() == address
    assert page.locator("#amount").inner_text() == "10"
    warning = page.locator(".warning").inner_text()
    assert "TRON Nile testnet" in warning and "USDT" in warning
    assert page.locator("#status").get_attribute("aria-live") == "polite"
    # The QR, the payment request shown, the copied text and the wallet link are one string.
    uri = page.locator("#uri").inner_text()
    assert uri == body["instruction"]["payment_uri"]
    assert _decode_qr(page) == uri
    _shoot(page, "checkout-desktop.png")
    page.set_viewport_size(PHONE)
    _shoot(page, "checkout-phone.png")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Copy payment request").click()
    assert page.evaluate("navigator.clipboard.readText()") == uri
    page.get_by_role("button", name="Copy address").click()
    assert page.evaluate("navigator.clipboard.readText()") == address
    assert page.get_by_role("link", name="Open in wallet").get_attribute("href") == uri
    assert page.locator("#countdown").inner_text().count(":") >= 1  # the script counts down
    page.evaluate("window.fluxaTestMarker = 'kept'")
    page.set_viewport_size(PHONE)

    simulate_payment(api, order_id, amount="4")
    page.locator("#status").filter(has_text="6 USDT still due").wait_for()
    assert page.locator("#amount").inner_text() == "6"
    assert page.get_by_text("Still due", exact=True).is_visible()
    remainder = page.locator("#uri").inner_text()
    assert remainder != uri and "amount=6" in remainder
    page.locator("#qr").scroll_into_view_if_needed()
    page.wait_for_function("document.getElementById('qr').complete")
    assert _decode_qr(page) == remainder
    _shoot(page, "checkout-partial-phone.png")

    simulate_payment(api, order_id)  # the rest, with its confirmations
    page.locator("#status").filter(has_text="Paid").wait_for()
    back = page.get_by_role("link", name="Back to Acme")
    assert back.is_visible() and back.get_attribute("href") == "https://shop.example/thanks"
    assert page.locator("#pay").is_hidden() and page.locator("#receipt").is_visible()
    page.set_viewport_size(DESKTOP)
    _shoot(page, "checkout-paid-desktop.png")

    assert page.evaluate("window.fluxaTestMarker") == "kept"  # the same document all along
    assert len(navigations) == 1, navigations
    assert not problems, problems  # no script error, no CSP violation


def test_an_expired_order_says_so_and_leads_back_to_the_shop(live_server, api, open_context):
    body = charge(api, cancel_url="https://shop.example/cart")
    Order.objects.filter(pk=body["order"]["id"]).update(expires_at=timezone.now() - timedelta(seconds=5))
    orders_expire_due()
    page = open_context().new_page()
    page.goto(live_server.url + _checkout_path(api, body["order"]["id"]))
    assert "expired before the payment arrived" in page.locator("#status").inner_text()
    assert page.locator("#pay").is_hidden()
    assert page.get_by_role("link", name="Back to Acme").get_attribute("href") == "https://shop.example/cart"


def test_the_payer_chooses_a_channel_and_gets_its_address(live_server, api, rates, open_context):
    body = charge(api, amount="20", currency="EUR", network=None, instruction="redirect", subject="Gift card")
    page = open_context(viewport=PHONE).new_page()
    problems = []
    _watch(page, problems)
    page.goto(live_server.url + urlsplit(body["instruction"]["redirect_url"]).path)
    assert page.locator("#status").inner_text() == "Choose how you want to pay."
    _shoot(page, "checkout-chooser-phone.png")
    page.get_by_label("USDT (TRC-20)").check()
    page.get_by_role("button", name="Continue").click()
    page.locator("#address").wait_for()

    order = Order.objects.get(pk=body["order"]["id"])
    assert order.channel_id == "usdt_trc20" and order.amount_due == Decimal("21.739131")
    assert page.locator("#address").inner_text() == order.deposit_address
    assert page.locator("#amount").inner_text() == "21.739131"
    assert _decode_qr(page) == order.payment_uri
    assert not problems, problems


def test_a_payment_link_makes_an_order_per_visit(live_server, api, open_context):
    link = api.post("/api/v1/payment_links", {"amount": "3", "currency": "USDT", "channel": "usdt_trc20",
                                              "subject": "Coffee"}).body
    page = open_context().new_page()
    seen = []
    for _ in range(2):
        page.goto(link["url"].replace("http://testserver", live_server.url))
        assert urlsplit(page.url).path.startswith("/pay/")
        assert page.locator("h1").inner_text() == "Coffee"
        seen.append((page.url, page.locator("#address").inner_text()))
    assert seen[0] != seen[1]
    orders = api.get("/api/v1/orders", query=f"payment_link_id={link['id']}").body
    assert orders["total"] == 2


def test_the_page_in_german(live_server, api, open_context):
    body = charge(api)
    page = open_context(locale="de-DE").new_page()
    page.goto(live_server.url + _checkout_path(api, body["order"]["id"]))
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("#status").inner_text() == "Wir warten auf Ihre Zahlung."
    assert page.get_by_role("button", name="Adresse kopieren").is_visible()
    simulate_payment(api, body["order"]["id"], amount="10")
    page.locator("#status").filter(has_text="noch 39.9 USDT offen").wait_for()  # the polled text is German too


def test_without_javascript_the_page_works_and_refreshes_itself(live_server, api, open_context):
    body = charge(api, amount="10", currency="USDT")
    context = open_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url + _checkout_path(api, body["order"]["id"]))
    assert page.locator("#address").inner_text() == body["instruction"]["deposit_address"]
    assert page.locator("#amount").inner_text() == "10"
    assert page.locator("button.copy").first.is_hidden()  # copy needs the script: not offered
    assert page.locator("noscript meta[http-equiv=refresh]").count() == 1
    assert page.get_by_role("link", name="reload it now").is_visible()
    assert _decode_qr(page) == body["instruction"]["payment_uri"]

    simulate_payment(api, body["order"]["id"], amount="4")
    page.reload()
    assert "6 USDT still due" in page.locator("#status").inner_text()
    assert page.get_by_text("Still due", exact=True).is_visible()
    assert "amount=6" in page.locator("#uri").inner_text()
