"""The error envelope for every kind of error, /healthz, and the OpenAPI schema and docs."""

import json
import logging
import re

import pytest
from django.test import Client

from testing.client import post_charge, simulate_payment

pytestmark = pytest.mark.django_db


def _assert_envelope(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) >= {"code", "message", "param"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_unknown_api_path_is_404_in_the_envelope(api):
    response = api.get("/api/v1/nothing-here")

    assert response.status_code == 404
    _assert_envelope(response.body, "not_found")


def test_unknown_api_path_without_credentials_is_still_the_envelope():
    response = Client().get("/api/v2/anything")

    assert response.status_code == 404
    _assert_envelope(response.json(), "not_found")


def test_method_not_allowed(api):
    response = api.request("PUT", "/api/v1/account", {"name": "x"})

    assert response.status_code == 405
    _assert_envelope(response.body, "method_not_allowed")


def test_unsupported_media_type(api):
    response = api.post("/api/v1/payout_addresses", b"network=ethereum", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    _assert_envelope(response.body, "unsupported_media_type")


def test_malformed_json(api):
    response = api.post("/api/v1/payout_addresses", b'{"network": ')

    assert response.status_code == 400
    _assert_envelope(response.body, "malformed_request")


def test_missing_field_names_the_param(api):
    response = api.post("/api/v1/payout_addresses", {"network": "ethereum"})

    assert response.status_code == 400
    _assert_envelope(response.body, "parameter_missing")
    assert response.body["error"]["param"] == "address"


def test_invalid_payout_address(api):
    response = api.post("/api/v1/payout_addresses", {"network": "ethereum", "address": "0x1234"})

    assert response.status_code == 400
    _assert_envelope(response.body, "invalid_address")
    assert response.body["error"]["param"] == "address"


def test_unknown_network(api):
    response = api.post("/api/v1/payout_addresses", {"network": "dogecoin", "address": "D8abc"})

    assert response.status_code == 400
    _assert_envelope(response.body, "unknown_network")
    assert response.body["error"]["param"] == "network"


def test_body_too_large(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api.post("/api/v1/payout_addresses", {"network": "ethereum", "address": "x" * 5000})

    assert response.status_code == 413
    _assert_envelope(response.body, "request_too_large")


def test_unexpected_exception_is_logged_and_answered_without_traceback(api, monkeypatch, caplog, settings):
    # A fault injected into the selector stands for any bug deep in a view.
    from merchants import selectors

    def boom(**kwargs):
        raise RuntimeError("database exploded: internal detail")

    monkeypatch.setattr(selectors, "payout_address_list", boom)
    settings.DEBUG = True  # even in DEBUG the client never gets a traceback

    with caplog.at_level(logging.ERROR, logger="fluxa.api"):
        response = api.get("/api/v1/payout_addresses")

    assert response.status_code == 500
    _assert_envelope(response.body, "internal_error")
    assert "Traceback" not in json.dumps(response.body)
    assert "internal detail" not in json.dumps(response.body)
    assert any("internal detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_healthz_reports_database_and_broker():
    response = Client().get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_healthz_is_503_when_the_broker_is_unreachable(monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment first; port 9 on loopback has no Redis.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["database"]["ok"] is True


def test_openapi_schema_describes_the_api_and_its_signing():
    response = Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/account" in schema["paths"]
    assert "/api/v1/payout_addresses" in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"X-Api-Key", "X-Timestamp", "X-Signature"}


def test_docs_page_is_served_with_local_assets():
    client = Client()
    page = client.get("/api/v1/docs")

    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    # The bundle it references is served by fluxa itself.
    import re

    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    asset = client.get(bundle)
    assert asset.status_code == 200


def test_openapi_schema_describes_every_endpoint_with_request_and_response_shapes():
    from django.urls import get_resolver

    schema = json.loads(Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    api_routes = set()
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) == "api/v1/":
            for sub in pattern.url_patterns:
                route = "/api/v1/" + re.sub(r"<\w+:", "{", str(sub.pattern)).replace(">", "}")
                if not route.endswith(("schema", "docs", "redoc")):
                    api_routes.add(route)

    assert api_routes <= set(schema["paths"]), api_routes - set(schema["paths"])
    for route in api_routes:
        for method, operation in schema["paths"][route].items():
            responses = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            assert responses, (route, method)
            for code, response in responses.items():
                if code != "204":
                    assert response.get("content"), (route, method, code)
            if method in ("post", "patch", "put"):
                assert operation.get("requestBody", {}).get("content"), (route, method)
    charge = schema["paths"]["/api/v1/charges"]["post"]
    body = charge["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"amount", "currency"} <= set(schema["components"]["schemas"][body]["required"])


def test_openapi_schema_generates_without_warnings_and_validates(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/orders/{order_id}/refund" in (tmp_path / "schema.yaml").read_text()


def _schema_properties(schema: dict, path: str, method: str, status: str) -> tuple[set, set]:
    node = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return set(node["properties"]), set(node.get("required", []))


def test_responses_match_the_schema(api, settings):
    """The documented shapes are the real ones: every key a response carries is in the schema,
    and every key the schema requires is in the response."""
    schema = json.loads(Client().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    charge = post_charge(api)
    order_id = charge.body["order"]["id"]
    simulated = simulate_payment(api, order_id)
    endpoint = api.post("/api/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/x"})
    cases = [
        ("/api/v1/channels", "get", "200", api.get("/api/v1/channels").body),
        ("/api/v1/charges", "post", "201", charge.body),
        ("/api/v1/orders", "get", "200", api.get("/api/v1/orders").body),
        ("/api/v1/orders/{order_id}", "get", "200", api.get(f"/api/v1/orders/{order_id}").body),
        ("/api/v1/orders/{order_id}/simulate_payment", "post", "201", simulated.body),
        ("/api/v1/payout_addresses", "get", "200", api.get("/api/v1/payout_addresses").body),
        ("/api/v1/webhook_endpoints", "post", "201", endpoint.body),
        ("/api/v1/webhook_endpoints", "get", "200", api.get("/api/v1/webhook_endpoints").body),
        ("/api/v1/events", "get", "200", api.get("/api/v1/events").body),
        ("/api/v1/account", "get", "200", api.get("/api/v1/account").body),
    ]
    for path, method, status, body in cases:
        properties, required = _schema_properties(schema, path, method, status)
        assert set(body) <= properties, (path, set(body) - properties)
        assert required <= set(body), (path, required - set(body))
    instruction = schema["components"]["schemas"]["Instruction"]["properties"]
    assert set(charge.body["instruction"]) <= set(instruction)
