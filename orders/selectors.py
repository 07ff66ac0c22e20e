"""Reads of orders, always scoped to one merchant and mode (the API's one scoping point)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from core.errors import NotFound
from orders.models import Order


def order_scope(*, merchant, mode: str) -> QuerySet[Order]:
    return Order.objects.filter(merchant=merchant, mode=mode, deleted_at__isnull=True)


def order_get(*, merchant, mode: str, order_id: str) -> Order:
    """NotFound, never Forbidden, for another merchant's (or the other mode's) order."""
    order = order_scope(merchant=merchant, mode=mode).select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound("not_found", f"No order {order_id}.", param="id")
    return order


def order_list(*, merchant, mode: str, filters: dict) -> QuerySet[Order]:
    """Newest first. Every filter is served by an index (see Order.Meta and migration 0002)."""
    qs = order_scope(merchant=merchant, mode=mode)
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if moid := filters.get("merchant_order_id"):
        qs = qs.filter(merchant_order_id=moid)
    if prefix := filters.get("merchant_order_id_prefix"):
        qs = qs.filter(merchant_order_id__startswith=prefix)
    if channel := filters.get("channel"):
        qs = qs.filter(channel_id=channel)
    if network := filters.get("network"):
        qs = qs.filter(network=network)
    if product_id := filters.get("product_id"):
        qs = qs.filter(product_id=product_id)
    if payment_link_id := filters.get("payment_link_id"):
        qs = qs.filter(payment_link_id=payment_link_id)
    if created_from := filters.get("created_from"):
        qs = qs.filter(created_at__gte=created_from)
    if created_to := filters.get("created_to"):
        qs = qs.filter(created_at__lt=created_to)
    if customer := filters.get("customer"):
        qs = qs.filter(Q(customer_email__icontains=customer) | Q(customer_name__icontains=customer))
    return qs.order_by("-created_at", "-id")
