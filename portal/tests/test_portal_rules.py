"""The portal's rules through Django's test client (the browser tests are in
tests/test_portal_browser.py): scoping, roles, CSRF, throttling, sessions, two-factor,
secrets shown once, security headers, the createmerchant owner."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from api.csp import PORTAL_POLICY
from merchants.models import ApiKey, Notice, PayoutAddress
from orders.models import Order
from refunds.models import Refund
from portal.access import SEEN_KEY, SIGNED_IN_KEY
from testing.client import charge, simulate_payment
from testing.portal import PASSWORD, make_member, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(merchant_keys):
    return make_member(merchant_keys.merchant, role="owner")


@pytest.fixture
def owner_client(owner):
    return signed_in(owner)


def test_root_sends_a_visitor_to_the_portal_and_the_portal_to_its_login():
    client = Client()
    assert client.get("/")["Location"] == "/portal/"
    answer = client.get("/portal/orders")
    assert answer.status_code == 302 and answer["Location"] == "/portal/login?next=%2Fportal%2Forders"


def test_login_page_is_djangos_form_with_csrf_and_security_headers():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/portal/login")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="username"' in html and 'name="password"' in html and 'name="csrfmiddlewaretoken"' in html
    assert page["Content-Security-Policy"] == PORTAL_POLICY
    assert "frame-ancestors 'none'" in PORTAL_POLICY and "'unsafe-inline'" not in PORTAL_POLICY
    assert page["X-Frame-Options"] == "DENY" and page["Cache-Control"] == "no-store"
    assert "<script" not in html and "<style" not in html and not re.search(r"\son[a-z]+=", html)


def test_wrong_password_is_refused_and_the_right_one_signs_in(owner):
    client = Client()
    refused = client.post("/portal/login", {"username": owner.user.email, "password": "nope"})
    assert refused.status_code == 200 and b"do not match a portal account" in refused.content
    assert client.get("/portal/").status_code == 302
    ok = client.post("/portal/login", {"username": owner.user.email.upper(), "password": PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_post_without_csrf_token_is_refused(owner):
    client = signed_in(owner, enforce_csrf=True)
    answer = client.post("/portal/keys", {"label": "x"})
    assert answer.status_code == 403
    assert ApiKey.objects.filter(label="x").count() == 0
    token = client.cookies["csrftoken"].value
    assert client.post("/portal/keys", {"label": "x", "csrfmiddlewaretoken": token}).status_code == 200
    assert ApiKey.objects.filter(label="x").count() == 1


def test_logins_are_throttled_after_the_failure_rate(owner, settings):
    settings.FLUXA_LOGIN_FAILURE_RATE = "3/h"
    client = Client()
    for _ in range(3):
        client.post("/portal/login", {"username": owner.user.email, "password": "wrong"})
    answer = client.post("/portal/login", {"username": owner.user.email, "password": PASSWORD})
    assert answer.status_code == 200  # the right password too, until the window ends
    assert client.get("/portal/").status_code == 302


def test_a_session_ends_after_its_idle_limit(owner_client, settings):
    assert owner_client.get("/portal/").status_code == 200
    session = owner_client.session
    session[SEEN_KEY] = int(time.time()) - settings.FLUXA_PORTAL_IDLE_SECONDS - 1
    session.save()
    answer = owner_client.get("/portal/")
    assert answer.status_code == 302 and "/portal/login" in answer["Location"]
    assert owner_client.get("/portal/").status_code == 302  # signed out for good


def test_a_session_ends_after_its_age(owner_client, settings):
    session = owner_client.session
    session[SIGNED_IN_KEY] = int(time.time()) - settings.FLUXA_PORTAL_SESSION_SECONDS - 1
    session.save()
    assert owner_client.get("/portal/").status_code == 302


def test_another_merchants_order_is_404(owner_client, other_merchant, api):
    theirs = charge(other_merchant.test)["order"]["id"]
    mine = charge(api)["order"]["id"]
    assert owner_client.get(f"/portal/orders/{mine}").status_code == 200
    assert owner_client.get(f"/portal/orders/{theirs}").status_code == 404
    assert owner_client.post(f"/portal/orders/{theirs}/status", {"status": "canceled"}).status_code == 404
    assert Order.objects.get(pk=theirs).status == "created"
    other_key = other_merchant.merchant.api_keys.first().key_id
    assert owner_client.post(f"/portal/keys/{other_key}/revoke").status_code == 404
    assert ApiKey.objects.get(key_id=other_key).revoked_at is None


def test_the_live_mode_does_not_show_test_orders(owner_client, api):
    mine = charge(api)["order"]["id"]
    owner_client.post("/portal/mode", {"mode": "live"})
    assert owner_client.get(f"/portal/orders/{mine}").status_code == 404
    assert b"LIVE MODE" in owner_client.get("/portal/").content
    owner_client.post("/portal/mode", {"mode": "test"})
    assert b"TEST MODE" in owner_client.get("/portal/").content


@pytest.mark.parametrize("role, allowed", [("viewer", False), ("developer", True), ("owner", True)])
def test_who_may_make_keys(merchant_keys, role, allowed):
    client = signed_in(make_member(merchant_keys.merchant, role=role))
    answer = client.post("/portal/keys", {"label": "ci"})
    assert (answer.status_code == 200) is allowed
    assert ApiKey.objects.filter(label="ci").exists() is allowed
    if not allowed:
        assert answer.status_code == 403


@pytest.mark.parametrize("role", ["viewer", "developer"])
def test_only_the_owner_changes_payout_addresses_settings_and_refunds(merchant_keys, api, role):
    client = signed_in(make_member(merchant_keys.merchant, role=role))
    order_id = charge(api, channel="usdt_trc20", network=None)["order"]["id"]
    assert client.post("/portal/payout-addresses", {"network": "tron", "address": "x"}).status_code == 403
    assert client.post("/portal/settings", {"default_expiry_seconds": 60, "underpaid_tolerance_percent": 1}
                       ).status_code == 403
    assert client.post(f"/portal/orders/{order_id}/refund", {"reason": "r"}).status_code == 403
    deposit_refund = f"/portal/orders/{order_id}/deposit-refund"
    assert client.get(deposit_refund, {"refund_address": "0x" + "11" * 20}).status_code == 403
    assert client.post(deposit_refund, {"refund_address": "0x" + "11" * 20, "net": "1"}).status_code == 403
    assert not Refund.objects.exists()
    assert client.get("/portal/payout-addresses").status_code == 200  # reading is allowed
    viewer_can_change = client.post(f"/portal/orders/{order_id}/status", {"status": "canceled"}).status_code
    assert viewer_can_change == (403 if role == "viewer" else 302)


def test_a_key_secret_is_shown_once(owner_client, merchant_keys):
    made = owner_client.post("/portal/keys", {"label": "shop"})
    key = ApiKey.objects.get(label="shop")
    secret = re.search(r'id="new-key-secret">([^<]+)<', made.content.decode()).group(1)
    assert key.reveal_secret() == secret and made["Cache-Control"] == "no-store"
    for page in ("/portal/keys", "/portal/", "/portal/webhooks"):
        assert secret.encode() not in owner_client.get(page).content
    rolled = owner_client.post(f"/portal/keys/{key.key_id}/roll")
    new_secret = re.search(r'id="new-key-secret">([^<]+)<', rolled.content.decode()).group(1)
    key.refresh_from_db()
    assert key.revoked_at is not None and new_secret != secret
    assert new_secret.encode() not in owner_client.get("/portal/keys").content


def test_a_webhook_secret_is_shown_once_and_rotation_keeps_the_old_one_for_the_overlap(owner_client, settings):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = True
    made = owner_client.post("/portal/webhooks", {"url": "http://127.0.0.1:9/hook", "description": "d"})
    secret = re.search(r'id="new-endpoint-secret">([^<]+)<', made.content.decode()).group(1)
    endpoint_id = re.search(r'id="new-endpoint-id">([^<]+)<', made.content.decode()).group(1)
    assert secret.startswith("whsec_")
    assert secret.encode() not in owner_client.get("/portal/webhooks").content
    rotated = owner_client.post(f"/portal/webhooks/{endpoint_id}/rotate", {"overlap_seconds": 3600})
    new_secret = re.search(r'id="new-endpoint-secret">([^<]+)<', rotated.content.decode()).group(1)
    from django.utils import timezone

    from webhooks.models import WebhookEndpoint
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert endpoint.signing_secrets(timezone.now()) == [new_secret, secret]
    page = owner_client.get("/portal/webhooks").content
    assert secret.encode() not in page and new_secret.encode() not in page


def test_live_payout_change_needs_the_password_and_leaves_a_notice(owner_client, merchant_keys):
    owner_client.post("/portal/mode", {"mode": "live"})
    first = "0x" + "11" * 20
    second = "0x" + "22" * 20
    refused = owner_client.post("/portal/payout-addresses", {"network": "ethereum", "address": first})
    assert refused.status_code == 400 and not PayoutAddress.objects.exists()
    assert owner_client.post("/portal/payout-addresses", {"network": "ethereum", "address": first,
                                                          "password": PASSWORD}).status_code == 302
    invalid = owner_client.post("/portal/payout-addresses", {"network": "ethereum", "address": "0x1234",
                                                             "password": PASSWORD})
    assert invalid.status_code == 400 and b"address" in invalid.content
    owner_client.post("/portal/payout-addresses", {"network": "ethereum", "address": second, "password": PASSWORD})
    payout = PayoutAddress.objects.get(merchant=merchant_keys.merchant, mode="live", network="ethereum")
    assert payout.address.lower() == second
    notice = Notice.objects.get(merchant=merchant_keys.merchant, kind="payout_address_changed")
    assert second[2:] in notice.message.lower()
    assert notice.message.encode()[:40] in owner_client.get("/portal/").content


def _auto_refund_box(page) -> str:
    return re.search(r'<input[^>]*id="id_auto_refund"[^>]*>', page.content.decode()).group(0)


def test_settings_are_saved_through_the_service_and_the_fee_is_shown(owner_client, merchant_keys):
    page = owner_client.get("/portal/settings")
    assert b'id="fee"' in page.content
    bad = owner_client.post("/portal/settings", {"default_expiry_seconds": 5, "underpaid_tolerance_percent": "1"})
    assert bad.status_code == 400
    assert "checked" not in _auto_refund_box(page)  # off by default
    ok = owner_client.post("/portal/settings", {"default_expiry_seconds": 900, "underpaid_tolerance_percent": "1.5",
                                                "accept_late_payments": "", "auto_refund": "on"})
    assert ok.status_code == 302
    merchant_keys.merchant.refresh_from_db()
    assert (merchant_keys.merchant.default_expiry_seconds, merchant_keys.merchant.underpaid_tolerance_percent,
            merchant_keys.merchant.accept_late_payments, merchant_keys.merchant.auto_refund) == (
        900, Decimal("1.5"), False, True)
    assert "checked" in _auto_refund_box(owner_client.get("/portal/settings"))
    owner_client.post("/portal/settings", {"default_expiry_seconds": 900, "underpaid_tolerance_percent": "1.5"})
    merchant_keys.merchant.refresh_from_db()
    assert merchant_keys.merchant.auto_refund is False


def test_order_actions_give_the_apis_warnings(owner_client, api):
    order_id = charge(api)["order"]["id"]
    answer = owner_client.post(f"/portal/orders/{order_id}/status", {"status": "paid"}, follow=True)
    assert "no_funds_received" in answer.content.decode()
    assert Order.objects.get(pk=order_id).status == "paid"
    again = owner_client.post(f"/portal/orders/{order_id}/status", {"status": "paid"}, follow=True)
    assert "no_change" in again.content.decode()


def test_simulate_payment_pays_a_test_order(owner_client, api):
    order_id = charge(api)["order"]["id"]
    page = owner_client.post(f"/portal/orders/{order_id}/simulate", {"amount": ""}, follow=True)
    assert Order.objects.get(pk=order_id).status == "paid"
    assert 'class="confirmations">' in page.content.decode()


def test_orders_filters_keyset_pages_and_csv(owner_client, api, monkeypatch):
    import portal.views.orders as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ids = [charge(api, merchant_order_id=f"INV-{i}", customer={"email": f"c{i}@example.com"})["order"]["id"]
           for i in range(5)]
    charge(api, merchant_order_id="OTHER-1")
    seen, query = [], "merchant_order_id_prefix=INV-"
    while query is not None:
        page = owner_client.get(f"/portal/orders?{query}").content.decode()
        seen += re.findall(r'class="order-link">([^<]+)<', page)
        found = re.search(r'id="next-page">', page) and re.search(r'href="/portal/orders\?([^"]+)" id="next-page"', page)
        query = found.group(1).replace("&amp;", "&") if found else None
    assert seen == list(reversed(ids))
    one = owner_client.get("/portal/orders?customer=c3@example").content.decode()
    assert re.findall(r'class="order-link">([^<]+)<', one) == [ids[3]]

    answer = owner_client.get("/portal/orders.csv?merchant_order_id_prefix=INV-")
    assert answer.streaming and answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert [r["id"] for r in rows] == list(reversed(ids))
    assert rows[0]["amount"] == "49.9" and rows[0]["customer_email"] == "c4@example.com"


def test_an_invalid_filter_lists_and_exports_nothing(owner_client, api):
    charge(api)
    page = owner_client.get("/portal/orders?customer=x")  # shorter than the API's 2 characters
    assert page.status_code == 400 and b"order-link" not in page.content
    assert b"at least 2 characters" in page.content
    assert owner_client.get("/portal/orders.csv?customer=x").status_code == 400


def test_csv_cells_that_would_be_formulas_are_written_as_text(owner_client, api):
    charge(api, merchant_order_id="=HYPERLINK(1)")
    rows = list(csv.DictReader(io.StringIO(b"".join(owner_client.get("/portal/orders.csv").streaming_content)
                                           .decode())))
    assert rows[0]["merchant_order_id"] == "'=HYPERLINK(1)"


def test_two_factor_enrol_then_every_sign_in_asks_for_a_code(owner, owner_client):
    page = owner_client.get("/portal/two-factor")
    assert b"data:image/svg+xml;base64," in page.content
    device = TOTPDevice.objects.get(user=owner.user, confirmed=False)
    wrong = owner_client.post("/portal/two-factor", {"token": "000000" if totp(device.bin_key) != 0 else "111111"})
    assert b"does not match" in wrong.content
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    owner_client.post("/portal/two-factor", {"token": token})
    device.refresh_from_db()
    assert device.confirmed
    assert b"is <strong>on</strong>" in owner_client.get("/portal/two-factor").content
    manual_key_shown_once = owner_client.get("/portal/two-factor").content
    assert b"otp-key" not in manual_key_shown_once  # the key is never shown once enrolled

    fresh = signed_in(owner)
    held = fresh.get("/portal/orders")
    assert held.status_code == 302 and held["Location"].startswith("/portal/two-factor/verify?next=")
    device.refresh_from_db()
    replayed = fresh.post("/portal/two-factor/verify", {"token": token})
    assert b"not valid" in replayed.content  # the code used to enrol is not accepted again
    device.refresh_from_db()
    device.throttling_failure_count = 0  # (the refusal above started django-otp's throttle)
    device.throttling_failure_timestamp = None
    device.save()
    # The next time step's code (within django-otp's tolerance of one step) passes.
    next_token = f"{totp(device.bin_key, step=device.step, t0=device.t0 - device.step, digits=device.digits):06d}"
    passed = fresh.post("/portal/two-factor/verify?next=/portal/orders", {"token": next_token,
                                                                          "next": "/portal/orders"})
    assert passed.status_code == 302 and passed["Location"] == "/portal/orders"
    assert fresh.get("/portal/orders").status_code == 200


def test_password_reset_mails_a_one_time_link(owner):
    client = Client()
    client.post("/portal/password-reset", {"email": owner.user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/portal/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert b'name="new_password1"' in form.content
    target = form.redirect_chain[-1][0] if form.redirect_chain else link
    client.post(target, {"new_password1": "a brand new passphrase 9", "new_password2": "a brand new passphrase 9"})
    assert signed_in(owner, password="a brand new passphrase 9")
    assert b"was used already" in Client().get(link, follow=True).content


def test_createmerchant_creates_the_owner_with_a_password_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine long password 4\n"))
    out = io.StringIO()
    call_command("createmerchant", "--name", "Tea", "--email", "Tea@Example.com", "--password-stdin", stdout=out)
    result = json.loads(out.getvalue())
    assert result["owner"] == {"email": "tea@example.com", "role": "owner"}
    client = Client()
    assert client.post("/portal/login", {"username": "tea@example.com",
                                         "password": "a fine long password 4"}).status_code == 302


def test_createmerchant_without_a_password_prints_a_one_time_link():
    out = io.StringIO()
    call_command("createmerchant", "--name", "Tea", "--email", "tea@example.com", stdout=out)
    link = json.loads(out.getvalue())["owner"]["set_password_url"]
    path = re.sub(r"^https?://[^/]+", "", link)
    client = Client()
    form = client.get(path, follow=True)
    assert b'name="new_password1"' in form.content
    client.post(form.redirect_chain[-1][0], {"new_password1": "chosen by me 42 ok", "new_password2": "chosen by me 42 ok"})
    assert Client().post("/portal/login", {"username": "tea@example.com",
                                           "password": "chosen by me 42 ok"}).status_code == 302


def test_a_user_who_is_no_merchant_user_cannot_sign_in():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="staff@example.com", email="staff@example.com", password=PASSWORD)
    answer = Client().post("/portal/login", {"username": "staff@example.com", "password": PASSWORD})
    assert answer.status_code == 200 and b"not a merchant portal account" in answer.content


def test_dashboard_shows_volume_statuses_and_recent_orders(owner_client, api):
    order_id = charge(api)["order"]["id"]
    simulate_payment(api, order_id)
    page = owner_client.get("/portal/").content.decode()
    assert order_id in page and 'id="volume"' in page and "USDT" in page and 'id="chains"' in page
