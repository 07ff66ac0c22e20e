from django.contrib import admin

from checkout.models import PaymentLink, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "mode", "name", "price", "currency", "active", "created_at")
    list_filter = ("mode", "active")
    search_fields = ("id", "name", "merchant__id")


@admin.register(PaymentLink)
class PaymentLinkAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "mode", "product", "amount", "currency", "uses", "max_uses", "expires_at",
                    "active")
    list_filter = ("mode", "active")
    search_fields = ("id", "merchant__id")
    readonly_fields = ("uses",)
