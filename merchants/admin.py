"""Operators see merchants, their keys (ids only) and payout addresses. Secrets never: the
encrypted column is excluded from every form and list, and keys cannot be created here."""

from django.contrib import admin, messages

from merchants.models import ApiKey, Merchant, PayoutAddress
from merchants.services import api_key_revoke


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("key_id", "mode", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PayoutAddressInline(admin.TabularInline):
    model = PayoutAddress
    fields = ("network", "address", "updated_at")
    readonly_fields = ("updated_at",)
    extra = 0


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "email", "is_active", "created_at")
    search_fields = ("id", "name", "email")
    list_filter = ("is_active",)
    readonly_fields = ("id", "created_at")
    inlines = [PayoutAddressInline, ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("key_id", "merchant", "mode", "created_at", "last_used_at", "revoked_at")
    list_filter = ("mode",)
    search_fields = ("key_id", "merchant__name", "merchant__id")
    fields = ("key_id", "merchant", "mode", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_id", "merchant", "mode", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_keys"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request, queryset) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")
