"""Issue 16, point 8: the admin login is throttled, cookies are Secure outside DEBUG, requests
refused before any view still answer in the envelope on /api/, and a database outage is a 503
with Retry-After."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def _login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "ops", "password": password})


def test_admin_login_is_refused_after_too_many_wrong_passwords(settings):
    settings.FLUXA_LOGIN_FAILURE_RATE = "5/h"
    get_user_model().objects.create_superuser("ops", "ops@example.com", "right-password-123")
    client = Client()

    assert _login(client, "right-password-123").status_code == 302  # works before the flood
    client = Client()
    for _ in range(5):
        assert _login(client, "wrong").status_code == 200
    refused = _login(client, "right-password-123")

    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    # Another user name from another address is not locked out by this flood.
    get_user_model().objects.create_superuser("ops2", "ops2@example.com", "right-password-456")
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert other.post("/admin/login/?next=/admin/", {"username": "ops2",
                                                    "password": "right-password-456"}).status_code == 302


def test_cookies_are_secure_unless_debug():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECURE_COOKIES", "FLUXA_ENV_FILE")}
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='fluxa_site.settings'; "
            "from django.conf import settings; "
            "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY)")
    production = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60)
    debug = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "DEBUG": "true"},
                           capture_output=True, text=True, timeout=60)

    assert production.stdout.split() == ["True", "True", "True"], production.stderr
    assert debug.stdout.split()[:2] == ["False", "False"], debug.stderr


def test_a_bad_host_header_on_the_api_gets_the_envelope():
    response = Client().get("/api/v1/account", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "bad_request"


def test_a_too_long_request_target_gets_the_envelope(api):
    response = api.get("/api/v1/orders", query="a=" + "x" * 5000)

    assert response.status_code == 414
    assert response.error_code == "uri_too_long"


def test_a_database_outage_is_503_with_retry_after(api, monkeypatch):
    import merchants.auth

    def down(key_id):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(merchants.auth, "api_key_lookup", down)

    response = api.get("/api/v1/account")

    assert response.status_code == 503
    assert response.error_code == "service_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
