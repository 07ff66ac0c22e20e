"""One webhook POST: the URL safety check (SSRF) and the request itself. No database here."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

from core.modes import Mode

EXCERPT_LIMIT = 1000
USER_AGENT = "fluxa-webhooks/1"


class UnsafeUrl(ValueError):
    """A URL fluxa refuses to call (not http(s), or a private target where that is refused)."""


def _blocked(ip: ipaddress._BaseAddress) -> bool:
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified)


def check_url(url: str, *, mode: str, resolve: bool = True) -> None:
    """Refuse non-http(s) URLs always; in live mode refuse private, loopback and link-local
    targets unless settings.FLUXA_WEBHOOK_ALLOW_PRIVATE (development and tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Webhook URLs must be http:// or https:// with a host.")
    if mode != Mode.LIVE or settings.FLUXA_WEBHOOK_ALLOW_PRIVATE:
        return
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise UnsafeUrl(f"{host} is a loopback address.") from None
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise UnsafeUrl(f"{host} does not resolve ({exc.strerror}).") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for ip in addresses:
        if _blocked(ip):
            raise UnsafeUrl(f"{host} points to a private, loopback or link-local address ({ip}).")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass
class Outcome:
    status: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def receiver_fault(self) -> bool:
        """A 4xx other than 408/429: the receiver refused it (retried all the same)."""
        return self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)


def post(*, url: str, mode: str, event_id: str, body: bytes, secrets: list[str], timestamp: int) -> Outcome:
    """POST once: 10 s timeout, redirects not followed, any 2xx is success. Never raises."""
    ts = str(timestamp)
    signatures = [signature(secret, ts, body) for secret in secrets]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Fluxa-Event-Id": event_id,
        "X-Fluxa-Timestamp": ts,
        "X-Fluxa-Signature": signatures[0],
        # During a secret rotation both secrets sign: receivers still on the old secret find
        # its signature here.
        "X-Fluxa-Signatures": ",".join(signatures),
    }
    started = time.monotonic()
    try:
        check_url(url, mode=mode)
        response = requests.post(url, data=body, headers=headers, timeout=settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS,
                                 allow_redirects=False, stream=True)
        try:
            raw = response.raw.read(EXCERPT_LIMIT, decode_content=True) or b""
        finally:
            response.close()
        status = response.status_code
        error = ""
        if 300 <= status < 400:
            error = f"redirect to {response.headers.get('Location', '?')[:200]} not followed"
        return Outcome(status, raw.decode("utf-8", "replace")[:EXCERPT_LIMIT], error, _ms(started))
    except UnsafeUrl as exc:
        return Outcome(None, "", f"refused: {exc}", _ms(started))
    except requests.Timeout:
        return Outcome(None, "", f"timeout after {settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS} s", _ms(started))
    except requests.RequestException as exc:
        return Outcome(None, "", f"{exc.__class__.__name__}: {str(exc)[:300]}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
