"""Reads, already scoped to one merchant and mode: the API's one scoping point."""

from django.db.models import QuerySet

from merchants.models import Merchant, PayoutAddress


def payout_address_list(*, merchant: Merchant, mode: str) -> QuerySet[PayoutAddress]:
    return PayoutAddress.objects.filter(merchant=merchant, mode=mode).order_by("network")
