"""The merchant portal in a real browser: Debian's chromium driven by Playwright against
pytest-django's live server (the pattern of tests/test_api_docs.py). One browser for the
module, a fresh context (cookies) per test.

Webhook deliveries are attempted by calling the worker's own function (delivery_attempt) in
the test, where `make run` has a Celery worker do it: the receiver is a real HTTP server.

Deposit refunds run on a live ETH order paid on the session's anvil (testing/evm_settlements.py's
`evm` fixture); the live server's thread and the test share the test database (committed
rows: the browser tests are transactional, through `shop`), and the refunds' beat job runs
in the test (refund_until).

FLUXA_WRITE_SCREENSHOTS=1 writes docs/portal/*.png (the README shows them).
"""

from __future__ import annotations

import csv
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image

from checkout.models import PaymentLink
from fluxa_client import FluxaClient, verify_webhook
from orders.models import Order
from refunds.models import Refund
from testing.client import charge, charge_to_pay, make_merchant
from testing.evm_settlements import WEI, evm, new_address  # noqa: F401  (evm: the fixture)
from testing.httpserver import QuietHandler, serve, url_of
from testing.portal import PASSWORD, make_member
from webhooks.models import Delivery
from webhooks.services import delivery_attempt

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "portal"


@pytest.fixture
def page(live_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda err: problems.append(str(err)))
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status == 404 else None)
    tab.base = live_server.url
    tab.problems = problems
    try:
        yield tab
    finally:
        context.close()


def shot(page, name: str, *, full_page: bool = True) -> None:
    if os.environ.get("FLUXA_WRITE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto(page.base + "/portal/login")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")


@pytest.fixture
def shop(transactional_db):
    keys = make_merchant(name="Coffee Roasters", email="owner@coffee.example")
    owner = make_member(keys.merchant, role="owner", email="owner@coffee.example")
    return keys, owner


def test_sign_in_make_a_key_use_it_revoke_it_and_sign_out(page, shop):
    keys, owner = shop
    sign_in(page, owner.user.email, "not the password")
    assert "do not match a portal account" in page.locator("#login-error").inner_text()
    shot(page, "login")

    sign_in(page, owner.user.email)
    page.wait_for_url(page.base + "/portal/")
    assert "TEST MODE" in page.locator("#mode-banner").inner_text()

    page.click("text=API keys")
    page.fill("#id_label", "shop backend")
    page.click("#create-key-submit")
    key_id = page.locator("#new-key-id").inner_text()
    secret = page.locator("#new-key-secret").inner_text()
    assert key_id.startswith("fk_test_") and len(secret) > 30
    client = FluxaClient(page.base, key_id=key_id, secret=secret)
    status, body = client.request("GET", "/api/v1/account")
    assert (status, body["key_id"], body["merchant_id"]) == (200, key_id, keys.merchant.id)

    page.goto(page.base + "/portal/keys")  # the secret is gone for good
    assert secret not in page.content()
    row = page.locator(f"tr.key-row[data-key-id='{key_id}']")
    assert "never" not in row.inner_text()  # last use is shown
    shot(page, "keys")
    row.locator("button.revoke").click()
    assert "revoked" in page.locator(f"tr.key-row[data-key-id='{key_id}']").inner_text()
    status, body = client.request("GET", "/api/v1/account")
    assert (status, body["error"]["code"]) == (401, "api_key_revoked")

    page.click("#logout")
    page.wait_for_url("**/portal/login")
    page.goto(page.base + "/portal/keys")
    assert "/portal/login" in page.url
    assert not page.problems, page.problems


def test_orders_browse_filter_open_simulate_export_and_others_are_404(page, shop):
    keys, owner = shop
    made = [charge(keys.test, merchant_order_id=f"INV-{n}", customer={"email": f"buyer{n}@example.com",
                                                                      "name": f"Buyer {n}"})["order"]["id"]
            for n in range(1, 4)]
    charge(keys.test, merchant_order_id="GIFT-1")
    theirs = charge(make_merchant(name="Other", email="other@example.com").test)["order"]["id"]

    sign_in(page, owner.user.email)
    page.wait_for_url(page.base + "/portal/")
    shot(page, "dashboard")
    page.click("nav.portal-nav >> text=Orders")
    assert page.locator("tr.order-row").count() == 4
    page.fill("#id_merchant_order_id_prefix", "INV-")
    page.click("#apply-filters")
    page.wait_for_url("**merchant_order_id_prefix=INV-**")
    assert page.locator("a.order-link").all_inner_texts() == list(reversed(made))
    page.fill("#id_customer", "Buyer 2")
    page.click("#apply-filters")
    page.wait_for_url("**customer=Buyer**")
    assert page.locator("a.order-link").all_inner_texts() == [made[1]]
    shot(page, "orders")

    with page.expect_download() as download:
        page.click("#csv-export")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["id"], r["customer_name"], r["amount"]) for r in rows] == [(made[1], "Buyer 2", "49.9")]

    page.click(f"text={made[1]}")
    assert page.locator("#order-status").inner_text() == "created"
    page.click("#simulate-payment")
    page.locator("#order-status", has_text="paid").wait_for()
    assert Order.objects.get(pk=made[1]).status == "paid"
    confirmations = page.locator("td.confirmations").first.inner_text()
    required = Order.objects.get(pk=made[1]).channel.required_confirmations
    assert confirmations == f"{required} of {required}"
    assert "created → pending" in page.locator("#timeline").inner_text() or "→ paid" in page.locator(
        "#timeline").inner_text()
    shot(page, "order")

    assert page.goto(page.base + f"/portal/orders/{theirs}").status == 404
    assert len(page.problems) == 2  # that 404, as the response and on the console
    page.problems.clear()

    # On a phone the list still reads (the table scrolls inside its card, not the page).
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base + "/portal/orders")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    shot(page, "orders-phone", full_page=False)
    assert not page.problems, page.problems


