import secrets
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from core.ids import ID_MAX_LENGTH, new_id
from core.modes import Mode

AMOUNT = {"max_digits": 38, "decimal_places": 18}


def order_id() -> str:
    return new_id("ord")


def payment_id() -> str:
    return new_id("pay")


def checkout_token() -> str:
    """The secret part of an order's public checkout URL: 32 URL-safe characters, 192 random
    bits (never derived from the order id, so no URL can be guessed from another)."""
    return secrets.token_urlsafe(24)


class SettlementMode(models.TextChoices):
    DIRECT = "direct", "Direct (non-custodial, settles to the merchant's wallet)"
    CUSTODIAL = "custodial", "Custodial (operator-internal)"


class OrderStatus(models.TextChoices):
    CREATED = "created"
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELED = "canceled"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


# Other spellings merchants send for a status (the peers' British "cancelled"): accepted on
# input (PATCH status, the list's status filter), never written back.
STATUS_ALIASES: dict[str, str] = {"cancelled": OrderStatus.CANCELED}


class PaymentException(models.TextChoices):
    NONE = "", "none"
    UNDERPAID = "underpaid"
    OVERPAID = "overpaid"
    PAID_LATE = "paid_late"
    RECEIVED_AFTER_CLOSE = "after_close", "funds arrived after the order was closed"


