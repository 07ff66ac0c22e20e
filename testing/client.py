"""Test helpers shared by every test folder: a signed client that signs exactly like a
merchant's code does (fluxa_client.signed_headers) and sends through Django's test client."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from fluxa_client import signed_headers
from merchants.services import merchant_create


@dataclass
class ApiResponse:
    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error_code(self) -> str | None:
        return self.body["error"]["code"] if isinstance(self.body, dict) and "error" in self.body else None


@dataclass
class SignedClient:
    """Signs like a merchant's code does (fluxa_client.signed_headers) and sends through the
    Django test client. Keyword arguments let a test tamper with one part of a request."""

    key_id: str
    secret: str
    merchant_id: str
    mode: str
    client: Client = field(default_factory=Client)
    _last_timestamp: int = 0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: str = "",
        timestamp: int | None = None,
        sign_body: bytes | None = None,
        sign_target: str | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> ApiResponse:
        if timestamp is None and method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
            # Two identical unsafe requests with the same timestamp would be an exact replay,
            # which the API refuses by contract: each unsafe request of this client gets a
            # distinct timestamp (one second earlier than the last, within the window).
            now = int(time.time())
            last = self._last_timestamp or now + 1
            timestamp = last - 1 if last - 1 > now - 240 else now
            self._last_timestamp = timestamp
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        target = path + (f"?{query}" if query else "")
        signed = signed_headers(
            key_id=self.key_id,
            secret=secret or self.secret,
            method=method,
            target=sign_target if sign_target is not None else target,
            body=sign_body if sign_body is not None else raw,
            timestamp=timestamp,
        )
        all_headers = {**signed, **(headers or {})}
        response = self.client.generic(
            method, target, data=raw, content_type=content_type,
            headers={k: v for k, v in all_headers.items() if v is not None},
        )
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = response.content.decode(errors="replace")
        return ApiResponse(response.status_code, parsed, dict(response.headers))

    def get(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("DELETE", path, **kw)


@dataclass
class MerchantKeys:
    merchant: Any
    test: SignedClient
    live: SignedClient


def make_merchant(name: str = "Acme", email: str = "acme@example.com") -> MerchantKeys:

    merchant, keys = merchant_create(name=name, email=email)
    clients = {
        mode: SignedClient(key_id=issued.api_key.key_id, secret=issued.secret, merchant_id=merchant.id, mode=mode)
        for mode, issued in keys.items()
    }
    return MerchantKeys(merchant=merchant, test=clients["test"], live=clients["live"])


def run_concurrently(count: int, request) -> list:
    """Call `request(i)` from `count` threads released at the same moment (each thread has its
    own database connection, closed at the end); returns the results in completion order."""
    import threading

    from django.db import connection

    results: list = []
    barrier = threading.Barrier(count)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results.append(request(i))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def clients_like(client: SignedClient, count: int) -> list[SignedClient]:
    """`count` new clients with the same key, one per thread: each has its own Django test
    client and its own timestamps (from one base taken now), so no two threads sign alike."""
    base = int(time.time())
    return [SignedClient(key_id=client.key_id, secret=client.secret, merchant_id=client.merchant_id,
                         mode=client.mode, _last_timestamp=base - 2 * i) for i in range(count)]


# -- charges ---------------------------------------------------------------------------------

# What a test charges when it does not say: 49.90 USDT, routed on tron.
CHARGE_DEFAULTS = {"amount": "49.90", "currency": "USDT", "network": "tron"}


def post_charge(api: SignedClient, *, headers: dict[str, str] | None = None, **fields: Any) -> ApiResponse:
    """POST /api/v1/charges with `fields` over CHARGE_DEFAULTS, whatever the answer (for tests of
    refusals). A field passed as None is left out; with a `channel` and no `network`, no
    network is sent (the channel routes)."""
    defaults = {k: v for k, v in CHARGE_DEFAULTS.items() if k != "network" or "channel" not in fields}
    body = {k: v for k, v in {**defaults, **fields}.items() if v is not None}
    return api.post("/api/v1/charges", body, headers=headers)


def charge(api: SignedClient, **fields: Any) -> dict:
    """A new charge through the signed API (post_charge, which must answer 201): the response
    body, {"order", "payment", "instruction", "idempotent"}."""
    response = post_charge(api, **fields)
    assert response.status_code == 201, response.body
    return response.body


def charge_to_pay(api: SignedClient, **fields: Any) -> tuple[str, str]:
    """charge(), for a test that pays it on a chain: (the order id, the deposit address)."""
    body = charge(api, **fields)
    return body["order"]["id"], body["instruction"]["deposit_address"]


def simulate_payment(api: SignedClient, order_id: str, **fields: Any) -> ApiResponse:
    """POST /api/v1/orders/{id}/simulate_payment (test mode): `amount` pays part, none pays all."""
    return api.post(f"/api/v1/orders/{order_id}/simulate_payment", fields)


def order_state(order_id: str) -> tuple[str, str]:
    """(status, payment_exception) of an order, as the database has it now."""
    from orders.models import Order

    order = Order.objects.get(pk=order_id)
    return order.status, order.payment_exception
