"""Operators see endpoints, events, deliveries and attempts; never an endpoint's secret."""

from django.contrib import admin

from webhooks.models import Attempt, Delivery, Event, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "merchant", "mode", "url", "enabled", "created_at")
    list_filter = ("mode", "enabled")
    search_fields = ("id", "url", "merchant__name")
    fields = ("id", "merchant", "mode", "url", "description", "enabled_events", "enabled", "disabled_reason",
              "previous_secret_expires_at", "created_at", "updated_at")
    readonly_fields = ("id", "merchant", "mode", "previous_secret_expires_at", "created_at", "updated_at")

    def has_add_permission(self, request) -> bool:
        return False  # endpoints are made by merchants, who see the secret once


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("number", "attempted_at", "duration_ms", "response_status", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event", "endpoint", "status", "attempt_count", "next_attempt_at", "receiver_fault")
    list_filter = ("status", "receiver_fault")
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "merchant", "mode", "created_at")
    list_filter = ("type", "mode")
    search_fields = ("id",)
    readonly_fields = ("id", "merchant", "mode", "type", "data", "created_at")
