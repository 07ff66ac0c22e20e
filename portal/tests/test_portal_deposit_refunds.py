"""The order page's deposit refund through Django's test client, on a live ETH order paid in
part on the session's anvil and canceled (the browser test in tests/test_portal_browser.py
runs the whole flow to the chain): the confirmation keeps to the net it showed, and the form's
refusals write nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from refunds.models import Refund
from testing.evm_settlements import evm, new_address  # noqa: F401  (evm: the fixture)
from testing.portal import make_member, signed_in

pytestmark = pytest.mark.django_db


def _text(html: bytes, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html.decode()).group(1)


def test_a_confirmation_whose_quote_moved_is_refused_and_quoted_again(evm, live_api, live_owner):
    order_id, _ = evm.canceled_order(live_api, eth="0.02", due="0.05")
    payer = new_address()
    url = f"/portal/orders/{order_id}/deposit-refund"
    quoted = live_owner.get(url, {"refund_address": payer})
    assert quoted.status_code == 200
    net = Decimal(_text(quoted.content, "quote-net").removesuffix(" ETH"))

    moved = live_owner.post(url, {"refund_address": payer, "net": str(net + Decimal("0.000001"))})

    assert not Refund.objects.filter(order_id=order_id).exists()
    assert moved.status_code == 302 and moved["Location"].startswith(url + "?refund_address=")
    again = live_owner.get(moved["Location"])
    assert "refund_quote_changed" in again.content.decode()
    assert Decimal(_text(again.content, "quote-net").removesuffix(" ETH")) == net

    assert live_owner.post(url, {"refund_address": payer}).status_code == 302  # no net: no quote seen
    assert not Refund.objects.filter(order_id=order_id).exists()
    created = live_owner.post(url, {"refund_address": payer, "net": str(net), "reason": "order lost"})
    assert created.status_code == 302
    refund = Refund.objects.get(order_id=order_id)
    assert (refund.quoted_net, refund.reason, refund.status) == (net, "order lost", "pending")
    page = live_owner.get(f"/portal/orders/{order_id}").content.decode()
    assert "is pending" in page and 'id="deposit-refund"' not in page


def test_refusals_are_shown_with_their_code_and_keep_what_was_typed(evm, live_api, live_owner):
    order_id, _ = evm.canceled_order(live_api, eth="0.02", due="0.05")
    url = f"/portal/orders/{order_id}/deposit-refund"

    no_address = live_owner.get(url, {"refund_address": ""})
    wrong = live_owner.get(url, {"refund_address": "0x1234"})
    tag = live_owner.get(url, {"refund_address": new_address(), "destination_tag": "-1"})

    assert no_address.status_code == 400 and "refund_address_required" in no_address.content.decode()
    assert wrong.status_code == 400 and "invalid_address" in wrong.content.decode()
    assert 'value="0x1234"' in wrong.content.decode()
    assert tag.status_code == 400 and "Destination tag" in tag.content.decode()
    assert not Refund.objects.filter(order_id=order_id).exists()


def test_a_canceled_test_order_says_its_funds_were_simulated(merchant_keys, api):
    from testing.client import charge, simulate_payment

    client = signed_in(make_member(merchant_keys.merchant, role="owner"))
    order_id = charge(api, channel="eth", currency="ETH", amount="0.05")["order"]["id"]
    simulate_payment(api, order_id, amount="0.01")
    assert api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"}).status_code == 200

    paid_id = charge(api, channel="eth", currency="ETH", amount="0.05")["order"]["id"]
    simulate_payment(api, paid_id)

    page = client.get(f"/portal/orders/{order_id}").content.decode()
    paid = client.get(f"/portal/orders/{paid_id}").content.decode()

    assert 'id="deposit-refund-none"' in page and "simulated" in page and 'id="deposit-refund"' not in page
    assert 'id="deposit-refund' not in paid  # paid in full: no note on every paid order
