"""The hand-written order, payment and list-item output (their `to_representation`) is
exactly what DRF renders through the declared fields, which are the OpenAPI schema: same keys,
same order, same values, same JSON bytes."""

import json
from decimal import Decimal

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from orders.api.serializers import OrderListItemSerializer, OrderSerializer, PaymentSerializer
from orders.models import Order, Payment

pytestmark = pytest.mark.django_db


def _drf(serializer_class, instance) -> dict:
    """DRF's own rendering: Serializer.to_representation over the declared fields."""
    return serializers.Serializer.to_representation(serializer_class(), instance)


def _same(serializer_class, instance):
    ours, theirs = serializer_class(instance).data, _drf(serializer_class, instance)
    assert list(ours) == list(theirs)
    assert ours == theirs
    assert JSONRenderer().render(ours) == JSONRenderer().render(theirs)


def _json(data):
    return json.loads(JSONRenderer().render(data))


def _charge(api, **extra):
    from django.utils import timezone

    from charges.rates import ExchangeRate

    ExchangeRate.objects.get_or_create(base="USDT", quote="EUR", defaults={
        "rate": Decimal("0.9213"), "source": "median(test)", "sources_used": [], "fetched_at": timezone.now()})
    body = {"amount": "49.90", "currency": "EUR", "network": "tron", "merchant_order_id": "shape-1", **extra}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/v1/charges", body)
    assert response.status_code == 201, response.body
    return response.body


@pytest.mark.parametrize("extra", [
    {},
    {"currency": "USDT", "amount": "25.5", "merchant_order_id": None, "subject": "S", "description": "D",
     "metadata": {"cart": [1, 2], "note": "ünïcode"}, "customer": {"email": "a@b.example", "name": "Ann"},
     "return_url": "https://shop.example/back"},
])
def test_order_payment_and_list_item_render_as_drf_would(api, extra):
    body = _charge(api, **extra)
    order = Order.objects.select_related("channel").get(pk=body["order"]["id"])
    order.paid_at = order.created_at  # a set optional datetime too
    order.refunded_amount = Decimal("0.100")
    _same(OrderSerializer, order)
    _same(PaymentSerializer, Payment.objects.get(order=order))
    for row in Order.objects.filter(pk=order.pk).values(*OrderListItemSerializer.COLUMNS):
        _same(OrderListItemSerializer, row)
    # the response of the charge itself is what the serializers render of the stored rows
    assert body["order"] == _json(OrderSerializer(Order.objects.get(pk=order.pk)).data)
    assert body["payment"] == _json(PaymentSerializer(Payment.objects.get(order=order)).data)


def test_a_new_unsaved_order_renders_as_drf_would(api):
    body = _charge(api)
    stored = Order.objects.select_related("channel").get(pk=body["order"]["id"])
    fresh = Order(**{f.attname: getattr(stored, f.attname) for f in Order._meta.concrete_fields})
    fresh.channel = stored.channel
    _same(OrderSerializer, fresh)
