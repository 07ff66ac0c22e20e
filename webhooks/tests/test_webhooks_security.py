"""Issue 16, points 1, 2, 4 and 5: the webhook transport's SSRF policy, a receiver's reply that
cannot be stored, and one deadline per attempt. Servers listen on 127.0.0.1 only; public-looking
host names are answered by a stub resolver and connections to anything else are intercepted,
so no test sends a packet beyond this machine."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.util.connection

from webhooks import transport
from webhooks.models import Delivery
from webhooks.services import claim_seconds, delivery_attempt

pytestmark = pytest.mark.django_db


def _server(handler_body):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            handler_body(self)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def no_dns(monkeypatch):
    """Name resolution answers from this table only; any other name fails."""
    table: dict[str, list[str]] = {}
    calls: list[str] = []

    def fake(host, port):
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    monkeypatch.setattr(transport, "resolve", fake)
    real = socket.getaddrinfo

    def numeric_only(host, port, family=0, type=0, proto=0, flags=0):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pytest.fail(f"real DNS lookup of {host!r}")
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    return table, calls


def _create(client, url):
    return client.post("/api/v1/webhook_endpoints", {"url": url})


# --- point 1: live-mode bypasses ---------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9\\@8.8.8.8/",          # urlsplit reads 8.8.8.8, urllib3 connects to 127.0.0.1
    "http://8.8.8.8@127.0.0.1:9/",
    "http://100.64.0.1/",                      # shared address space (carrier-grade NAT)
    "http://100.100.100.200/latest/meta-data/",
    "http://[2002:7f00:1::]/",                 # 6to4 of 127.0.0.1
    "http://[2002:a00:1::]/",                  # 6to4 of 10.0.0.1
    "http://[64:ff9b::7f00:1]/",               # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",            # NAT64 of 169.254.169.254
    "http://[::ffff:127.0.0.1]/",
    "http://[::7f00:1]/",                      # IPv4-compatible
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://198.18.0.1/",
    "http://metadata.test/",                   # resolves to a private address
    "http://mixed.test/",                      # one of its addresses is private
])
def test_live_endpoints_on_non_global_targets_are_refused(live_api, settings, no_dns, url):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False
    table, _ = no_dns
    table.update({"metadata.test": ["169.254.169.254"], "mixed.test": ["93.184.215.14", "10.0.0.5"]})

    response = _create(live_api, url)

    assert (response.status_code, response.error_code) == (400, "url_not_allowed"), response.body


def test_a_public_host_is_resolved_once_and_the_connection_pinned_to_that_address(settings, no_dns, monkeypatch):
    """DNS rebinding: the name is resolved for the check, and the socket goes to the address
    that was checked, never to a second answer."""
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False
    table, calls = no_dns
    table["hooks.example"] = ["93.184.215.14"]
    connected = []

    def intercept(address, *args, **kwargs):
        connected.append(address)
        table["hooks.example"] = ["127.0.0.1"]  # the rebinding answer, too late
        raise ConnectionRefusedError("intercepted by the test")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", intercept)
    monkeypatch.setattr(urllib3.connection.connection, "create_connection", intercept)

    outcome = transport.post(url="http://hooks.example:8080/in", mode="live", event_id="evt_1", body=b"{}",
                             secrets=["whsec_x"], timestamp=int(time.time()))

    assert connected == [("93.184.215.14", 8080)]
    assert calls == ["hooks.example"]
    assert outcome.status is None


def test_the_host_header_and_tls_name_stay_the_urls_host(settings, no_dns):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = True
    table, _ = no_dns
    seen = {}

    def reply(handler):
        seen["host"] = handler.headers["Host"]
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    server = _server(reply)
    port = server.server_address[1]
    table["receiver.test"] = ["127.0.0.1"]
    try:
        outcome = transport.post(url=f"http://receiver.test:{port}/in", mode="live", event_id="evt_1", body=b"{}",
                                 secrets=["whsec_x"], timestamp=int(time.time()))
    finally:
        server.shutdown()
        server.server_close()
    assert (outcome.status, outcome.excerpt) == (200, "ok")
    assert seen["host"] == f"receiver.test:{port}"


def test_an_internationalized_host_is_checked_in_its_ascii_form(settings, no_dns):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False
    table, calls = no_dns
    table["xn--bcher-kva.example"] = ["10.0.0.7"]

    with pytest.raises(transport.UnsafeUrl, match="non-public"):
        transport.check_url("https://bücher.example/hooks")
    assert calls == ["xn--bcher-kva.example"]


# --- point 2: test mode is checked too ----------------------------------------------------------


def test_test_mode_endpoints_on_loopback_are_refused(api, settings):
    settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False

    response = _create(api, "http://127.0.0.1:8080/hooks")

    assert (response.status_code, response.error_code) == (400, "url_not_allowed")


def test_test_mode_deliveries_to_loopback_are_refused(api, settings):
    hits = []

    def reply(handler):
        hits.append(1)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = _server(reply)
    try:
        settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = True
        assert _create(api, f"http://127.0.0.1:{server.server_address[1]}/hooks").status_code == 201
        assert api.post("/api/v1/charges", {"amount": "5", "currency": "USDT", "network": "tron"}).status_code == 201
        settings.FLUXA_WEBHOOK_ALLOW_PRIVATE = False

        attempt = delivery_attempt(delivery_id=Delivery.objects.get().pk)
    finally:
        server.shutdown()
        server.server_close()
    assert attempt.error.startswith("refused:") and hits == []


# --- point 4: a reply that cannot be stored ------------------------------------------------------


def test_a_reply_with_a_nul_byte_is_recorded_and_the_delivery_succeeds(api, settings):
    def reply(handler):
        body = b'{"ok": true}\x00\xed\xa0\x80 tail'
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server = _server(reply)
    try:
        assert _create(api, f"http://127.0.0.1:{server.server_address[1]}/hooks").status_code == 201
        assert api.post("/api/v1/charges", {"amount": "5", "currency": "USDT", "network": "tron"}).status_code == 201
        delivery = Delivery.objects.get()

        attempt = delivery_attempt(delivery_id=delivery.pk)
    finally:
        server.shutdown()
        server.server_close()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 1)
    assert "\x00" not in attempt.response_excerpt and attempt.response_excerpt.startswith('{"ok": true}')


# --- point 5: one deadline for the whole attempt ----------------------------------------------------


def test_a_receiver_trickling_its_reply_is_cut_off_at_the_deadline(settings):
    settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS = 0.6

    def reply(handler):
        try:
            handler.send_response(200)
            handler.send_header("Content-Length", "40")
            handler.end_headers()
            for _ in range(40):  # a byte every 0.1 s: no single read ever waits 0.6 s
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    server = _server(reply)
    started = time.monotonic()
    try:
        outcome = transport.post(url=f"http://127.0.0.1:{server.server_address[1]}/in", mode="test",
                                 event_id="evt_1", body=b"{}", secrets=["whsec_x"], timestamp=int(time.time()))
    finally:
        server.shutdown()
        server.server_close()
    elapsed = time.monotonic() - started

    assert elapsed < 2.0, elapsed
    assert outcome.status is None and outcome.error.startswith("timeout")


def test_a_claim_outlasts_the_longest_attempt(settings):
    settings.FLUXA_WEBHOOK_TIMEOUT_SECONDS = 120
    assert claim_seconds() > 120
