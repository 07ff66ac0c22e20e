"""One webhook POST: the URL safety check (SSRF) and the request itself. No database here.

The URL is parsed by urllib3 (`parse_url`), the library that sends the request, so the check
and the connection can never disagree about the host. The host is resolved once; every
address it resolves to must be global (docs/security.md, "SSRF"), and the connection is made
to the checked address, so a DNS answer that changes in between (rebinding) is never used.
Redirects are never followed. The whole request, connect to last byte, has one deadline.
Connections are kept alive and reused per (host, checked address), so a batch of deliveries to
one receiver pays for one TCP (and TLS) handshake, not one per delivery.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, LocationParseError
from urllib3.util import parse_url

from core.text import storable

EXCERPT_LIMIT = 1000
USER_AGENT = "fluxa-webhooks/1"

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"),)
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class UnsafeUrl(ValueError):
    """A URL fluxa refuses to call (not http(s), ambiguous, or a non-global target)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`, the one checked) and what to ask for."""

    scheme: str
    host: str
    port: int
    request_uri: str
    address: str


def blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for every address that is not a global unicast one, including the IPv6 forms that
    embed an IPv4 address (mapped, 6to4, NAT64, IPv4-compatible, Teredo), judged by it."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return blocked(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return blocked(ip.sixtofour)
        if ip.teredo is not None or ip in _NAT64_LOCAL:
            return True
        if any(ip in net for net in _NAT64) or ip in _IPV4_COMPATIBLE:
            return blocked(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (tests replace this: no DNS in the suite)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def parse(url: str):
    """urllib3's reading of `url`, refusing anything two parsers could read differently."""
    if not isinstance(url, str) or any(ch in url for ch in "\\ ") or any(ord(ch) < 0x21 or ord(ch) == 0x7F
                                                                      for ch in url):
        raise UnsafeUrl("Webhook URLs may not contain spaces, backslashes or control characters.")
    try:
        parts = parse_url(url)
    except LocationParseError:
        raise UnsafeUrl("The webhook URL cannot be parsed.") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise UnsafeUrl("Webhook URLs must be http:// or https:// with a host.")
    if parts.auth is not None or "@" in (parts.netloc or ""):
        raise UnsafeUrl("Webhook URLs may not contain credentials (user@host).")
    try:
        other = urlsplit(url)
        host = other.hostname or ""
        if not host.isascii():  # an internationalized name: compare its ASCII (IDNA) form
            host = host.encode("idna").decode("ascii")
        same = host == parts.host.strip("[]").lower() and other.port == parts.port
    except (ValueError, UnicodeError):
        same = False
    if not same:
        raise UnsafeUrl("The webhook URL's host is ambiguous.")
    return parts


def check_url(url: str, *, mode: str | None = None, resolve_host: bool = True) -> Target | None:
    """The checked target of `url`, or UnsafeUrl. In every mode a host that is (or resolves
    to) anything but global addresses is refused, unless settings.FLUXA_WEBHOOK_ALLOW_PRIVATE
    (the operator's choice; development and tests). With `resolve_host` false (saving an
    endpoint while private targets are allowed) nothing is resolved and None is returned."""
    parts = parse(url)
    host = parts.host.strip("[]")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allow_private = settings.FLUXA_WEBHOOK_ALLOW_PRIVATE
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if not allow_private and (host == "localhost" or host.endswith(".localhost")):
            raise UnsafeUrl(f"{host} is a loopback address.") from None
        if not resolve_host:
            return None
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"{host} does not resolve ({getattr(exc, 'strerror', None) or exc}).") from None
        if not addresses:
            raise UnsafeUrl(f"{host} does not resolve.")
    if not allow_private:
        for address in addresses:
            if blocked(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeUrl(f"{host} points to a non-public address ({address}).")
    return Target(scheme=parts.scheme, host=host, port=port, request_uri=parts.request_uri,
                  address=addresses[0])


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


class _Watchdog:
    """One thread for every deadline of the process: a heap of (when, deadline), each expired
    in turn (a Timer thread per request would cost a thread start per delivery)."""

    def __init__(self):
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._cond = threading.Condition()
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, deadline: _Deadline) -> None:
        with self._cond:
            if self._thread is None or self._pid != os.getpid():  # none yet, or forked since
                self._heap, self._pid = [], os.getpid()
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            self._seq += 1
            heapq.heappush(self._heap, (deadline.due, self._seq, deadline))
            if self._heap[0][2] is deadline:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                deadline = heapq.heappop(self._heap)[2]
            deadline.expire()


_watchdog = _Watchdog()


class _Deadline:
    """One deadline for the whole request: when it passes, the sockets the request used are
    shut down, which ends any connect, write or read in progress (a receiver trickling bytes
    never resets it). A shut socket is never reused: the pool sees it dropped."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.due = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        _watchdog.add(self)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        with self._lock:
            self.done = True
            self._sockets.clear()


# The deadline of the request this thread is making: the pooled connections below register
# their socket with it, whether they open a new one or reuse a kept-alive one.
_current = threading.local()


def _watched(base):
    class Pinned(base):
        """A connection whose socket goes to the pool's checked address (`pinned_address`)
        and is watched by the current request's deadline."""

        pinned_address = ""

        def _new_conn(self):
            self._dns_host = self.pinned_address
            sock = super()._new_conn()
            deadline = getattr(_current, "deadline", None)
            if deadline is not None:
                deadline.watch(sock)
            return sock

        def request(self, *args, **kwargs):
            deadline = getattr(_current, "deadline", None)
            if deadline is not None and self.sock is not None:  # a kept-alive connection
                deadline.watch(self.sock)
            return super().request(*args, **kwargs)

    return Pinned


POOL_HOSTS = 256  # pools kept (least recently used dropped first)
POOL_CONNECTIONS = 32  # idle keep-alive connections kept per pool


class _Pools:
    """Keep-alive connection pools, one per (scheme, host, port, checked address): a
    connection is only ever reused for the address it was opened to, which the attempt
    checked again before asking for it. Thread-safe; reset in a forked child."""

    def __init__(self):
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self, target: Target, timeout: float):
        key = (target.scheme, target.host, target.port, target.address)
        with self._lock:
            if self._pid != os.getpid():
                self._pools, self._pid = OrderedDict(), os.getpid()
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            pool = _new_pool(target, timeout)
            self._pools[key] = pool
            while len(self._pools) > POOL_HOSTS:
                self._pools.popitem(last=False)[1].close()
            return pool

    def clear(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


_pools = _Pools()


def _new_pool(target: Target, timeout: float):
    """A urllib3 pool for `target.host` whose sockets go to `target.address`: Host header, TLS
    SNI and certificate check use the host name, the TCP connection the address checked."""
    common = dict(port=target.port, maxsize=POOL_CONNECTIONS, block=False, retries=False,
                  timeout=urllib3.Timeout(connect=timeout, read=timeout))
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.host, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                           **common)
        base = HTTPSConnection
    else:
        pool = urllib3.HTTPConnectionPool(target.host, **common)
        base = HTTPConnection
    pool.ConnectionCls = type("PinnedConnection", (_watched(base),), {"pinned_address": target.address})
    return pool


def close_pools() -> None:
    """Close every kept-alive connection (tests; a worker shutting down)."""
    _pools.clear()


def headers_for(*, event_id: str, body: bytes, secrets: list[str], timestamp: int) -> dict[str, str]:
    """The signed headers of one delivery (CONTRACT.md)."""
    ts = str(timestamp)
    signatures = [signature(secret, ts, body) for secret in secrets]
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Fluxa-Event-Id": event_id,
        "X-Fluxa-Timestamp": ts,
        "X-Fluxa-Signature": signatures[0],
        # During a secret rotation both secrets sign: receivers still on the old secret find
        # its signature here.
        "X-Fluxa-Signatures": ",".join(signatures),
    }


DRAIN_LIMIT = 64 * 1024  # past the excerpt, a reply this long is read to keep the connection


def post(*, url: str, mode: str, event_id: str, body: bytes, secrets: list[str], timestamp: int) -> Outcome:
    """POST once: the URL checked (and its host resolved) again, the connection pinned to the
    checked address (a kept-alive one to that address when there is one), one deadline of
    FLUXA_WEBHOOK_TIMEOUT_SECONDS for the whole request, redirects not followed, any 2xx is
    success. Never raises. Thread-safe: the batch path calls it from many threads."""
    headers = headers_for(event_id=event_id, body=body, secrets=secrets, timestamp=timestamp)
    timeout = settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    deadline = _Deadline(timeout)
    try:
        target = check_url(url, mode=mode)
        pool = _pools.get(target, timeout)
        _current.deadline = deadline
        deadline.start()
        response = pool.urlopen("POST", target.request_uri, body=body, headers=headers, redirect=False,
                                retries=False, preload_content=False, assert_same_host=False)
        keep = False
        try:
            raw = response.read(EXCERPT_LIMIT, decode_content=True) or b""
            status = response.status
            location = response.headers.get("Location", "?")
            remaining = response.length_remaining
            if remaining is not None and remaining <= DRAIN_LIMIT and not deadline.expired:
                response.drain_conn()
                keep = not deadline.expired
        finally:
            if not keep:  # an unknown or long rest, or the deadline hit: this connection is done
                conn = response.connection
                if conn is not None:
                    conn.close()
            response.release_conn()
        if deadline.expired:
            raise TimeoutError
        error = ""
        if 300 <= status < 400:
            error = f"redirect to {location[:200]} not followed"
        return Outcome(status, storable(raw.decode("utf-8", "replace"))[:EXCERPT_LIMIT], storable(error),
                       _ms(started))
    except UnsafeUrl as exc:
        return Outcome(None, "", storable(f"refused: {exc}"), _ms(started))
    except (HTTPError, OSError) as exc:
        if deadline.expired or isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)):
            return Outcome(None, "", f"timeout after {timeout:g} s", _ms(started))
        return Outcome(None, "", storable(f"{exc.__class__.__name__}: {str(exc)[:300]}"), _ms(started))
    finally:
        _current.deadline = None
        deadline.cancel()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
