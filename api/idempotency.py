"""The Idempotency-Key header (or its alias X-Idempotency-Key) for every POST (Stripe
semantics), kept 24 hours."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.errors import ApiError
from api.models import IdempotencyKey
from core import secretbox

HEADER = "Idempotency-Key"
# The peers' spelling, taken as the same header: one key whichever name carries it.
ALIAS_HEADER = "X-Idempotency-Key"
RETENTION = timedelta(hours=24)
# A request still "in progress" after this long died with its process: the key may be retried.
IN_PROGRESS_LEASE = timedelta(seconds=60)


class StoredResponse(Exception):
    """Raised to short-circuit a request whose key already has a response."""

    def __init__(self, record: IdempotencyKey):
        self.record = record

    def response(self) -> Response:
        body = json.loads(secretbox.decrypt(self.record.response_encrypted)) if self.record.response_encrypted else None
        return Response(body, status=self.record.status_code, headers={"Idempotent-Replayed": "true"})


def _request_hash(request) -> str:
    raw = request._request
    target = raw.get_full_path().encode()
    return hashlib.sha256(b"%s\n%s\n%s" % (raw.method.encode(), target, raw.body)).hexdigest()


def idempotency_key(request) -> str:
    """The request's idempotency key, from `Idempotency-Key` or its alias `X-Idempotency-Key`
    ("" without one). Both with different values is refused: which one would count?"""
    key = request.headers.get(HEADER, "").strip()
    alias = request.headers.get(ALIAS_HEADER, "").strip()
    if key and alias and key != alias:
        raise ApiError("parameter_invalid", (
            f"{HEADER} and {ALIAS_HEADER} are the same header under two names; send one, or the same "
            "value in both."), param=HEADER)
    return key or alias


def idempotency_begin(request, *, merchant, mode: str) -> IdempotencyKey | None:
    """Claim the key for this request, or raise StoredResponse / a 409."""
    if request.method != "POST":
        return None
    key = idempotency_key(request)
    if not key:
        return None
    if len(key) > 255:
        raise ApiError("parameter_invalid", "Idempotency-Key is longer than 255 characters.", param=HEADER)
    digest = _request_hash(request)
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(merchant=merchant, mode=mode, key=key, request_hash=digest)
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(merchant=merchant, mode=mode, key=key).first()
            if existing is None:
                continue  # purged in between: claim it again
            if existing.created_at < timezone.now() - RETENTION or (
                    existing.status_code is None and existing.created_at < timezone.now() - IN_PROGRESS_LEASE):
                existing.delete()  # expired, or its request died before answering
                continue
            if existing.request_hash != digest:
                raise ApiError("idempotency_key_reused", (
                    "This Idempotency-Key was used with a different request; use a new key."),
                    param=HEADER, status=409) from None
            if existing.status_code is None:
                raise ApiError("idempotency_key_in_use", (
                    "A request with this Idempotency-Key is still being processed; retry shortly."),
                    param=HEADER, status=409) from None
            raise StoredResponse(existing) from None
    raise ApiError("idempotency_key_in_use", "Could not claim the Idempotency-Key; retry.", param=HEADER,
                   status=409)


# A view sets `response.idempotency_omit = ("secret",)` on a response carrying a secret shown
# once: the stored copy has those keys set to null, so a replay never shows the secret again.
OMIT_ATTRIBUTE = "idempotency_omit"


def idempotency_finish(record: IdempotencyKey, response: Response) -> None:
    """Store the response (without the keys the view marked as shown once); a server error
    frees the key so that a retry runs again."""
    if response.status_code >= 500:
        record.delete()
        return
    data = response.data
    omit = getattr(response, OMIT_ATTRIBUTE, ())
    if omit and isinstance(data, dict):
        data = {**data, **{name: None for name in omit if name in data}}
    body = JSONRenderer().render(data).decode() if data is not None else ""
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status_code=response.status_code, response_encrypted=secretbox.encrypt(body) if body else "")


def idempotency_purge() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted
