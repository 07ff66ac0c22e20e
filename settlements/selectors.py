"""Reads of settlements, scoped to one merchant and mode where a merchant asks."""

from __future__ import annotations

from django.db.models import QuerySet

from settlements.models import OPEN, Outbound, Settlement, SettlementLeg


def settlement_scope(*, merchant, mode: str) -> QuerySet[Settlement]:
    return Settlement.objects.filter(merchant=merchant, mode=mode)


def settlements_of_order(order) -> list[Settlement]:
    return list(Settlement.objects.filter(order=order))


def settlement_list(*, merchant, mode: str, filters: dict) -> QuerySet[Settlement]:
    query = settlement_scope(merchant=merchant, mode=mode)
    for name in ("status", "network", "order_id"):
        if filters.get(name):
            query = query.filter(**{name: filters[name]})
    if filters.get("created_gte"):
        query = query.filter(created_at__gte=filters["created_gte"])
    if filters.get("created_lt"):
        query = query.filter(created_at__lt=filters["created_lt"])
    return query.order_by("-created_at", "-id")


def settlement_ids_of_outbound(outbound_id: str) -> list[str]:
    return list(SettlementLeg.objects.filter(outbound_id=outbound_id).values_list("settlement_id", flat=True)
                .distinct())


def open_outbound_ids_of_settlement(settlement_id: str) -> list[str]:
    return list(Outbound.objects.filter(legs__settlement_id=settlement_id, status__in=OPEN)
                .order_by("created_at", "id").values_list("id", flat=True).distinct())
