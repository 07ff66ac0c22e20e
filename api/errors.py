"""The one error envelope of the API (CONTRACT.md):

    {"error": {"code": "<snake_case>", "message": "<sentence>", "param": <field name or null>}}

Domain code raises a kind of `core.errors.DomainError` (Invalid, NotFound, Conflict, ...),
which says nothing of HTTP: `DOMAIN_STATUS` below maps each kind to its status. `ApiError`
is for the API layer's own refusals (query parameters, headers, Idempotency-Key). DRF's
exceptions and Django's 404/405 are translated here; anything unexpected is logged with its
traceback and answered with a bare 500 envelope.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core import errors as domain

logger = logging.getLogger("fluxa.api")

API_PREFIX = "/api/"
# The longest path + query string an API request may have (servers refuse far longer ones
# themselves: runserver at 64 KiB, gunicorn at limit_request_line).
MAX_TARGET_LENGTH = 4096
# The database is down or unreachable: the client may retry after this many seconds.
UNAVAILABLE_RETRY_SECONDS = 5


def _unavailable_body() -> dict:
    return envelope("service_unavailable", "The service is temporarily unavailable; retry shortly.")


def _is_outage(exc: BaseException) -> bool:
    """A lost or refused database connection (not a query's own error, such as a constraint)."""
    return isinstance(exc, (OperationalError, InterfaceError))


# The HTTP status of each kind of domain error (the most specific class wins).
DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.DomainError: status.HTTP_400_BAD_REQUEST,
    domain.Invalid: status.HTTP_400_BAD_REQUEST,
    domain.Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    domain.Forbidden: status.HTTP_403_FORBIDDEN,
    domain.NotFound: status.HTTP_404_NOT_FOUND,
    domain.Conflict: status.HTTP_409_CONFLICT,
    domain.Unprocessable: status.HTTP_422_UNPROCESSABLE_ENTITY,
    domain.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def domain_status(exc: domain.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return status.HTTP_400_BAD_REQUEST  # pragma: no cover - DomainError itself is mapped


class ApiError(exceptions.APIException):
    """An API-layer error with a code of our own: `raise ApiError("unknown_parameter", "...")`."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.code = code
        self.message = message
        self.param = param
        self.extra = extra or {}
        if status is not None:
            self.status_code = status


def envelope(code: str, message: str, param: str | None = None, **extra: Any) -> dict:
    error = {"code": code, "message": message, "param": param}
    error.update(extra)
    return {"error": error}


# DRF's built-in validation codes, mapped to the codes merchants see.
_VALIDATION_CODES = {
    "required": "parameter_missing",
    "null": "parameter_missing",
    "blank": "parameter_missing",
}

_SIMPLE = {
    exceptions.NotAuthenticated: ("missing_credentials", "Sign the request: X-Api-Key, X-Timestamp and X-Signature are required."),
    exceptions.NotFound: ("not_found", "No such object."),
    exceptions.MethodNotAllowed: ("method_not_allowed", None),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", None),
    exceptions.NotAcceptable: ("not_acceptable", None),
    exceptions.ParseError: ("malformed_request", None),
    exceptions.PermissionDenied: ("permission_denied", "You do not have permission to do this."),
}


def _first_validation_error(detail: Any, path: str = "") -> tuple[str | None, exceptions.ErrorDetail | str]:
    """The first (param, ErrorDetail) of a nested serializer error structure."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = key if key != "non_field_errors" else ""
            param = f"{path}.{sub}" if path and sub else (sub or path)
            return _first_validation_error(value, param)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                return _first_validation_error(value, f"{path}[{index}]" if path else str(index))
            return (path or None), value
    return (path or None), detail


def _validation_envelope(exc: exceptions.ValidationError) -> dict:
    param, detail = _first_validation_error(exc.detail)
    raw_code = getattr(detail, "code", None) or "invalid"
    code = _VALIDATION_CODES.get(raw_code, raw_code)
    if code in {"invalid", "invalid_choice", "max_length", "min_length", "max_value", "min_value",
                "max_digits", "max_decimal_places", "max_whole_digits", "not_a_list", "not_a_dict",
                "does_not_exist", "incorrect_type", "date", "datetime", "unique", "empty",
                "max_string_length", "parse_error", "zero", "not_a_string", "min_length", "overflow",
                "null_characters_not_allowed", "surrogate_characters_not_allowed", "max_depth"}:
        code = "parameter_invalid"
    message = str(detail)
    if param and code in {"parameter_missing", "parameter_invalid"}:
        message = f"{param}: {message}"
    return envelope(code, message, param)


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF EXCEPTION_HANDLER: every error leaves the API in the envelope."""
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        set_rollback()
        return Response(envelope("request_too_large", "The request body is too large."), status=413)

    if isinstance(exc, domain.DomainError):
        body = envelope(exc.code, exc.message, exc.param, **exc.extra)
        status_code = domain_status(exc)
        if isinstance(exc, domain.Unauthenticated):
            headers["WWW-Authenticate"] = 'FluxaHMAC realm="api"'
    elif isinstance(exc, ApiError):
        body = envelope(exc.code, exc.message, exc.param, **exc.extra)
        status_code = exc.status_code
    elif isinstance(exc, exceptions.ValidationError):
        body = _validation_envelope(exc)
        status_code = exc.status_code
    elif isinstance(exc, exceptions.AuthenticationFailed):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "authentication_failed"
        body = envelope(code, str(exc.detail))
        status_code = status.HTTP_401_UNAUTHORIZED
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait) if exc.wait is not None else None
        body = envelope("rate_limited", "Too many requests; slow down and retry later.")
        if wait is not None:
            headers["Retry-After"] = str(max(wait, 1))
        status_code = status.HTTP_429_TOO_MANY_REQUESTS
    elif isinstance(exc, exceptions.APIException):
        code, message = "api_error", None
        for cls, (simple_code, simple_message) in _SIMPLE.items():
            if isinstance(exc, cls):
                code, message = simple_code, simple_message
                break
        body = envelope(code, message or str(exc.detail))
        status_code = exc.status_code
        if isinstance(exc, exceptions.NotAuthenticated):
            status_code = status.HTTP_401_UNAUTHORIZED
    elif _is_outage(exc):
        logger.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        set_rollback()
        return Response(_unavailable_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)})
    else:
        request = context.get("request")
        logger.exception(
            "unhandled error in %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
        )
        set_rollback()
        return Response(
            envelope("internal_error", "An unexpected error occurred. It has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        headers["WWW-Authenticate"] = 'FluxaHMAC realm="api"'
    set_rollback()
    return Response(body, status=status_code, headers=headers or None)


@csrf_exempt  # no cookie-authenticated state behind it: a POST to an unknown path is a 404
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Catch-all for unknown /api/ paths, so they answer in the envelope even with DEBUG on."""
    return JsonResponse(envelope("not_found", f"Unknown API path {request.path}."), status=404)


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    from django.views.defaults import page_not_found

    if request.path.startswith(API_PREFIX):
        return api_not_found(request)
    return page_not_found(request, exception)


def handler400(request: HttpRequest, exception: Exception | None = None):
    """A bad request refused before any view (a Host header not in ALLOWED_HOSTS, a malformed
    cookie or header): the envelope on /api/, Django's page elsewhere."""
    from django.views.defaults import bad_request

    if request.path.startswith(API_PREFIX):
        return JsonResponse(envelope("bad_request", "The request was refused (check its Host header)."), status=400)
    return bad_request(request, exception)


def csrf_failure(request: HttpRequest, reason: str = ""):
    """CSRF_FAILURE_VIEW: the envelope on /api/ (which never uses cookies), Django's page elsewhere."""
    from django.views.csrf import csrf_failure as django_csrf_failure

    if request.path.startswith(API_PREFIX):
        return JsonResponse(envelope("permission_denied", "CSRF check failed."), status=403)
    return django_csrf_failure(request, reason)


def handler500(request: HttpRequest) -> JsonResponse:
    from django.views.defaults import server_error

    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            envelope("internal_error", "An unexpected error occurred. It has been logged."), status=500
        )
    return server_error(request)


class ApiExceptionMiddleware:
    """Errors raised outside DRF views (middleware, URL resolution) on /api/ paths still get
    the envelope and never a debug page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path.startswith(API_PREFIX) and (
                len(request.path) + len(request.META.get("QUERY_STRING", "")) > MAX_TARGET_LENGTH):
            return JsonResponse(envelope("uri_too_long", f"The request target is longer than {MAX_TARGET_LENGTH} "
                                                         "characters."), status=414)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):
            return api_not_found(request)
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(envelope("request_too_large", "The request body is too large."), status=413)
        if _is_outage(exception):
            response = JsonResponse(_unavailable_body(), status=503)
            response["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
            return response
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return JsonResponse(
            envelope("internal_error", "An unexpected error occurred. It has been logged."), status=500
        )
