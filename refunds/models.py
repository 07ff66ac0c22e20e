"""Refunds. A custodial refund is booked on the order (the operator pays it out); a deposit
refund sends funds that are not the merchant's to keep back from the order's deposit address
to an address the merchant gives, through the outgoing-transfer engine of settlements (its
transfers are settlements.Outbound rows, linked by RefundLeg). See docs/refunds.md."""

from django.db import models
from django.db.models import Q

from core.ids import ID_MAX_LENGTH, new_id

AMOUNT = {"max_digits": 38, "decimal_places": 18}


def refund_id() -> str:
    return new_id("rfd")


class RefundKind(models.TextChoices):
    CUSTODIAL = "custodial", "Custodial: booked on the order, paid out by the operator"
    DEPOSIT = "deposit", "Deposit refund: sent on-chain from the deposit address"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending (a custodial refund: the operator pays it out; a deposit refund: planned)"
    HELD = "held", "Waiting (the network costs more than quoted, the fee payer is short...)"
    BROADCAST = "broadcast", "Sent, waiting for confirmations"
    CONFIRMED = "confirmed", "Confirmed on-chain"
    SUCCEEDED = "succeeded", "Paid out (custodial)"
    FAILED = "failed", "Failed: nothing reached the refund address"
    NEEDS_REVIEW = "needs_review", "Needs an operator"


# A deposit refund in one of these may still move funds: a second one waits (409).
OPEN_DEPOSIT = (RefundStatus.PENDING, RefundStatus.HELD, RefundStatus.BROADCAST, RefundStatus.NEEDS_REVIEW)


class RefundCause(models.TextChoices):
    CLOSED = "closed", "The order is canceled, expired or failed: everything it received goes back"
    OVERPAYMENT = "overpayment", "What the payer sent beyond the amount due"
    AFTER_CLOSE = "after_close", "Funds that arrived after the order was closed or refunded"
    CUSTODIAL = "custodial", "A custodial refund"


class Refund(models.Model):
    """Money returned to the payer. Custodial: the order's refunded_amount is the sum of its
    refunds that did not fail, kept under the order's row lock. Deposit: `amount` is what
    leaves the deposit address (in `currency`, the order's asset), `net` what the refund
    address received, `network_cost` what the chain took (in `network_cost_asset`)."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=refund_id, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    kind = models.CharField(max_length=16, choices=RefundKind.choices, default=RefundKind.CUSTODIAL)
    cause = models.CharField(max_length=16, choices=RefundCause.choices, default=RefundCause.CUSTODIAL)
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=16)
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    tx_hash = models.CharField(max_length=128, blank=True)
    actor = models.CharField(max_length=100)
    # Deposit refunds only:
    network = models.CharField(max_length=32, blank=True)
    refund_address = models.CharField(max_length=128, blank=True)
    destination_tag = models.PositiveBigIntegerField(null=True, blank=True)
    quoted_net = models.DecimalField(**AMOUNT, null=True, blank=True, help_text="The net the quote promised.")
    quoted_network_cost = models.DecimalField(**AMOUNT, null=True, blank=True)
    paid_by = models.CharField(max_length=16, blank=True, help_text="Who bears the network cost: payer or operator.")
    net = models.DecimalField(**AMOUNT, null=True, blank=True, help_text="What the refund address received.")
    network_cost = models.DecimalField(**AMOUNT, null=True, blank=True)
    network_cost_asset = models.CharField(max_length=16, blank=True)
    confirmations = models.PositiveIntegerField(default=0)
    status_reason = models.CharField(max_length=500, blank=True, help_text="Why it waits, failed or needs review.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(net__isnull=True) | Q(net__gte=0), name="refund_net_non_negative"),
            models.CheckConstraint(condition=Q(kind="custodial") | ~Q(refund_address=""),
                                   name="refund_deposit_has_address"),
            # One deposit refund of an order moves funds at a time.
            models.UniqueConstraint(fields=["order"], condition=Q(kind="deposit", status__in=[
                s.value for s in OPEN_DEPOSIT]), name="refund_one_open_deposit_refund"),
        ]

    def __str__(self) -> str:
        return self.id


class RefundLeg(models.Model):
    """Which outgoing transfers carry a deposit refund: its transfer to the payer ("net") and
    a gas top-up before it ("topup")."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="legs")
    outbound = models.ForeignKey("settlements.Outbound", on_delete=models.PROTECT, related_name="refund_legs")
    role = models.CharField(max_length=8)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["refund", "outbound", "role"], name="refund_leg_unique")]
