"""The admin shows deposit refunds read-only (the engine owns their status); a custodial
refund's status and tx hash stay what the operator records after paying it out."""

from decimal import Decimal

import pytest

from refunds.models import Refund
from testing.admin import admin_change_url
from testing.client import charge

pytestmark = pytest.mark.django_db


def _refund(api, **fields) -> Refund:
    order_id = charge(api)["order"]["id"]
    return Refund.objects.create(order_id=order_id, amount=Decimal("4"), currency="USDT", actor="test", **fields)


def test_a_deposit_refund_is_read_only_in_the_admin(admin_client, api):
    refund = _refund(api, kind="deposit", cause="closed", network="tron",
                     refund_address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", quoted_net=Decimal("3.9"))
    url = admin_change_url(Refund, refund.id)

    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"status": "succeeded", "tx_hash": "ff" * 32})

    assert "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8" in page and "3.9" in page
    refund.refresh_from_db()
    assert (refund.status, refund.tx_hash) == ("pending", "")


def test_a_custodial_refund_records_the_operator_payout(admin_client, api):
    refund = _refund(api)
    url = admin_change_url(Refund, refund.id)

    response = admin_client.post(url, {"status": "succeeded", "tx_hash": "ee" * 32, "legs-TOTAL_FORMS": "0",
                                       "legs-INITIAL_FORMS": "0"})

    assert response.status_code == 302, response.content.decode()[:2000]
    refund.refresh_from_db()
    assert (refund.status, refund.tx_hash) == ("succeeded", "ee" * 32)
