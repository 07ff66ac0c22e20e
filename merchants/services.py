"""Everything that writes merchants, their keys and payout addresses."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from chains.addresses import validate_address
from core import secretbox
from core.errors import Conflict, Invalid
from core.modes import Mode
from merchants.models import ApiKey, Merchant, MerchantUser, Notice, NoticeKind, PayoutAddress, Role

_KEY_ALPHABET = string.digits + string.ascii_letters


@dataclass(frozen=True, repr=False)
class IssuedKey:
    """A key and its plaintext secret, as handed out exactly once at creation."""
    api_key: ApiKey
    secret: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"<IssuedKey {self.api_key.key_id}>"


def _new_key_id(mode: str) -> str:
    return f"fk_{mode}_" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(24))


def api_key_create(*, merchant: Merchant, mode: str, label: str = "") -> IssuedKey:
    if mode not in Mode.values:
        raise ValueError(f"mode must be one of {Mode.values}")
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        key_id=_new_key_id(mode),
        merchant=merchant,
        mode=mode,
        secret_encrypted=secretbox.encrypt(secret),
        label=label,
    )
    return IssuedKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Idempotent: revoking a revoked key keeps its first revocation time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_roll(*, api_key: ApiKey) -> IssuedKey:
    """Replace a key: the old one is revoked and a new one of the same mode and label is made,
    in one transaction; the new secret is only in the return value."""
    with transaction.atomic():
        api_key_revoke(api_key=api_key)
        return api_key_create(merchant=api_key.merchant, mode=api_key.mode, label=api_key.label)


def payout_address_set(
    *, merchant: Merchant, mode: str, network: str, address: str, actor: str = "api"
) -> tuple[PayoutAddress, bool]:
    """Create or replace the payout address of one network; raises InvalidAddress or
    UnknownNetwork (both ValueError) before writing anything. Replacing a live address leaves
    a Notice (settlements go elsewhere from now on: the merchant must hear of it)."""

    normalized = validate_address(network=network, mode=mode, address=address.strip())
    with transaction.atomic():
        previous = (PayoutAddress.objects.select_for_update()
                    .filter(merchant=merchant, mode=mode, network=network).first())
        payout, created = PayoutAddress.objects.update_or_create(
            merchant=merchant, mode=mode, network=network, defaults={"address": normalized}
        )
        if mode == Mode.LIVE and previous is not None and previous.address != normalized:
            Notice.objects.create(merchant=merchant, mode=mode, kind=NoticeKind.PAYOUT_ADDRESS_CHANGED, message=(
                f"The live {network} payout address changed from {previous.address} to {normalized} "
                f"(by {actor})."))
    return payout, created


def payout_address_delete(*, merchant: Merchant, mode: str, network: str) -> bool:
    deleted, _ = PayoutAddress.objects.filter(merchant=merchant, mode=mode, network=network).delete()
    return bool(deleted)


SETTINGS_FIELDS = ("default_expiry_seconds", "underpaid_tolerance_percent", "accept_late_payments", "auto_refund")


def merchant_settings_update(*, merchant: Merchant, **changes) -> Merchant:
    """Expiry, underpayment tolerance, late-payment policy and automatic refunds (the fee is the
    operator's)."""
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise Invalid("parameter_invalid", f"{unknown[0]} is not a merchant setting.", param=unknown[0])
    if "default_expiry_seconds" in changes and not 60 <= int(changes["default_expiry_seconds"]) <= 30 * 86400:
        raise Invalid("parameter_invalid", "Expiry must be between 60 seconds and 30 days.",
                      param="default_expiry_seconds")
    if "underpaid_tolerance_percent" in changes:
        tolerance = Decimal(changes["underpaid_tolerance_percent"])
        if not Decimal(0) <= tolerance <= Decimal(100) or tolerance != tolerance.quantize(Decimal("0.01")):
            raise Invalid("parameter_invalid", "Tolerance is a percent from 0 to 100 with at most 2 decimals.",
                          param="underpaid_tolerance_percent")
    for name, value in changes.items():
        setattr(merchant, name, value)
    if changes:
        merchant.save(update_fields=sorted(changes))
    return merchant


def merchant_user_create(*, merchant: Merchant, email: str, role: str = Role.OWNER,
                         password: str | None = None) -> MerchantUser:
    """A portal user of `merchant`: signs in with `email`. Without a password the user has an
    unusable one until set through a one-time link (password reset)."""
    if role not in Role.values:
        raise Invalid("parameter_invalid", f"role must be one of {', '.join(Role.values)}.", param="role")
    email = email.strip().lower()
    User = get_user_model()
    with transaction.atomic():
        if User.objects.filter(username=email).exists():
            raise Conflict("user_exists", f"A user {email} exists already; a user belongs to one merchant.",
                           param="email")
        user = User.objects.create_user(username=email, email=email, password=password)
        return MerchantUser.objects.create(user=user, merchant=merchant, role=role)


@transaction.atomic
def merchant_create(
    *, name: str, email: str, payouts: dict[str, str] | None = None
) -> tuple[Merchant, dict[str, IssuedKey]]:
    """A merchant with one test and one live key; the secrets are only in the return value.
    `payouts` maps network labels to live-mode payout addresses."""
    merchant = Merchant.objects.create(name=name, email=email)
    for network, address in (payouts or {}).items():
        payout_address_set(merchant=merchant, mode=Mode.LIVE, network=network, address=address)
    keys = {mode: api_key_create(merchant=merchant, mode=mode) for mode in (Mode.TEST, Mode.LIVE)}
    return merchant, keys
