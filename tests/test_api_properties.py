"""Issue 16: a property-based run of the whole API from its own OpenAPI schema (Schemathesis).

Every operation of /api/v1/schema gets generated requests, valid ones and invalid ones, each
signed for a test key exactly as a merchant's code would sign it (fluxa_client.signed_headers,
in milliseconds, so no two are alike). Each response must not be a server error, must have a
status the schema documents for that operation, and must match the schema. The run is bounded
in time (BUDGET_SECONDS in all) and reproducible (derandomized); it goes through the WSGI
application in this process, so no socket is opened.
"""

from __future__ import annotations

import io
import time

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils.encoding import escape_uri_path
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from fluxa_client import signed_headers
from testing.client import make_merchant

pytestmark = pytest.mark.django_db

BUDGET_SECONDS = 75
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 40}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
_SIGNED = ("HTTP_X_API_KEY", "HTTP_X_TIMESTAMP", "HTTP_X_SIGNATURE")


class SigningApp:
    """WSGI middleware: signs each request with the test key, on the exact bytes received."""

    def __init__(self, app, key_id: str, secret: str):
        self.app, self.key_id, self.secret = app, key_id, secret

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        query = environ.get("QUERY_STRING", "")
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        target = escape_uri_path(path) + (f"?{query}" if query else "")
        environ.pop("RAW_URI", None)
        environ.pop("REQUEST_URI", None)
        for name in _SIGNED:
            environ.pop(name, None)
        headers = signed_headers(key_id=self.key_id, secret=self.secret, method=environ["REQUEST_METHOD"],
                                 target=target, body=body)
        environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
        return self.app(environ, start_response)


@pytest.fixture
def signed_schema(db, settings):
    settings.FLUXA_API_RATE = None  # the run sends far more than a minute's budget
    settings.FLUXA_AUTH_FAILURE_RATE_PER_ADDRESS = None
    settings.FLUXA_AUTH_FAILURE_RATE_PER_KEY = None
    settings.ALLOWED_HOSTS = ["*"]
    keys = make_merchant()
    # Something to find: an order, an event, an endpoint.
    assert keys.test.post("/api/v1/charges", {"amount": "10", "currency": "USDT", "network": "tron"}).status_code == 201
    assert keys.test.post("/api/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/hooks"}).status_code == 201
    app = SigningApp(get_wsgi_application(), keys.test.key_id, keys.test.secret)
    # As Django's test client does: the requests run inside the test's transaction, so the
    # handler must not close the connection at the start or end of each one.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema?format=json", app)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_answers_inside_its_schema_and_never_5xx(signed_schema):
    operations = [result.ok() for result in signed_schema.get_all_operations()]
    assert len(operations) >= 20
    deadline = time.monotonic() + BUDGET_SECONDS
    share = BUDGET_SECONDS / (len(operations) * len(EXAMPLES))
    failures: list[str] = []
    calls = 0

    for operation in operations:
        for mode, examples in EXAMPLES.items():
            if time.monotonic() > deadline:
                break
            stop_at = min(deadline, time.monotonic() + share * 1.5)

            @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                                 phases=[Phase.explicit, Phase.generate], print_blob=False,
                                 suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                nonlocal calls
                if time.monotonic() > stop_at:
                    return
                calls += 1
                case.call_and_validate(checks=CHECKS)

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - collected and reported all together
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")

    print(f"property-based run: {calls} signed requests over {len(operations)} operations")
    assert not failures, f"{len(failures)} failing operation(s) after {calls} requests:\n\n" + "\n\n".join(failures)
    assert calls >= 200
