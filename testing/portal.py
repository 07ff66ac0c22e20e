"""Helpers for the portal's tests: merchant users with a role, and signed-in Django clients."""

from __future__ import annotations

from django.test import Client

from merchants.services import merchant_user_create

PASSWORD = "correct horse battery staple 7"


def make_member(merchant, *, role: str = "owner", email: str | None = None, password: str = PASSWORD):
    email = email or f"{role}-{merchant.pk.lower()}@example.com"
    return merchant_user_create(merchant=merchant, email=email, role=role, password=password)


def signed_in(member, *, password: str = PASSWORD, enforce_csrf: bool = False) -> Client:
    """A Django client signed in through the real login form (POST /portal/login)."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.get("/portal/login")
    response = client.post("/portal/login", {"username": member.user.email, "password": password,
                                             "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 302, response.content[:500]
    return client