def test_custodial_refund_from_the_order_page(page, shop):
    from charges.models import Channel

    keys, owner = shop
    Channel.objects.filter(code="usdt_trc20").update(settlement_mode="custodial")
    order_id = charge(keys.test, channel="usdt_trc20", network=None, amount="30", currency="USDT")["order"]["id"]
    sign_in(page, owner.user.email)
    page.wait_for_url(page.base + "/portal/")
    page.goto(page.base + f"/portal/orders/{order_id}")
    page.click("#simulate-payment")
    page.locator("#order-status", has_text="paid").wait_for()
    page.fill("#refund-form input[name=amount]", "10")
    page.fill("#refund-form input[name=reason]", "one bag was missing")
    page.click("#refund-submit")
    page.locator("#order-status", has_text="partially_refunded").wait_for()
    assert "10 USDT" in page.locator("tr.refund-row").first.inner_text()
    page.fill("#refund-form input[name=amount]", "25")  # more than the 20 left
    page.fill("#refund-form input[name=reason]", "too much")
    page.click("#refund-submit")
    assert "refund_exceeds_balance" in page.locator(".msg.error").inner_text()
    page.fill("#refund-form input[name=reason]", "the rest")
    page.click("#refund-submit")  # amount empty: all that is left
    page.locator("#order-status", has_text="refunded").wait_for()
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.refunded_amount) == ("refunded", order.amount)
    assert page.locator("tr.refund-row").count() == 2


class _Receiver(QuietHandler):
    seen: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"headers": dict(self.headers), "body": body})
        self.reply(200, b'{"ok": true}')


def _deliver_due() -> int:
    """What the Celery worker does with each delivery due (webhooks/tasks.py)."""
    now = timezone.now()
    due = list(Delivery.objects.filter(status="pending", next_attempt_at__lte=now).values_list("pk", flat=True))
    return sum(delivery_attempt(delivery_id=pk, now=now) is not None for pk in due)


def test_webhook_endpoint_create_test_event_and_redeliver(page, shop, settings):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = True
    keys, owner = shop
    _Receiver.seen = []
    with serve(_Receiver) as server:
        sign_in(page, owner.user.email)
        page.wait_for_url(page.base + "/portal/")
        page.click("nav.portal-nav >> text=Webhooks")
        page.fill("#id_url", url_of(server, "/hooks/fluxa"))
        page.fill("#id_description", "order system")
        page.click("#create-endpoint-submit")
        secret = page.locator("#new-endpoint-secret").inner_text()
        endpoint_id = page.locator("#new-endpoint-id").inner_text()
        assert secret.startswith("whsec_")

        page.locator(f"tr.endpoint-row[data-endpoint-id='{endpoint_id}'] button.send-test").click()
        page.wait_for_url("**/portal/deliveries?endpoint=**")
        assert _deliver_due() == 1
        page.reload()
        assert "succeeded" in page.locator("tr.delivery-row").first.inner_text()
        shot(page, "deliveries")
        first = _Receiver.seen[0]
        event = json.loads(first["body"])
        assert event["type"] == "webhook.test"
        assert verify_webhook(secret=secret, timestamp=first["headers"]["X-Fluxa-Timestamp"], body=first["body"],
                              signature=first["headers"]["X-Fluxa-Signature"])

        page.locator("tr.delivery-row button.redeliver").first.click()
        assert "sent again" in page.locator(".msg.success").inner_text()
        assert _deliver_due() == 1
        again = _Receiver.seen[1]
        assert json.loads(again["body"])["id"] == event["id"]  # the same event, once more
        page.reload()
        assert "2" in page.locator("tr.delivery-row").first.locator("td").nth(4).inner_text()

        page.click("nav.portal-nav >> text=Webhooks")
        assert secret not in page.content()
        shot(page, "webhooks")