class Order(models.Model):
    """One charge request and its lifecycle.

    `amount`/`currency` are what the merchant priced the order in (fiat or the asset);
    `amount_due`/`asset` are what the payer sends. With fiat pricing the rate is locked here
    for the order's life. `amount_received` (every transfer not reverted) and
    `amount_confirmed` (those with their confirmations) are recomputed from Transfer rows under
    the order's row lock, never incremented blindly.
    """

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=order_id, editable=False)
    # No index of its own: every order index starts with merchant_id (core/dbindexes.py).
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="orders",
                                 db_index=False)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    merchant_order_id = models.CharField(max_length=128, null=True, blank=True)
    # Null only while the payer has still to choose how to pay (a charge with a fiat amount,
    # no network and the hosted checkout): the order is routed and priced when they choose.
    channel = models.ForeignKey("charges.Channel", on_delete=models.PROTECT, related_name="orders",
                                null=True, blank=True)
    network = models.CharField(max_length=32, blank=True)
    settlement_mode = models.CharField(max_length=16, choices=SettlementMode.choices)

    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=16)
    asset = models.CharField(max_length=16, blank=True)
    amount_due = models.DecimalField(**AMOUNT, null=True, blank=True)  # null: no channel chosen yet
    rate = models.DecimalField(**AMOUNT, null=True, blank=True)
    rate_source = models.CharField(max_length=200, blank=True)
    rate_at = models.DateTimeField(null=True, blank=True)

    fee_percent = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("0"))
    fee_amount = models.DecimalField(**AMOUNT, default=Decimal("0"))

    amount_received = models.DecimalField(**AMOUNT, default=Decimal("0"))
    amount_confirmed = models.DecimalField(**AMOUNT, default=Decimal("0"))
    refunded_amount = models.DecimalField(**AMOUNT, default=Decimal("0"))
    # What fluxa sent from the deposit address, in the asset, once broadcast: the settlement's
    # gross (settlements.services.settlement_sync) and the deposit refunds' amounts
    # (refunds.services.refund_sync), each recomputed by its owner under the order's lock.
    amount_settled = models.DecimalField(**AMOUNT, default=Decimal("0"))
    amount_returned = models.DecimalField(**AMOUNT, default=Decimal("0"))

    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.CREATED)
    payment_exception = models.CharField(
        max_length=16, choices=PaymentException.choices, default=PaymentException.NONE, blank=True
    )

    deposit_address = models.CharField(max_length=128, blank=True)
    destination_tag = models.BigIntegerField(null=True, blank=True)
    # Where a deposit refund of this order goes when the merchant names no address then (the
    # charge's optional refund_address, or set later): checked for the order's network.
    refund_address = models.CharField(max_length=128, blank=True)
    refund_destination_tag = models.PositiveBigIntegerField(null=True, blank=True)
    payment_uri = models.TextField(blank=True)
    checkout_url = models.URLField(max_length=500, blank=True)
    # The public checkout page is /pay/<checkout_token> (checkout/): unguessable, unique.
    checkout_token = models.CharField(max_length=64, unique=True, null=True, default=checkout_token,
                                      editable=False)
    # Where the order came from, when a product or payment link made it (checkout/ owns
    # those; plain ids here, so that orders never depends on it).
    product_id = models.CharField(max_length=ID_MAX_LENGTH, null=True, blank=True)
    payment_link_id = models.CharField(max_length=ID_MAX_LENGTH, null=True, blank=True)

    subject = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    return_url = models.URLField(max_length=2000, blank=True)
    cancel_url = models.URLField(max_length=2000, blank=True)
    customer_email = models.EmailField(blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    expires_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # DELETE hides an order that never received funds; the row stays (its deposit address is
    # still watched until its window ends, and the audit trail is kept).
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The order let go of its merchant_order_id: it was deleted or canceled, and a new charge
    # may use the reference again (the order keeps it, for the record and the list's filter).
    # One live order per (merchant, mode, reference) is the unique constraint below, over the
    # orders that hold theirs; an order inserted by any path holds its reference (the default).
    reference_released = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "mode", "merchant_order_id"],
                condition=Q(merchant_order_id__isnull=False, reference_released=False),
                name="order_unique_merchant_order_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=Q(amount_due__gt=0), name="order_amount_due_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="order_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(amount_received__gte=0) & Q(amount_confirmed__gte=0)
                & Q(amount_confirmed__lte=F("amount_received")),
                name="order_received_consistent",
            ),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="order_fee_non_negative"),
        ]
        indexes = [
            # The list endpoint: one merchant and mode, newest first, optionally by status.
            models.Index(fields=["merchant", "mode", "-created_at", "-id"], name="order_list_idx"),
            models.Index(fields=["merchant", "mode", "status", "-created_at"], name="order_status_idx"),
            models.Index(fields=["merchant", "mode", "channel", "-created_at"], name="order_channel_idx"),
            models.Index(fields=["merchant", "mode", "network", "-created_at"], name="order_network_idx"),
            models.Index(fields=["merchant", "mode", "product_id", "-created_at"], name="order_product_idx",
                         condition=Q(product_id__isnull=False)),
            models.Index(fields=["merchant", "mode", "payment_link_id", "-created_at"],
                         name="order_payment_link_idx", condition=Q(payment_link_id__isnull=False)),
            # Exact merchant_order_id lookups of live orders use the unique constraint's index;
            # the list's exact filter (released references too) this one; prefix and customer
            # searches get PostgreSQL-only indexes (pattern ops, trigram) in a migration.
            models.Index(fields=["merchant", "mode", "merchant_order_id"], name="order_moid_idx"),
            models.Index(fields=["status", "expires_at"], name="order_expiry_idx",
                         condition=Q(status__in=[OrderStatus.CREATED, OrderStatus.PENDING])),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_test(self) -> bool:
        return self.mode == Mode.TEST

    @property
    def awaiting_channel(self) -> bool:
        """The payer has still to choose a channel on the checkout page: no price, no address."""
        return self.channel_id is None

    @property
    def net_amount(self) -> Decimal | None:
        return None if self.amount_due is None else self.amount_due - self.fee_amount

    @property
    def amount_outstanding(self) -> Decimal | None:
        """What is still due: the amount due less what is confirmed (never below 0); None while
        the payer of a hosted checkout has still to choose a channel (no price yet)."""
        return None if self.amount_due is None else max(self.amount_due - self.amount_confirmed, Decimal(0))


class PaymentStatus(models.TextChoices):
    INITIATED = "initiated"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


class Payment(models.Model):
    """The payment attempt of an order on its channel (the `payment` of a charge)."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=payment_id, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.INITIATED)
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=16)
    channel_ref = models.CharField(max_length=200, blank=True, help_text="First transaction hash seen.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]


class OrderEvent(models.Model):
    """Append-only audit of every status change (and payment exception) of an order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=24, choices=OrderStatus.choices, blank=True)  # "": the first event
    to_status = models.CharField(max_length=24, choices=OrderStatus.choices)
    payment_exception = models.CharField(max_length=16, choices=PaymentException.choices, blank=True)
    actor = models.CharField(max_length=100)
    reason = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"


class OrderCount(models.Model):
    """How many live (not deleted) orders a merchant has per mode, so that the unfiltered
    GET /api/v1/orders answers `total` without counting. PostgreSQL only: triggers on
    orders_order keep it (migration 0004), whatever writes the order (ORM, raw SQL, admin).
    The count is split over shards (the writing backend's pid modulo SHARDS) so that
    concurrent charges of one merchant do not queue on one row; the total is their sum, and
    a single shard may well be negative (an order counted in one shard, deleted in another).
    Not a foreign key to the merchant: the triggers may write while a merchant is deleted."""

    SHARDS = 8

    merchant_id = models.CharField(max_length=ID_MAX_LENGTH)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    shard = models.SmallIntegerField()
    count = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant_id", "mode", "shard"], name="ordercount_key")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.mode} #{self.shard}: {self.count}"
