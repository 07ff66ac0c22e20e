from django.db import models
from django.db.models import Q

from core.ids import ID_MAX_LENGTH, new_id


def refund_id() -> str:
    return new_id("rfd")


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending (the operator pays it out)"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(models.Model):
    """Money returned on a custodial order. The order's refunded_amount is the sum
    of its refunds that did not fail, kept under the order's row lock."""

    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=refund_id, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=38, decimal_places=18)
    currency = models.CharField(max_length=16)
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    tx_hash = models.CharField(max_length=128, blank=True)
    actor = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return self.id