def test_a_viewer_reads_but_is_refused_every_change(page, shop):
    keys, _ = shop
    viewer = make_member(keys.merchant, role="viewer", email="viewer@coffee.example")
    order_id = charge(keys.test)["order"]["id"]
    sign_in(page, viewer.user.email)
    page.wait_for_url(page.base + "/portal/")
    page.goto(page.base + "/portal/keys")
    assert page.locator("#create-key").count() == 0 and page.locator("button.revoke").count() == 0
    page.goto(page.base + f"/portal/orders/{order_id}")
    assert page.locator("#simulate-payment").count() == 0
    # A hand-made POST with a valid CSRF token is refused all the same.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(page.base + "/portal/keys", form={"label": "sneaky", "csrfmiddlewaretoken": token},
                               headers={"Referer": page.base + "/portal/keys"})
    assert answer.status == 403
    answer = page.request.post(page.base + f"/portal/orders/{order_id}/simulate",
                               form={"csrfmiddlewaretoken": token}, headers={"Referer": page.base + "/portal/"})
    assert answer.status == 403
    assert Order.objects.get(pk=order_id).status == "created"
    assert not keys.merchant.api_keys.filter(label="sneaky").exists()


def test_a_product_and_its_payment_link_made_in_the_portal_sell_to_a_payer(page, shop):
    keys, owner = shop
    sign_in(page, owner.user.email)
    page.wait_for_url(page.base + "/portal/")
    page.click("nav.portal-nav >> text=Products")
    page.fill("#id_name", "Ethiopia Guji, 250 g")
    page.fill("#id_price", "0")
    page.fill("#id_currency", "USDT")
    page.click("#create-product-submit")
    assert "must be greater than 0" in page.locator("#product-errors").inner_text()  # the service's rule
    assert [p for p in page.problems if "400" not in p] == []  # the refused form answers 400
    page.problems.clear()
    page.fill("#id_price", "14.50")
    page.click("#create-product-submit")
    assert "is saved" in page.locator(".msg.success").inner_text()
    product_id = page.url.rsplit("/", 1)[1]
    assert product_id.startswith("prd_") and page.locator("#product-state").inner_text() == "on sale"

    page.click("#new-link-for-product")
    assert page.locator("#id_product").input_value() == product_id
    page.select_option("#id_channel", "usdt_trc20")
    page.fill("#id_max_uses", "5")
    page.fill("#id_return_url", "https://coffee.example/thanks")
    page.click("#create-link-submit")
    link_id = page.url.rsplit("/", 1)[1]
    url = page.locator("#link-url").inner_text()
    assert link_id.startswith("pl_") and url == f"{page.base}/l/{link_id}"
    # The QR the merchant prints is the address shown.
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator("#link-qr").screenshot())))
    assert [code.text for code in found] == [url]
    shot(page, "payment-link")

    payer = page.context.new_page()
    payer.goto(url)
    assert "/pay/" in payer.url
    assert "14.5" in payer.locator("main").inner_text() and "USDT" in payer.locator("main").inner_text()
    payer.close()

    page.reload()
    assert page.locator("#link-uses").inner_text() == "1 of 5"
    page.click("#link-orders")
    rows = page.locator("tr.order-row")
    assert rows.count() == 1
    order_id = rows.first.locator("a.order-link").inner_text()
    assert Order.objects.get(pk=order_id).payment_link_id == link_id
    rows.first.locator("a.order-link").click()
    assert page.locator("#order-link").inner_text() == link_id
    assert page.locator("#order-product").inner_text() == product_id

    page.goto(page.base + f"/portal/payment-links/{link_id}")
    page.click("#toggle-link")
    assert page.locator("#link-state").inner_text() == "switched off"
    assert "makes no order now" in page.locator("#link-why").inner_text()
    gone = page.request.get(url, max_redirects=0)
    assert gone.status == 404 and PaymentLink.objects.get(pk=link_id).uses == 1
    page.goto(page.base + "/portal/payment-links")
    assert page.locator(f"tr.link-row[data-link-id='{link_id}']").count() == 1
    page.goto(page.base + "/portal/products")
    shot(page, "products")
    assert not page.problems, page.problems


# --- deposit refunds: a live ETH order on the session's anvil ------------------------------------


def _live_order_page(page, email: str, order_id: str) -> None:
    sign_in(page, email)
    page.wait_for_url(page.base + "/portal/")
    page.click("#mode-switch")  # live orders are seen in live mode
    page.locator("#mode-banner", has_text="LIVE MODE").wait_for()
    page.goto(page.base + f"/portal/orders/{order_id}")


