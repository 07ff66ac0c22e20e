"""The API's side of request signing: DRF's authentication and throttle classes
(REST_FRAMEWORK in fluxa_site/settings.py). The rule itself, the key lookup and the replay
store are merchants.auth; this module reads the headers, rebuilds the request target and
turns a refusal into DRF's AuthenticationFailed (401, with the refusal's own code)."""

from __future__ import annotations

from django.conf import settings
from django.utils.encoding import escape_uri_path
from rest_framework import authentication, exceptions, throttling
from rest_framework.request import Request

from core.errors import Unauthenticated
from merchants.auth import verify_signed_request
from merchants.models import ApiKey, Merchant


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
        try:
            api_key = verify_signed_request(
                key_id=key_id, timestamp=timestamp, signature=signature, method=django_request.method,
                target=request_target(django_request), body=lambda: django_request.body,
            )
        except Unauthenticated as refused:
            raise exceptions.AuthenticationFailed(refused.message, code=refused.code) from None
        return api_key.merchant, api_key


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """A per-key request rate (settings.FLUXA_API_RATE), shared through the cache."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        rate = settings.FLUXA_API_RATE
        return None if rate in (None, "", "None", "none") else rate

    def allow_request(self, request, view) -> bool:
        # Read the rate per request so that settings changes (and tests) take effect.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.key_id}
