"""Reads of orders, always scoped to one merchant and mode (the API's one scoping point)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from chains.addresses import InvalidAddress, address_forms
from core.errors import Invalid, NotFound
from orders.models import Order
from orders.presentation import display_status_q
from wallets.selectors import orders_paid_from


def order_scope(*, merchant, mode: str) -> QuerySet[Order]:
    return Order.objects.filter(merchant=merchant, mode=mode, deleted_at__isnull=True)


def order_get(*, merchant, mode: str, order_id: str) -> Order:
    """NotFound, never Forbidden, for another merchant's (or the other mode's) order."""
    order = order_scope(merchant=merchant, mode=mode).select_related("channel").filter(pk=order_id).first()
    if order is None:
        raise NotFound("not_found", f"No order {order_id}.", param="id")
    return order


def order_get_by_reference(*, merchant, mode: str, merchant_order_id: str) -> Order:
    """The visible order a merchant means by its reference: the one holding it, else (every
    order with it released it: canceled) the newest. NotFound when none shows."""
    order = (order_scope(merchant=merchant, mode=mode).filter(merchant_order_id=merchant_order_id)
             .order_by("reference_released", "-created_at", "-id").first())
    if order is None:
        raise NotFound("not_found", f"No order with merchant_order_id {merchant_order_id!r}.",
                       param="merchant_order_id")
    return order


def payer_address_forms(*, mode: str, address: str, network: str | None) -> set[str]:
    """The normal forms a recorded sender has when it is `address` (on `network`, or on every
    network it is valid on). Invalid: an address of no network (of that network), for `mode`."""
    try:
        forms = address_forms(mode=mode, address=address, network=network)
    except InvalidAddress as exc:
        raise Invalid("invalid_address", f"from_address: {exc}", param="from_address") from None
    if not forms:
        raise Invalid("invalid_address", f"from_address: {address.strip()!r} is no {mode}-mode address of any "
                      "network fluxa accepts.", param="from_address")
    return forms


def order_list(*, merchant, mode: str, filters: dict) -> QuerySet[Order]:
    """Newest first. Every filter is served by an index (see Order.Meta and migration 0002)."""
    qs = order_scope(merchant=merchant, mode=mode)
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if from_address := filters.get("from_address"):
        qs = qs.filter(pk__in=orders_paid_from(mode=mode, senders=payer_address_forms(
            mode=mode, address=from_address, network=filters.get("network"))))
    if display := filters.get("display_status"):
        qs = qs.filter(display_status_q(display))
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


def order_seek(qs: QuerySet[Order], *, before: tuple | None) -> QuerySet[Order]:
    """Keyset pagination over order_list's order (newest first): the orders after the row
    (created_at, id) `before`. Served by the same indexes at any depth, unlike an offset."""
    if before is None:
        return qs
    created_at, pk = before
    return qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk), created_at__lte=created_at)


PAID_STATUSES = ("paid", "partially_refunded", "refunded")


def order_volume(*, merchant, since) -> QuerySet:
    """Paid volume since `since` per mode and asset: rows of mode, asset, orders, amount."""
    return (Order.objects.filter(merchant=merchant, deleted_at__isnull=True, created_at__gte=since,
                                 status__in=PAID_STATUSES)
            .values("mode", "asset").annotate(orders=Count("id"), amount=Sum("amount_due"))
            .order_by("mode", "asset"))


def order_status_counts(*, merchant, mode: str, since) -> dict[str, int]:
    rows = (order_scope(merchant=merchant, mode=mode).filter(created_at__gte=since)
            .values("status").annotate(n=Count("id")).order_by())
    return {row["status"]: row["n"] for row in rows}
