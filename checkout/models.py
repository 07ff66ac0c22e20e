"""Products and payment links: what a merchant sells without writing code.

A payment link (`pl_...`) is a public URL (/l/<id>) that makes a fresh order on every visit
and sends the payer to that order's hosted checkout page. It charges a product's price or a
fixed amount of its own; it may be limited to a number of uses (orders made) and end at a
time. Orders carry `product_id` / `payment_link_id` as plain ids (orders never imports this app).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from core.ids import ID_MAX_LENGTH, new_id
from core.modes import Mode

AMOUNT = {"max_digits": 38, "decimal_places": 18}


def product_id() -> str:
    return new_id("prd")


def payment_link_id() -> str:
    return new_id("pl")


class Product(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=product_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="products")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=16)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="product_price_positive")]
        indexes = [models.Index(fields=["merchant", "mode", "-created_at"], name="product_list_idx")]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"


class PaymentLink(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=payment_link_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="payment_links")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="links")
    # A fixed amount when there is no product (exactly one of the two).
    amount = models.DecimalField(**AMOUNT, null=True, blank=True)
    currency = models.CharField(max_length=16, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    # Optional: the channel every order of the link pays on; else the payer chooses.
    channel = models.CharField(max_length=32, blank=True)
    return_url = models.URLField(max_length=2000, blank=True)
    cancel_url = models.URLField(max_length=2000, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(product__isnull=False) & Q(amount__isnull=True))
                | (Q(product__isnull=True) & Q(amount__gt=0) & ~Q(currency="")),
                name="payment_link_product_or_amount"),
            models.CheckConstraint(condition=Q(max_uses__isnull=True) | Q(max_uses__gt=0),
                                   name="payment_link_max_uses_positive"),
            models.CheckConstraint(condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")),
                                   name="payment_link_uses_within_max"),
        ]
        indexes = [models.Index(fields=["merchant", "mode", "-created_at"], name="payment_link_list_idx")]

    def __str__(self) -> str:
        return self.id
