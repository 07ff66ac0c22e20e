"""HMAC request signing (CONTRACT.md, "Request signing"): the rule, without HTTP.

    message   = timestamp "\\n" METHOD "\\n" request_target "\\n" hex(sha256(body))
    signature = hex(hmac_sha256(secret, message))

`verify_signed_request` checks, in order, each failure an `Unauthenticated` with its own
code: missing_credentials, invalid_api_key, timestamp_out_of_window, invalid_signature,
api_key_revoked, replayed_request. The API's DRF authentication class
(merchants/api/authentication.py) reads the headers and hands them over.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core import fastsql
from core.errors import Unauthenticated
from merchants.models import ApiKey, Merchant, RequestNonce

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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

    api_key = api_key_lookup(key_id)
    if api_key is None or not api_key.merchant.is_active:
        raise Unauthenticated("invalid_api_key", "Unknown API key.")

    if not timestamp.isdigit():
        raise Unauthenticated("timestamp_out_of_window", "X-Timestamp must be Unix time in whole seconds.")
    window = settings.FLUXA_SIGNATURE_WINDOW_SECONDS
    if abs(time.time() - int(timestamp)) > window:
        raise Unauthenticated(
            "timestamp_out_of_window",
            f"X-Timestamp is more than {window} seconds away from the server clock.",
        )

    expected = sign(secret=api_key.reveal_secret(), timestamp=timestamp, method=method, target=target,
                    body=body())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Unauthenticated("invalid_signature", "The signature does not match the request.")

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
