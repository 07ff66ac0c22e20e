"""Reads, already scoped to one merchant and mode: the API's one scoping point."""

from django.db.models import QuerySet

from merchants.models import ApiKey, Merchant, MerchantUser, Notice, PayoutAddress


def payout_address_list(*, merchant: Merchant, mode: str) -> QuerySet[PayoutAddress]:
    return PayoutAddress.objects.filter(merchant=merchant, mode=mode).order_by("network")


def api_key_list(*, merchant: Merchant, mode: str) -> QuerySet[ApiKey]:
    """Active keys first, newest first."""
    return ApiKey.objects.filter(merchant=merchant, mode=mode).order_by("revoked_at", "-created_at")


def notice_list(*, merchant: Merchant, mode: str) -> QuerySet[Notice]:
    return Notice.objects.filter(merchant=merchant, mode=mode).order_by("-created_at")


def merchant_user_of(user) -> MerchantUser | None:
    """The merchant membership of a signed-in Django user (None: not a merchant user)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return MerchantUser.objects.select_related("merchant").filter(user=user, merchant__is_active=True).first()
