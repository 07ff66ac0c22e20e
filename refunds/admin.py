"""Refunds in the admin. A custodial refund's status and tx hash are what the operator records
after paying it out; a deposit refund is the engine's (its transfers are in Settlements ›
Outbounds, with every candidate txid and the retry / review actions): read-only here."""

from django.contrib import admin

from refunds.models import Refund, RefundKind, RefundLeg

DEPOSIT_FIELDS = ("kind", "cause", "network", "refund_address", "destination_tag", "quoted_net",
                  "quoted_network_cost", "paid_by", "net", "network_cost", "network_cost_asset", "confirmations",
                  "status_reason", "confirmed_at")


class RefundLegInline(admin.TabularInline):
    model = RefundLeg
    fields = ["role", "outbound", "outbound_status", "outbound_txid"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="status")
    def outbound_status(self, leg):
        return leg.outbound.status

    @admin.display(description="txid")
    def outbound_txid(self, leg):
        return leg.outbound.txid


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("id", "order", "kind", "amount", "currency", "net", "status", "created_at")
    list_filter = ("kind", "status", "network")
    search_fields = ("id", "order__id", "tx_hash", "refund_address")
    inlines = [RefundLegInline]
    fields = ("id", "order", "amount", "currency", "reason", "actor", "status", "tx_hash", *DEPOSIT_FIELDS,
              "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        fixed = ("id", "order", "amount", "currency", "reason", "actor", *DEPOSIT_FIELDS, "created_at", "updated_at")
        if obj is not None and obj.kind == RefundKind.DEPOSIT:
            return (*fixed, "status", "tx_hash")
        return fixed

    def has_add_permission(self, request) -> bool:
        return False
