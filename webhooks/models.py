"""The webhook outbox: Event (what happened) -> Delivery (event x endpoint) -> Attempt (one
HTTP POST). Events are written in the transaction of the change they announce."""

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT

from core import secretbox
from core.ids import ID_MAX_LENGTH, new_id
from core.modes import Mode


def endpoint_id() -> str:
    return new_id("we")


def event_id() -> str:
    return new_id("evt")


class WebhookEndpoint(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=endpoint_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    enabled_events = models.JSONField(default=list, help_text='Event types, or ["*"] for all.')
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The circuit breaker (webhooks/services.py, docs/webhooks.md): while this is in the future
    # no worker sends to the endpoint; once passed, one trial delivery at a time until a success
    # clears it.
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["merchant", "mode", "enabled"], name="webhook_endpoint_scope_idx")]

    def __str__(self) -> str:
        return f"{self.id} {self.url}"

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.id} {self.url}>"

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def signing_secrets(self, now) -> list[str]:
        """The current secret, then the previous one while its overlap lasts."""
        secrets = [secretbox.decrypt(self.secret_encrypted)]
        if self.previous_secret_encrypted and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(secretbox.decrypt(self.previous_secret_encrypted))
        return secrets


class EventType(models.TextChoices):
    """The event types (the label says what happened); webhooks.events.EVENT_TYPES lists them."""

    ORDER_CREATED = "order.created", "A charge created an order."
    ORDER_PRICED = "order.priced", (
        "The payer chose a channel on the hosted checkout page: the order has its channel, amount due "
        "and deposit address now.")
    ORDER_PENDING = "order.pending", "Funds were seen for the order; waiting for confirmations or the rest."
    ORDER_PAID = "order.paid", "The order is paid."
    ORDER_EXPIRED = "order.expired", "The order expired unpaid."
    ORDER_CANCELED = "order.canceled", "The order was canceled."
    ORDER_FAILED = "order.failed", "The payment failed terminally."
    ORDER_REFUNDED = "order.refunded", "The order was refunded in full."
    ORDER_PARTIALLY_REFUNDED = "order.partially_refunded", "Part of the order was refunded."
    ORDER_REVERTED = "order.reverted", (
        "The order moved back: a chain reorganization dropped its funds, or the merchant reopened it "
        "(previous_status and reason say which).")
    ORDER_PAYMENT_EXCEPTION = (
        "order.payment_exception",
        "An underpayment, overpayment, late payment, or funds on a closed order were recorded.")
    REFUND_CREATED = "refund.created", "A refund was booked (a deposit refund: planned, with its quote)."
    REFUND_BROADCAST = "refund.broadcast", "The deposit refund's transaction was accepted by the network."
    REFUND_CONFIRMED = "refund.confirmed", "The deposit refund is confirmed: the net is at the refund address."
    REFUND_FAILED = "refund.failed", "The deposit refund failed; nothing reached the refund address."
    SETTLEMENT_BROADCAST = "settlement.broadcast", (
        "The settlement's transaction was accepted by the network; confirmations follow.")
    SETTLEMENT_CONFIRMED = "settlement.confirmed", "The settlement is confirmed: the net is in the merchant's wallet."
    SETTLEMENT_FAILED = "settlement.failed", "The settlement failed; nothing reached the merchant's wallet."
    WEBHOOK_TEST = "webhook.test", "A test event sent from the portal to one endpoint (nothing happened)."


class Event(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=event_id, editable=False)
    # No index of its own: event_list_idx starts with merchant_id (core/dbindexes.py).
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="events",
                                 db_index=False)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    type = models.CharField(max_length=64, choices=EventType.choices)
    data = models.JSONField(help_text="The payload snapshot at the time of the change.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "mode", "-created_at"], name="event_list_idx"),
            # The portal's order page: the events (and so the deliveries) of one order.
            models.Index(KT("data__order__id"), name="event_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed", "Failed (schedule exhausted)"
    CANCELED = "canceled", "Canceled (endpoint disabled or deleted)"


class Delivery(models.Model):
    # No index of its own: delivery_one_per_endpoint starts with event_id (core/dbindexes.py).
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker claims a delivery until this time; a claim left behind by a dead worker expires.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    receiver_fault = models.BooleanField(default=False, help_text="The last answer was a 4xx (not 408/429).")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_one_per_endpoint")]
        indexes = [models.Index(fields=["next_attempt_at"], name="delivery_due_idx",
                                condition=Q(status=DeliveryStatus.PENDING))]


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]
