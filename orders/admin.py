from django.contrib import admin

from orders.models import Order, OrderEvent, Payment


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = ("id", "status", "amount", "currency", "channel_ref", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ("created_at", "from_status", "to_status", "payment_exception", "actor", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read-only: orders move only through their services (the state machine)."""

    list_display = ("id", "merchant", "mode", "channel", "amount", "currency", "status", "payment_exception",
                    "created_at")
    list_filter = ("mode", "status", "payment_exception", "network")
    search_fields = ("id", "merchant_order_id", "deposit_address", "customer_email")
    list_select_related = ("merchant", "channel")
    inlines = [PaymentInline, OrderEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Order._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
