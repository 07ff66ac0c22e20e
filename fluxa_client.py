"""A small signed-request client for the fluxa API. Standard library only: copy it anywhere.

As a module:

    from fluxa_client import FluxaClient
    client = FluxaClient("http://127.0.0.1:8000", key_id="fk_test_...", secret="...")
    status, body = client.request("GET", "/api/v1/orders", params={"status": "paid"})

From the shell (credentials from FLUXA_BASE_URL, FLUXA_KEY_ID, FLUXA_SECRET):

    python -m fluxa_client GET /api/v1/account
    python -m fluxa_client POST /api/v1/charges '{"amount": "10", "currency": "USDT", "network": "tron"}'

Signing (CONTRACT.md): hex(HMAC-SHA256(secret, f"{ts}\\n{METHOD}\\n{path?query}\\n{hex(sha256(body))}")),
where ts is X-Timestamp: Unix time in milliseconds here (whole seconds are accepted too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping

__all__ = ["FluxaClient", "FluxaError", "sign", "signed_headers", "verify_webhook"]


def sign(*, secret: str, timestamp: str, method: str, target: str, body: bytes = b"") -> str:
    """The X-Signature value for one request."""
    message = f"{timestamp}\n{method.upper()}\n{target}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


_last_ms = 0
_ms_lock = threading.Lock()


def timestamp_ms() -> int:
    """Unix time in milliseconds, strictly increasing within this process: two identical
    requests are never signed alike (which the API would refuse as a replay)."""
    global _last_ms
    with _ms_lock:
        _last_ms = max(int(time.time() * 1000), _last_ms + 1)
        return _last_ms


def signed_headers(
    *, key_id: str, secret: str, method: str, target: str, body: bytes = b"", timestamp: int | None = None
) -> dict[str, str]:
    """X-Timestamp is Unix time in milliseconds (13 digits) unless `timestamp` is given (whole
    seconds, or milliseconds: the API takes both)."""
    ts = str(timestamp_ms() if timestamp is None else timestamp)
    return {
        "X-Api-Key": key_id,
        "X-Timestamp": ts,
        "X-Signature": sign(secret=secret, timestamp=ts, method=method, target=target, body=body),
    }


def verify_webhook(
    *, secret: str | list[str], timestamp: str, body: bytes, signature: str, tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """True when a webhook delivery is authentic and fresh.

    X-Fluxa-Signature = hex(HMAC-SHA256(endpoint_secret, timestamp + "." + raw_body)).
    Pass a list of secrets during a rotation's overlap. Dedupe deliveries on X-Fluxa-Event-Id.
    """
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or abs(
            (time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    message = timestamp.encode() + b"." + body
    secrets = [secret] if isinstance(secret, str) else list(secret)
    return any(
        hmac.compare_digest(hmac.new(s.encode(), message, hashlib.sha256).hexdigest(), signature)
        for s in secrets
    )


class FluxaError(Exception):
    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status} {error.get('code', '')}: {error.get('message', body)}")

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


class FluxaClient:
    def __init__(self, base_url: str, *, key_id: str, secret: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self._secret = secret
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<FluxaClient {self.base_url} {self.key_id}>"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one signed request; returns (status, parsed JSON or None). Never raises on HTTP
        errors: the caller reads the status (see `call` for the raising form)."""
        method = method.upper()
        target = path
        if params:
            target += "?" + urllib.parse.urlencode(params, doseq=True)
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        all_headers = {"Accept": "application/json"}
        if json_body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        all_headers.update(
            signed_headers(key_id=self.key_id, secret=self._secret, method=method, target=target, body=body)
        )
        req = urllib.request.Request(
            self.base_url + target, data=body if method not in ("GET", "HEAD") or body else None,
            method=method, headers=all_headers,
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, _parse(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _parse(err.read())

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = self.request(method, path, **kwargs)
        if status >= 400:
            raise FluxaError(status, body)
        return body


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m fluxa_client METHOD PATH [JSON]\n"
              "env: FLUXA_BASE_URL (default http://127.0.0.1:8000), FLUXA_KEY_ID, FLUXA_SECRET",
              file=sys.stderr)
        return 2
    try:
        key_id, secret = os.environ["FLUXA_KEY_ID"], os.environ["FLUXA_SECRET"]
    except KeyError as missing:
        print(f"set {missing.args[0]} in the environment", file=sys.stderr)
        return 2
    method, path = args[0], args[1]
    parsed = urllib.parse.urlsplit(path)
    params = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True) if parsed.query else None
    payload = json.loads(args[2]) if len(args) == 3 else None
    client = FluxaClient(os.environ.get("FLUXA_BASE_URL", "http://127.0.0.1:8000"), key_id=key_id, secret=secret)
    status, body = client.request(method, parsed.path, json_body=payload, params=params)
    print(json.dumps(body, indent=2) if not isinstance(body, str) else body)
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