def test_a_canceled_live_order_is_refunded_from_its_page_at_the_quoted_net(page, shop, evm):
    keys, owner = shop
    payer = new_address()
    # A live ETH charge with the payer's refund address, paid in part on anvil, then canceled.
    evm.fresh_head()
    order_id, deposit = charge_to_pay(keys.live, channel="eth", currency="ETH", amount="0.05", refund_address=payer)
    evm.send_eth(deposit, int(Decimal("0.02") * WEI))
    evm.mine(1)
    evm.scan()
    assert keys.live.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).status_code == 200

    _live_order_page(page, owner.user.email, order_id)
    assert page.locator("#order-status").inner_text() == "canceled"
    assert page.locator("#deposit-refund-stuck").inner_text() == "0.02 ETH"
    assert page.locator("#id_refund_address").input_value().lower() == payer  # the order's refund address
    page.fill("#id_refund_address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    page.click("#deposit-refund-get-quote")
    assert "invalid_address" in page.locator(".msg.error").inner_text()  # the service's refusal
    assert page.locator("#id_refund_address").input_value() == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert [p for p in page.problems if "400" not in p] == []  # the refused quote answers 400
    page.problems.clear()

    page.fill("#id_refund_address", payer)
    page.click("#deposit-refund-get-quote")
    assert page.locator("#quote-amount").inner_text() == "0.02 ETH"
    assert "the payer" in page.locator("#quote-paid-by").inner_text()
    net = Decimal(page.locator("#quote-net").inner_text().removesuffix(" ETH"))
    cost = Decimal(page.locator("#quote-network-cost").inner_text().split(" ")[0])
    assert net + cost == Decimal("0.02") and 0 < cost < Decimal("0.001")
    assert "0.02 ETH leaves the deposit address" in page.locator("#quote-message").inner_text()
    assert not Refund.objects.filter(order_id=order_id).exists()  # a quote writes nothing
    shot(page, "order-refund-quote")

    page.click("#deposit-refund-confirm")
    page.wait_for_url(f"**/portal/orders/{order_id}")
    row = page.locator("tr.refund-row")
    assert row.count() == 1 and row.locator(".refund-status").inner_text() == "pending"
    assert f"{net} ETH" in row.locator(".refund-net").inner_text()
    assert page.locator("#deposit-refund").count() == 0  # nothing more to refund while it is in flight
    refund = Refund.objects.get(order_id=order_id)
    assert (refund.kind, refund.quoted_net, refund.actor) == ("deposit", net, f"portal:{owner.user.email}")

    evm.refund_until(lambda: Refund.objects.get(order_id=order_id).status == "confirmed")  # the beat job
    page.reload()

    refund.refresh_from_db()
    row = page.locator("tr.refund-row")
    assert row.locator(".refund-status").inner_text() == "confirmed"
    assert row.locator(".refund-net").inner_text() == f"{net} ETH"
    assert row.locator(".refund-tx a").get_attribute("href") == f"https://etherscan.io/tx/{refund.tx_hash}"
    assert refund.tx_hash.startswith("0x") and len(refund.tx_hash) == 66
    assert page.locator("#order-status").inner_text() == "refunded"
    # On the chain: the payer holds exactly the net the page quoted; the deposit is empty.
    assert evm.balance(payer) == int(net * WEI)
    assert evm.balance(deposit) == 0

    page.click("nav.portal-nav >> text=Settings")
    assert "order's refund address by themselves" in page.locator("#auto-refund-help").inner_text()
    assert not page.locator("#id_auto_refund").is_checked()  # off by default
    page.check("#id_auto_refund")
    page.click("#settings-form button[type=submit]")
    assert "Settings saved" in page.locator(".msg.success").inner_text()
    page.reload()
    assert page.locator("#id_auto_refund").is_checked()
    keys.merchant.refresh_from_db()
    assert keys.merchant.auto_refund is True
    assert not page.problems, page.problems


def test_a_viewer_sees_no_deposit_refund_form_and_its_post_is_refused(page, shop, evm):
    keys, _ = shop
    viewer = make_member(keys.merchant, role="viewer", email="viewer@coffee.example")
    order_id, _ = evm.canceled_order(keys.live, eth="0.02", due="0.05")

    _live_order_page(page, viewer.user.email, order_id)
    assert page.locator("#order-status").inner_text() == "canceled"
    assert page.locator("#deposit-refund").count() == 0 and page.locator("#deposit-refund-get-quote").count() == 0
    assert "an owner" in page.locator("#deposit-refund-role").inner_text()
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    url = page.base + f"/portal/orders/{order_id}/deposit-refund"
    posted = page.request.post(url, form={"refund_address": new_address(), "net": "0.0199",
                                          "csrfmiddlewaretoken": token}, headers={"Referer": url})
    assert posted.status == 403
    assert page.request.get(url + "?refund_address=" + new_address()).status == 403
    assert not Refund.objects.filter(order_id=order_id).exists()
    assert Order.objects.get(pk=order_id).status == "canceled"
