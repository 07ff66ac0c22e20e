from django.db import models

from core.modes import Mode


class IdempotencyKey(models.Model):
    """A POST made with an Idempotency-Key header, and the response it got (Stripe's rules:
    the same key and body replay the stored response; the same key with another body is a
    409; keys are kept 24 hours). `status_code` is null while the first request runs; a claim
    older than a minute without a response (its process died) may be taken over."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    # The stored response, encrypted (secretbox): a response may carry a secret shown once.
    response_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "mode", "key"], name="idempotency_key_unique"),
        ]
