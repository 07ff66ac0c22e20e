"""The API's side of request signing: DRF's authentication and throttle classes
(REST_FRAMEWORK in fluxa_site/settings.py). The rule itself, the key lookup and the replay
store are merchants.auth; this module reads the headers, rebuilds the request target and
turns a refusal into DRF's AuthenticationFailed (401, with the refusal's own code)."""

from __future__ import annotations

from django.conf import settings
from django.utils.encoding import escape_uri_path
from rest_framework import authentication, exceptions, throttling
from rest_framework.request import Request

from core import ratelimit
from core.errors import Unauthenticated
from merchants.auth import verify_signed_request
from merchants.models import ApiKey, Merchant

# Refusals that count against the source address and the key id (a missing header does not:
# it proves nothing about guessing).
_COUNTED_REFUSALS = frozenset({"invalid_api_key", "invalid_signature", "timestamp_out_of_window",
                               "replayed_request", "api_key_revoked"})


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or with FLUXA_TRUSTED_PROXIES = n > 0 (n reverse
    proxies in front, each appending to X-Forwarded-For) the address the outermost one saw."""
    proxies = settings.FLUXA_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                     if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _failure_limits(address: str, key_id: str) -> list[tuple[str, str, ratelimit.Rate]]:
    limits = []
    per_address = ratelimit.parse_rate(settings.FLUXA_AUTH_FAILURE_RATE_PER_ADDRESS)
    per_key = ratelimit.parse_rate(settings.FLUXA_AUTH_FAILURE_RATE_PER_KEY)
    if per_address:
        limits.append(("auth_fail_addr", address, per_address))
    if per_key and key_id:
        limits.append(("auth_fail_key", key_id[:64], per_key))
    return limits


def request_target(request) -> str:
    """The path and raw query string exactly as the client sent them.

    gunicorn passes the untouched request line as RAW_URI; elsewhere the path is re-escaped
    from PATH_INFO and the query string is taken raw from QUERY_STRING.
    """
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return raw
    target = escape_uri_path(request.path)
    query = request.META.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target


class HmacSignatureAuthentication(authentication.BaseAuthentication):
    """request.user is the Merchant, request.auth the ApiKey (its mode scopes every query)."""

    def authenticate_header(self, request: Request) -> str:
        return 'FluxaHMAC realm="api"'

    def authenticate(self, request: Request) -> tuple[Merchant, ApiKey] | None:
        django_request = request._request
        key_id = django_request.headers.get("X-Api-Key", "").strip()
        timestamp = django_request.headers.get("X-Timestamp", "").strip()
        signature = django_request.headers.get("X-Signature", "").strip()
        if not (key_id or timestamp or signature):
            return None  # no credentials at all: IsAuthenticated answers missing_credentials
        # Only refusals count (one atomic increment per limit, which returns the exact count,
        # so a concurrent flood is cut at the limit exactly). A refusal past the limit is
        # answered 429 instead of its 401: a flood learns nothing from it. A valid request is
        # never refused by these limits (no one can lock a key's holder out with bad
        # signatures), and costs them no round trip.
        try:
            api_key = verify_signed_request(
                key_id=key_id, timestamp=timestamp, signature=signature, method=django_request.method,
                target=request_target(django_request), body=lambda: django_request.body,
            )
        except Unauthenticated as refused:
            if refused.code in _COUNTED_REFUSALS:
                over = [h for h in ratelimit.hit_many(_failure_limits(client_address(django_request), key_id))
                        if not h.allowed]
                if over:
                    raise exceptions.Throttled(wait=max(h.retry_after for h in over)) from None
            raise exceptions.AuthenticationFailed(refused.message, code=refused.code) from None
        return api_key.merchant, api_key


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """A per-key request rate (settings.FLUXA_API_RATE, read per request), counted atomically
    in the cache (core.ratelimit: Redis in production, local memory for `make run`)."""

    scope = "api_key"
    _wait: int | None = None

    def allow_request(self, request, view) -> bool:
        rate = ratelimit.parse_rate(settings.FLUXA_API_RATE)
        if rate is None or not isinstance(request.auth, ApiKey):
            return True
        counted = ratelimit.hit(self.scope, request.auth.key_id, rate)
        self._wait = None if counted.allowed else counted.retry_after
        return counted.allowed

    def wait(self) -> int | None:
        return self._wait
