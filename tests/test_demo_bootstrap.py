"""`make run`'s demo bootstrap (charges/management/commands/demo_bootstrap.py) is all or
nothing: with a chain configured that nothing has scanned yet (the first start of
`make run DEVCHAIN=1`), it still creates its merchant and every demo order; a bootstrap that
fails half-way leaves no merchant, no order, no secret printed, and the next start succeeds."""

import io

import pytest
from django.core.management import call_command

from charges.management.commands import demo_bootstrap
from merchants.models import Merchant
from orders.models import Order

pytestmark = pytest.mark.django_db


def _bootstrap() -> str:
    out = io.StringIO()
    call_command("demo_bootstrap", stdout=out)
    return out.getvalue()


def test_the_first_start_with_a_chain_configured_but_never_scanned_creates_every_demo_order(settings):
    # Nothing listens there and nothing was scanned: a charge on ethereum would be refused.
    settings.FLUXA_CHAINS = {"ethereum": {"test": "http://127.0.0.1:9"}, "litecoin": {"test": "http://127.0.0.1:9"}}

    printed = _bootstrap()

    merchant = Merchant.objects.get(email=demo_bootstrap.DEMO_EMAIL)
    orders = Order.objects.filter(merchant=merchant)
    assert sorted(orders.values_list("status", flat=True)) == ["created", "paid", "pending"]
    assert not orders.filter(channel__network__in=["ethereum", "litecoin"]).exists()
    assert "FLUXA_SECRET=" in printed and "with 3 test orders" in printed


def test_a_bootstrap_failing_half_way_leaves_nothing_and_the_next_start_succeeds(monkeypatch):
    real = demo_bootstrap.order_simulate_payment
    calls = []

    def failing_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return real(**kwargs)

    monkeypatch.setattr(demo_bootstrap, "order_simulate_payment", failing_second)
    out = io.StringIO()
    with pytest.raises(RuntimeError, match="disk is full"):
        call_command("demo_bootstrap", stdout=out)
    assert "FLUXA_SECRET" not in out.getvalue()
    assert not Merchant.objects.filter(email=demo_bootstrap.DEMO_EMAIL).exists()
    assert not Order.objects.exists()

    monkeypatch.setattr(demo_bootstrap, "order_simulate_payment", real)
    printed = _bootstrap()
    assert "FLUXA_SECRET=" in printed
    assert Order.objects.filter(merchant__email=demo_bootstrap.DEMO_EMAIL).count() == 3
