"""Encryption at rest for secrets (API secrets, webhook secrets, the HD seed).

Fernet (AES-128-CBC + HMAC-SHA256) with every key of settings.FLUXA_ENCRYPTION_KEYS: the
first key encrypts, all of them decrypt, so keys rotate by prepending a new one and running
`manage.py rotate_encryption` later. Plaintext never leaves this module except to the caller.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FLUXA_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FLUXA_ENCRYPTION_KEYS must be Fernet keys (32 bytes, urlsafe base64)"
        ) from exc


def _current() -> MultiFernet:
    return _box(tuple(settings.FLUXA_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured keys") from exc


def reencrypt(token: str) -> str:
    """The same secret under the first (newest) key."""
    return _current().rotate(token.encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()
