"""HMAC request signing (CONTRACT.md, "Request signing"): the rule, without HTTP.

    message   = timestamp "\\n" METHOD "\\n" request_target "\\n" hex(sha256(body))
    signature = hex(hmac_sha256(secret, message))

`verify_signed_request` checks, in order, each failure an `Unauthenticated` with its own
code: missing_credentials, invalid_api_key (an X-Api-Key that is not shaped like a key id),
timestamp_out_of_window, invalid_signature, api_key_revoked, replayed_request. The API's DRF
authentication class (merchants/api/authentication.py) reads the headers and hands them over.

A well-formed key id that does not exist (or whose merchant is inactive) is answered exactly
like a wrong signature, `invalid_signature`, after the same work (a secret decrypted, an HMAC
computed): the answer never tells which key ids exist (docs/security.md, "Authentication").

X-Timestamp is Unix time in whole seconds, or in milliseconds (13 digits), within the same
window: two identical requests signed in the same second differ by their milliseconds, so
neither is a replay of the other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core import fastsql, secretbox
from core.errors import Unauthenticated
from merchants.models import ApiKey, Merchant, RequestNonce

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_ID = re.compile(r"fk_(test|live)_[A-Za-z0-9]{24}", re.ASCII)
_SECONDS = re.compile(r"[0-9]{1,10}", re.ASCII)
_MILLISECONDS = re.compile(r"[0-9]{13}", re.ASCII)
BAD_SIGNATURE = "The signature does not match the request."


def timestamp_seconds(timestamp: str) -> float | None:
    """X-Timestamp as Unix seconds: whole seconds (up to 10 ASCII digits) or milliseconds
    (exactly 13); None for anything else."""
    if _SECONDS.fullmatch(timestamp):
        return float(timestamp)
    if _MILLISECONDS.fullmatch(timestamp):
        return int(timestamp) / 1000
    return None


@lru_cache(maxsize=1)
def _decoy_secret() -> str:
    """An encrypted secret no key has: an unknown key id costs the same decryption."""
    return secretbox.encrypt("decoy-" + hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest())


def signing_message(*, timestamp: str, method: str, target: str, body: bytes) -> bytes:
    return f"{timestamp}\n{method.upper()}\n{target}\n{hashlib.sha256(body).hexdigest()}".encode()


def sign(*, secret: str, timestamp: str, method: str, target: str, body: bytes) -> str:
    message = signing_message(timestamp=timestamp, method=method, target=target, body=body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signed_request(
    *, key_id: str, timestamp: str, signature: str, method: str, target: str, body: Callable[[], bytes],
) -> ApiKey:
    """The ApiKey (with its merchant) that signed the request, or Unauthenticated. `body`
    is read only once the key and the timestamp passed (reading it may refuse a large body).
    An unsafe method's signature is consumed: the same request is refused the second time."""
    missing = [name for name, value in (("X-Api-Key", key_id), ("X-Timestamp", timestamp),
                                         ("X-Signature", signature)) if not value]
    if missing:
        raise Unauthenticated("missing_credentials", f"Missing header(s): {', '.join(missing)}.")

    if not KEY_ID.fullmatch(key_id):
        raise Unauthenticated("invalid_api_key", "X-Api-Key is not an API key id (fk_test_... or fk_live_...).")
    api_key = api_key_lookup(key_id)
    known = api_key is not None and api_key.merchant.is_active

    seconds = timestamp_seconds(timestamp)
    if seconds is None:
        raise Unauthenticated("timestamp_out_of_window",
                              "X-Timestamp must be Unix time in whole seconds or in milliseconds.")
    window = settings.FLUXA_SIGNATURE_WINDOW_SECONDS
    if abs(time.time() - seconds) > window:
        raise Unauthenticated(
            "timestamp_out_of_window",
            f"X-Timestamp is more than {window} seconds away from the server clock.",
        )

    secret = api_key.reveal_secret() if known else secretbox.decrypt(_decoy_secret())
    expected = sign(secret=secret, timestamp=timestamp, method=method, target=target, body=body())
    if not (hmac.compare_digest(expected.encode(), signature.encode()) and known):
        raise Unauthenticated("invalid_signature", BAD_SIGNATURE)

    if api_key.is_revoked:
        raise Unauthenticated("api_key_revoked", "This API key has been revoked.")

    if method in UNSAFE_METHODS:
        _consume_signature(api_key, signature)
    _touch(api_key)
    return api_key


@lru_cache(maxsize=None)
def _lookup_sql() -> str:
    keys, merchants = ApiKey._meta.db_table, Merchant._meta.db_table
    return (f"SELECT {fastsql.select_list(ApiKey, 'k')}, {fastsql.select_list(Merchant, 'm')} "
            f"FROM {connection.ops.quote_name(keys)} k JOIN {connection.ops.quote_name(merchants)} m "
            f"ON m.id = k.merchant_id WHERE k.key_id = %s")


def api_key_lookup(key_id: str) -> ApiKey | None:
    """The key with its merchant, in one statement written once per process (a QuerySet
    would be compiled again on every request, which costs more than the query)."""
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    split = fastsql.width(ApiKey)
    api_key = fastsql.load(ApiKey, row[:split])
    api_key.merchant = fastsql.load(Merchant, row[split:])
    return api_key


def _touch(api_key: ApiKey) -> None:
    """Record when a key was last used, at most once a minute (not a write per request)."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(seconds=60):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def _consume_signature(api_key: ApiKey, signature: str) -> None:
    """One INSERT ... ON CONFLICT DO NOTHING: the row goes in, or it was there already (a
    replay). A single statement needs no transaction or savepoint of its own.

    On PostgreSQL, in autocommit (every request), the row commits asynchronously
    (synchronous_commit off for this one statement's transaction): it saves a WAL flush per
    request, and loses nothing that matters. Only a crash of PostgreSQL can drop such a commit,
    and only if no later commit was flushed: the request's own writes come later and commit
    synchronously, and flushing them flushes the nonce before them (the log is sequential). So
    the nonce of every request whose effects are durable is durable too; a lost one belongs to
    a request that wrote nothing, and replaying that one does nothing new either."""
    digest = hashlib.sha256(f"{api_key.key_id}:{signature}".encode()).hexdigest()
    table = connection.ops.quote_name(RequestNonce._meta.db_table)
    params = [digest, api_key.pk, connection.ops.adapt_datetimefield_value(timezone.now())]
    if connection.vendor == "postgresql" and connection.get_autocommit() and not connection.in_atomic_block:
        sql = (f"INSERT INTO {table} (signature_hash, api_key_id, created_at) SELECT %s, %s, %s "
               "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
               "ON CONFLICT (signature_hash) DO NOTHING")
    else:  # inside a transaction the setting would last until its end: write it plainly
        sql = (f"INSERT INTO {table} (signature_hash, api_key_id, created_at) VALUES (%s, %s, %s) "
               "ON CONFLICT (signature_hash) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.rowcount
    if inserted != 1:
        raise Unauthenticated("replayed_request", "This signed request was already accepted once.")


def purge_nonces(*, older_than: timedelta | None = None) -> int:
    """Nonces outside twice the window can never match an acceptable timestamp again."""
    age = older_than or timedelta(seconds=2 * settings.FLUXA_SIGNATURE_WINDOW_SECONDS)
    deleted, _ = RequestNonce.objects.filter(created_at__lt=timezone.now() - age).delete()
    return deleted
