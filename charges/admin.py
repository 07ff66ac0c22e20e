from django.contrib import admin

from charges.models import Channel
from charges.rates import ExchangeRate


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Operators edit the catalogue here: enable/disable, limits, confirmations, contracts."""

    list_display = ("code", "name", "network", "asset", "required_confirmations", "min_amount", "max_amount",
                    "settlement_mode", "enabled")
    list_editable = ("enabled",)
    list_filter = ("network", "enabled", "settlement_mode")
    search_fields = ("code", "name", "asset")
    readonly_fields = ("code", "network", "asset", "asset_decimals")
    fields = ("code", "name", "network", "asset", "asset_decimals", "token_contract", "token_contract_test",
              "required_confirmations", "min_amount", "max_amount", "settlement_mode", "enabled", "sort_order")

    def has_add_permission(self, request) -> bool:
        return False  # a channel needs code (an adapter, routing): new ones come by migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders reference channels; disable instead


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("base", "quote", "rate", "source", "fetched_at")
    readonly_fields = ("base", "quote", "rate", "source", "sources_used", "fetched_at")
