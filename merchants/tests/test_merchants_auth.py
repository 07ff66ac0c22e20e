"""merchants/auth.py on its own: what a request's signed target is."""

from merchants.api.authentication import request_target


def test_request_target_prefers_the_raw_uri_of_the_server(rf):
    request = rf.get("/api/v1/orders", {"status": "paid"})
    assert request_target(request) == "/api/v1/orders?status=paid"
    request.META["RAW_URI"] = "/api/v1/orders?status=paid&limit=20"
    assert request_target(request) == "/api/v1/orders?status=paid&limit=20"
