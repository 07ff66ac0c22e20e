"""Issue 16, points 3 and 7: nothing a client sends makes the API crash or answer 500. One
validation layer (api/parsers.py) bounds the body before anything reads it; path ids, query
parameters and amounts are checked where they are declared."""

from __future__ import annotations

import pytest

from api.parsers import MAX_DEPTH, nesting_depth

pytestmark = pytest.mark.django_db

CHARGE = {"amount": "10", "currency": "USDT", "network": "tron"}


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_nesting_is_counted_on_the_raw_bytes_and_strings_do_not_count():
    assert nesting_depth(b'{"a": [1, {"b": "[[[[{{{{\\"]]"}]}') == 3
    assert nesting_depth(_nested(100_000).encode()) == MAX_DEPTH + 1  # stops early


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 80_000])
def test_deeply_nested_metadata_is_refused_before_parsing(api, settings, levels):
    """80,000 levels segfaulted the worker (py_ecc raises the recursion limit to 100,000)."""
    import eth_account  # noqa: F401 - what the production process has imported

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
    body = ('{"amount": "10", "currency": "USDT", "network": "tron", "metadata": {"a": %s}}'
            % _nested(levels)).encode()

    response = api.post("/api/v1/charges", body)

    assert (response.status_code, response.error_code) == (400, "malformed_request")


def test_a_body_over_the_size_bound_is_refused(api):
    response = api.post("/api/v1/charges", {**CHARGE, "description": "x" * 70_000})

    assert (response.status_code, response.error_code) == (413, "request_too_large")


@pytest.mark.parametrize("text", ["\\u0000", "a\\u0000b", "\\ud800", "x\\udfffy"])
@pytest.mark.parametrize("where", ["value", "key", "description"])
def test_nul_and_lone_surrogates_are_refused(api, text, where):
    metadata = {"k": f'"{text}"'} if where == "value" else {f'"{text}"': '"v"'}
    if where == "description":
        body = '{"amount": "10", "currency": "USDT", "network": "tron", "description": "%s"}' % text
    else:
        (key, value), = metadata.items()
        key = key if where == "key" else '"k"'
        body = '{"amount": "10", "currency": "USDT", "network": "tron", "metadata": {%s: %s}}' % (key, value)

    response = api.post("/api/v1/charges", body.encode())

    assert (response.status_code, response.error_code) == (400, "malformed_request")
    assert api.get("/api/v1/events").status_code == 200


@pytest.mark.parametrize("body", [b'{"amount": NaN}', b'{"amount": Infinity}', b'\xff\xfe{}',
                                  b'{"expires_in_seconds": 1' + b"0" * 5000 + b"}"])
def test_json_that_is_not_plain_json_is_refused(api, body):
    response = api.post("/api/v1/charges", body)

    assert (response.status_code, response.error_code) == (400, "malformed_request")


@pytest.mark.parametrize("path", [
    "/api/v1/orders/%00", "/api/v1/orders/%00/refund", "/api/v1/orders/%00/simulate_payment",
    "/api/v1/webhook_endpoints/%00", "/api/v1/webhook_endpoints/%00/rotate_secret", "/api/v1/events/%00",
    "/api/v1/events/%00/redeliver", "/api/v1/payout_addresses/%00", "/api/v1/orders/%ED%A0%80",
    "/api/v1/orders/" + "a" * 300,
])
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_a_nul_or_junk_in_a_path_id_is_404(api, path, method):
    response = api.request(method, path, {} if method in ("POST", "PATCH") else None)

    assert response.status_code == 404, response.body
    assert response.error_code == "not_found"


@pytest.mark.parametrize("query", [
    "offset=10000000000000000000", "limit=10000000000000000000", "created_from=99999999999999",
    "created_from=%C2%B2", "created_to=%D9%A1%D9%A0", "created_from=9999-12-31T23:59:59-23:00",
    "created_from=0001-01-01T00:00:00%2B23:00", "merchant_order_id=%00", "customer=a%00b", "status=%00",
])
def test_query_parameters_out_of_range_are_400(api, query):
    response = api.get("/api/v1/orders", query=query)

    assert response.status_code == 400, response.body
    assert response.error_code == "parameter_invalid"


@pytest.mark.parametrize("query", ["offset=10000000000000000000", "limit=99999999999999999999", "type=%00"])
def test_event_query_parameters_out_of_range_are_400(api, query):
    assert api.get("/api/v1/events", query=query).status_code == 400


@pytest.mark.parametrize("amount", ["١٠", "１００", "1٠", "10.٥", "²"])
def test_amounts_in_non_ascii_digits_are_refused(api, amount):
    response = api.post("/api/v1/charges", {**CHARGE, "amount": amount})

    assert (response.status_code, response.error_code) == (400, "parameter_invalid")


@pytest.mark.parametrize("amount", ["9" * 16, "9" * 20, "1" + "0" * 15])
def test_an_amount_too_large_to_add_up_is_refused(api, amount):
    order_id = api.post("/api/v1/charges", CHARGE).body["order"]["id"]

    simulated = api.post(f"/api/v1/orders/{order_id}/simulate_payment", {"amount": amount})
    charge = api.post("/api/v1/charges", {**CHARGE, "amount": amount})

    assert (simulated.status_code, simulated.error_code) == (400, "parameter_invalid")
    assert (charge.status_code, charge.error_code) == (400, "parameter_invalid")


def test_the_largest_amounts_still_add_up_and_read_back(api):
    order_id = api.post("/api/v1/charges", CHARGE).body["order"]["id"]
    largest = "9" * 15 + "." + "9" * 6

    for _ in range(3):
        assert api.post(f"/api/v1/orders/{order_id}/simulate_payment", {"amount": largest}).status_code < 500

    assert api.get(f"/api/v1/orders/{order_id}").status_code == 200
    assert api.get("/api/v1/orders").status_code == 200
    assert api.get("/api/v1/events").status_code == 200
