"""Operators see the root's fingerprint (never the mnemonic, not even encrypted), and read-only
lists of deposit addresses and transfers. Nothing here adds, changes or deletes them."""

from django.contrib import admin

from wallets.models import DepositAddress, Transfer, WalletRoot


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WalletRoot)
class WalletRootAdmin(ReadOnlyAdmin):
    list_display = ("fingerprint", "origin", "created_at")
    fields = ("fingerprint", "origin", "created_at")
    readonly_fields = fields


@admin.register(DepositAddress)
class DepositAddressAdmin(ReadOnlyAdmin):
    list_display = ("address", "destination_tag", "network", "mode", "derivation_index", "state", "order",
                    "assigned_at", "released_at", "created_at")
    list_filter = ("network", "mode", "state")
    search_fields = ("address", "order__id")
    list_select_related = ("order",)
    fields = ("network", "mode", "address", "destination_tag", "derivation_index", "root_fingerprint",
              "state", "order", "assigned_at", "released_at", "created_at")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ("tx_hash", "log_index", "network", "mode", "asset", "amount", "status", "confirmations",
                    "order", "simulated", "detected_at")
    list_filter = ("network", "mode", "status", "simulated", "asset")
    search_fields = ("tx_hash", "sender", "order__id", "deposit_address__address")
    list_select_related = ("order",)
    fields = ("network", "mode", "tx_hash", "log_index", "deposit_address", "order", "asset", "amount",
              "sender", "block_number", "block_hash", "confirmations", "status", "simulated",
              "detected_at", "confirmed_at", "updated_at")
    readonly_fields = fields
    show_full_result_count = False
