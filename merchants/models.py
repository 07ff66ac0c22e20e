from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from core import secretbox
from core.ids import ID_MAX_LENGTH, merchant_id
from core.modes import Mode


class Merchant(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_MAX_LENGTH, default=merchant_id, editable=False)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Merchant settings (underpayment tolerance, late payments, expiry).
    default_expiry_seconds = models.PositiveIntegerField(
        default=3600, help_text="Unpaid orders expire after this many seconds unless the charge says otherwise."
    )
    underpaid_tolerance_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"),
        help_text="An order counts as paid when at most this percent of the amount due is missing.",
    )
    accept_late_payments = models.BooleanField(
        default=True, help_text="A full payment confirmed after expiry marks the order paid (paid_late)."
    )
    fee_percent = models.DecimalField(
        max_digits=7, decimal_places=4, null=True, blank=True,
        help_text="Platform fee on this merchant's orders; empty uses FLUXA_FEE_PERCENT.",
    )
    auto_refund = models.BooleanField(
        default=False, help_text="Send overpayment excess and late payments refused by the late-payment setting "
        "back on-chain by themselves, to the order's refund address (given at charge time or later).",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(underpaid_tolerance_percent__gte=0) & Q(underpaid_tolerance_percent__lte=100),
                name="merchant_tolerance_range",
            ),
            models.CheckConstraint(
                condition=Q(fee_percent__isnull=True) | (Q(fee_percent__gte=0) & Q(fee_percent__lt=100)),
                name="merchant_fee_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    # DRF treats request.user as authenticated when this is true; a merchant signed in
    # through an API key is the request's principal.
    @property
    def is_authenticated(self) -> bool:
        return True


class PayoutAddress(models.Model):
    """Where settlements for one network go: the merchant's own wallet (per mode, because test
    mode uses the test networks' address forms)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="payout_addresses")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.LIVE)
    network = models.CharField(max_length=32)
    address = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "mode", "network"], name="payout_address_one_per_network"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mode} {self.network}: {self.address}"


class ApiKey(models.Model):
    """A key pair: `key_id` is public, the secret is stored only encrypted (see secretbox)."""

    key_id = models.CharField(max_length=64, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    secret_encrypted = models.TextField(editable=False)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(mode=Mode.TEST, key_id__startswith="fk_test_")
                           | Q(mode=Mode.LIVE, key_id__startswith="fk_live_")),
                name="api_key_prefix_matches_mode",
            ),
        ]

    def __str__(self) -> str:
        return self.key_id

    def __repr__(self) -> str:
        return f"<ApiKey {self.key_id} {self.mode}{' revoked' if self.revoked_at else ''}>"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_test(self) -> bool:
        return self.mode == Mode.TEST

    def reveal_secret(self) -> str:
        """The plaintext secret, for verifying a signature. Never log or return it."""
        return secretbox.decrypt(self.secret_encrypted)


class RequestNonce(models.Model):
    """A signature already accepted for an unsafe method: a second use is a replay.

    The unique primary key makes the check-and-insert one atomic statement across every web
    process. Rows older than twice the signature window are purged by beat.
    """

    signature_hash = models.CharField(primary_key=True, max_length=64)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class Role(models.TextChoices):
    """What a merchant user may do in the portal (docs/portal.md, "Roles")."""

    OWNER = "owner", "Owner: everything, including payout addresses, settings and refunds"
    DEVELOPER = "developer", "Developer: API keys, webhooks and test payments; no payouts or refunds"
    VIEWER = "viewer", "Viewer: reads everything, changes nothing"


class MerchantUser(models.Model):
    """A person who signs in to the portal: one Django user belongs to one merchant, with a role."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_user")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="users")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role} of {self.merchant_id})"


class NoticeKind(models.TextChoices):
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled", "A webhook endpoint was disabled"
    PAYOUT_ADDRESS_CHANGED = "payout_address_changed", "A live payout address was changed"


class Notice(models.Model):
    """Something the merchant must know and act on (e.g. a webhook endpoint was disabled)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="notices")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    kind = models.CharField(max_length=64, choices=NoticeKind.choices)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
