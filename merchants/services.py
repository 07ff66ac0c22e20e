"""Everything that writes merchants, their keys and payout addresses."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from chains.addresses import validate_address
from core import secretbox
from core.modes import Mode
from merchants.models import ApiKey, Merchant, PayoutAddress

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


def payout_address_set(
    *, merchant: Merchant, mode: str, network: str, address: str
) -> tuple[PayoutAddress, bool]:
    """Create or replace the payout address of one network; raises InvalidAddress or
    UnknownNetwork (both ValueError) before writing anything."""

    normalized = validate_address(network=network, mode=mode, address=address.strip())
    return PayoutAddress.objects.update_or_create(
        merchant=merchant, mode=mode, network=network, defaults={"address": normalized}
    )


def payout_address_delete(*, merchant: Merchant, mode: str, network: str) -> bool:
    deleted, _ = PayoutAddress.objects.filter(merchant=merchant, mode=mode, network=network).delete()
    return bool(deleted)


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
