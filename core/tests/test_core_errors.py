"""core.errors: the kinds of domain error carry no HTTP status; the API's exception handler
gives each its status and writes the envelope."""

import pytest

from api.errors import exception_handler
from core import errors
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthenticated, Unavailable, Unprocessable

KINDS = [
    (DomainError, 400),
    (Invalid, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unprocessable, 422),
    (Unavailable, 503),
]


def test_a_domain_error_carries_no_status():
    error = Conflict("order_paid", "Cannot delete a paid order.", param="id", order_id="ord_1")
    assert (error.code, error.message, error.param, error.extra) == (
        "order_paid", "Cannot delete a paid order.", "id", {"order_id": "ord_1"})
    assert str(error) == "Cannot delete a paid order."
    assert not any(hasattr(error, name) for name in ("status", "status_code"))
    assert "status" not in vars(errors.DomainError)


@pytest.mark.parametrize("kind,status", KINDS, ids=[kind.__name__ for kind, _ in KINDS])
def test_each_kind_maps_to_its_status_in_the_envelope(kind, status):
    response = exception_handler(kind("some_code", "Some sentence.", param="field", reason="why"), {})

    assert response.status_code == status
    assert response.data == {"error": {"code": "some_code", "message": "Some sentence.", "param": "field",
                                       "reason": "why"}}


def test_param_defaults_to_null():
    response = exception_handler(Invalid("parameter_invalid", "No."), {})
    assert response.data == {"error": {"code": "parameter_invalid", "message": "No.", "param": None}}


def test_a_subclass_gets_the_status_of_its_kind():
    from charges.rates import RateUnavailable
    from orders.services import InvalidTransition

    class Order:
        status = "paid"

    assert exception_handler(InvalidTransition(Order(), "expired"), {}).status_code == 409
    rate = RateUnavailable("No rate.", base="BTC", quote="USD", reason="missing")
    assert exception_handler(rate, {}).status_code == 422


def test_unauthenticated_asks_for_the_signature_scheme():
    response = exception_handler(Unauthenticated("invalid_signature", "No."), {})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'FluxaHMAC realm="api"'


# --- through a signed request -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind,status", KINDS, ids=[kind.__name__ for kind, _ in KINDS])
def test_a_kind_raised_by_a_domain_module_answers_its_status(api, monkeypatch, kind, status):
    from orders import selectors

    def refuse(**_):
        raise kind("order_refused", "The order refuses.", param="id")

    monkeypatch.setattr(selectors, "order_get", refuse)
    response = api.get("/api/v1/orders/ord_anything")

    assert response.status_code == status
    assert response.body == {"error": {"code": "order_refused", "message": "The order refuses.", "param": "id"}}


@pytest.mark.django_db
def test_real_domain_refusals_keep_their_statuses(api, live_api):
    missing = api.get("/api/v1/orders/ord_doesnotexist")
    assert (missing.status_code, missing.error_code, missing.body["error"]["param"]) == (404, "not_found", "id")
    assert missing.body["error"]["message"] == "No order ord_doesnotexist."

    unknown = api.post("/api/v1/charges", {"amount": "10", "currency": "USDT", "channel": "nope"})
    assert (unknown.status_code, unknown.error_code, unknown.body["error"]["param"]) == (400, "unknown_channel",
                                                                                          "channel")
    no_route = api.post("/api/v1/charges", {"amount": "10", "currency": "DOGE", "network": "tron"})
    assert (no_route.status_code, no_route.error_code) == (422, "no_route")

    decimals = api.post("/api/v1/charges", {"amount": "1.1234567", "currency": "USDT", "network": "tron"})
    assert (decimals.status_code, decimals.error_code, decimals.body["error"]["param"]) == (
        400, "parameter_invalid", "amount")
    assert decimals.body["error"]["message"] == "amount: USDT has at most 6 decimals."

    endpoint = live_api.get("/api/v1/webhook_endpoints/we_doesnotexist")
    assert (endpoint.status_code, endpoint.error_code) == (404, "not_found")


# --- the layering rule behind it ----------------------------------------------------------------

DOMAIN_ROOTS = ("core", "chains", "merchants", "webhooks", "wallets", "orders", "refunds", "charges")
HTTP_PACKAGES = ("api", "rest_framework", "drf_spectacular", "django_filters")


def test_domain_code_never_imports_the_api_layer():
    """Everything in the domain apps outside their api/ subpackage, admin.py and tests."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for top in DOMAIN_ROOTS:
        for path in (root / top).rglob("*.py"):
            parts = path.relative_to(root).parts
            if "api" in parts[1:-1] or "tests" in parts or "migrations" in parts or parts[-1] == "admin.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{'/'.join(parts)}: {name}" for name in names
                              if name.split(".")[0] in HTTP_PACKAGES]
    assert offenders == []
