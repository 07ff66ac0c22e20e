"""Operators follow money leaving fluxa here: settlements with their transfers and every
candidate txid, retry and mark-for-review actions, the owed-fee ledger, fee payer balances."""

from django.contrib import admin, messages

from settlements import engine, services
from settlements.models import Candidate, FeePayerBalance, Outbound, OwedFee, Settlement, SettlementLeg


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CandidateInline(ReadOnly, admin.TabularInline):
    model = Candidate
    fields = ["txid", "status", "nonce", "valid_until", "network_cost", "fee_fields", "sends", "created_at",
              "sent_at"]
    readonly_fields = fields
    extra = 0


class LegInline(ReadOnly, admin.TabularInline):
    model = SettlementLeg
    fields = ["role", "outbound", "outbound_status", "outbound_txid"]
    readonly_fields = fields
    extra = 0

    @admin.display(description="status")
    def outbound_status(self, leg):
        return leg.outbound.status

    @admin.display(description="txid")
    def outbound_txid(self, leg):
        return leg.outbound.txid or ", ".join(leg.outbound.candidates.values_list("txid", flat=True))


def _retry(modeladmin, request, outbounds):
    for outbound in outbounds:
        step = engine.outbound_retry(outbound_id=outbound.id)
        modeladmin.message_user(request, f"{outbound.id}: {step.before} -> {step.after}", messages.INFO)
        for settlement_id in outbound.legs.values_list("settlement_id", flat=True):
            services.settlement_sync(settlement_id=settlement_id)


def _review(modeladmin, request, outbounds):
    for outbound in outbounds:
        engine.outbound_mark_for_review(outbound_id=outbound.id, reason=f"marked by {request.user}")
        for settlement_id in outbound.legs.values_list("settlement_id", flat=True):
            services.settlement_sync(settlement_id=settlement_id)


@admin.register(Outbound)
class OutboundAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "network", "mode", "purpose", "status", "nonce", "txid", "network_cost", "created_at"]
    list_filter = ["status", "purpose", "network", "mode"]
    search_fields = ["id", "txid", "candidates__txid", "sender__address"]
    inlines = [CandidateInline]
    actions = ["retry", "mark_for_review"]

    @admin.action(description="Retry (re-send the stored transaction, or sign if nothing was signed)")
    def retry(self, request, queryset):
        _retry(self, request, queryset)

    @admin.action(description="Mark for review (stop the engine touching it)")
    def mark_for_review(self, request, queryset):
        _review(self, request, queryset)


@admin.register(Settlement)
class SettlementAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "order_id", "network", "asset", "status", "amount", "fee", "fee_owed", "network_cost",
                    "tx_hash", "created_at"]
    list_filter = ["status", "network", "fee_owed"]
    search_fields = ["id", "order__id", "tx_hash", "to_address", "legs__outbound__candidates__txid"]
    inlines = [LegInline]
    actions = ["retry", "mark_for_review"]

    def _outbounds(self, queryset):
        return Outbound.objects.filter(legs__settlement__in=queryset).distinct()

    @admin.action(description="Retry its transfers that need review")
    def retry(self, request, queryset):
        _retry(self, request, self._outbounds(queryset))

    @admin.action(description="Mark its open transfers for review")
    def mark_for_review(self, request, queryset):
        _review(self, request, self._outbounds(queryset).exclude(status__in=["confirmed", "failed"]))


@admin.register(OwedFee)
class OwedFeeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["settlement", "merchant", "network", "asset", "amount", "held_at", "reason", "collected_by",
                    "created_at"]
    list_filter = ["network", "asset"]


@admin.register(FeePayerBalance)
class FeePayerBalanceAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["network", "mode", "address", "balance", "asset", "low", "error", "checked_at"]
    list_filter = ["low", "mode"]
