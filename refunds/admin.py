from django.contrib import admin

from refunds.models import Refund


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "amount", "currency", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "order__id", "tx_hash")
    readonly_fields = ("id", "order", "amount", "currency", "reason", "actor", "created_at", "updated_at")
    fields = ("id", "order", "amount", "currency", "reason", "actor", "status", "tx_hash", "created_at",
              "updated_at")

    def has_add_permission(self, request) -> bool:
        return False
