"""Issue 16, acceptance: `make run` (runserver, SQLite, local-memory cache) survives every input
of the issue and keeps serving. Everything is sent to 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fluxa_client import sign
from testing.httpserver import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _send(port, key_id, secret, method, target, body=b"", headers=None):
    ts = str(int(time.time() * 1000))
    signed = {"X-Api-Key": key_id, "X-Timestamp": ts, "Content-Type": "application/json",
              "X-Signature": sign(secret=secret, timestamp=ts, method=method, target=target, body=body)}
    signed.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, target, body=body, headers=signed)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_make_run_survives_the_hostile_inputs_and_keeps_serving(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "FLUXA_ENCRYPTION_KEYS", "DATABASE_URL", "CELERY_BROKER_URL",
                        "CACHE_URL", "FLUXA_DATA_DIR", "DJANGO_SETTINGS_MODULE"}}
    port = free_port()
    lines: list[str] = []
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py"), "--port", str(port),
                             "--data-dir", str(tmp_path / "data")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        key_id = secret = None
        while time.monotonic() < deadline and not (key_id and secret):
            for line in list(lines):  # the lines demo_bootstrap prints once: "  FLUXA_KEY_ID=fk_test_..."
                name, _, value = line.strip().partition("=")
                if name == "FLUXA_KEY_ID" and value.startswith("fk_") and " " not in value:
                    key_id = key_id or value
                if name == "FLUXA_SECRET" and value and " " not in value:
                    secret = secret or value
            assert proc.poll() is None, "\n".join(lines[-40:])
            time.sleep(0.2)
        assert key_id and secret, "\n".join(lines[-40:])
        ready = []
        while time.monotonic() < deadline:
            try:
                ready.append(_send(port, key_id, secret, "GET", "/api/v1/account"))
                if ready[-1][0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert ready and ready[-1][0] == 200, ready[-3:]

        charge = b'{"amount": "10", "currency": "USDT", "network": "tron", "metadata": {"a": %s}}'
        hostile = [
            ("POST", "/api/v1/charges", charge % (b"[" * 100_000 + b"]" * 100_000)),  # 200 KB: 413
            ("POST", "/api/v1/charges", charge % (b"[" * 30_000 + b"]" * 30_000)),    # 60 KB: 400
            ("POST", "/api/v1/charges", charge % b'"\\ud800"'),
            ("POST", "/api/v1/charges", charge % b'"\\u0000"'),
            ("POST", "/api/v1/charges", b'{"amount": "\xd9\xa1\xd9\xa0", "currency": "USDT", "network": "tron"}'),
            ("GET", "/api/v1/orders/%00", b""),
            ("GET", "/api/v1/orders?offset=10000000000000000000", b""),
            ("GET", "/api/v1/orders?created_from=99999999999999", b""),
            ("GET", "/api/v1/orders?created_from=%C2%B2", b""),
            ("POST", "/api/v1/webhook_endpoints", b'{"url": "http://127.0.0.1:9\\\\@8.8.8.8/"}'),
        ]
        statuses = [_send(port, key_id, secret, method, target, body)[0] for method, target, body in hostile]
        bad_timestamp = _send(port, key_id, secret, "GET", "/api/v1/account", headers={"X-Timestamp": "²"})

        assert proc.poll() is None, "\n".join(lines[-40:])
        assert all(400 <= s < 500 for s in statuses), statuses
        assert bad_timestamp[0] == 401, bad_timestamp
        status, body = _send(port, key_id, secret, "GET", "/api/v1/events")
        assert status == 200, body
        order = json.loads(_send(port, key_id, secret, "POST", "/api/v1/charges",
                                 b'{"amount": "10", "currency": "USDT", "network": "tron"}')[1])
        assert order["order"]["id"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
