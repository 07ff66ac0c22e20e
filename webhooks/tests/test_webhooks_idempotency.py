"""Issue 16, point 10: an Idempotency-Key replay of a response that showed a secret does not
show it again, and the stored copy never held it."""

from __future__ import annotations

import json

import pytest

from api.models import IdempotencyKey
from core import secretbox

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rotate", [False, True])
def test_an_idempotent_replay_does_not_return_the_secret_again(api, rotate):
    path, body = "/api/v1/webhook_endpoints", {"url": "http://127.0.0.1:9/hooks"}
    if rotate:
        endpoint_id = api.post(path, body).body["endpoint"]["id"]
        path, body = f"/api/v1/webhook_endpoints/{endpoint_id}/rotate_secret", {"overlap_seconds": 0}

    first = api.post(path, body, headers={"Idempotency-Key": "k-1"})
    replay = api.post(path, body, headers={"Idempotency-Key": "k-1"})

    assert first.body["secret"].startswith("whsec_")
    assert replay.status_code == first.status_code
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.body["secret"] is None
    assert replay.body["endpoint"] == first.body["endpoint"]
    stored = IdempotencyKey.objects.get(key="k-1")
    assert first.body["secret"] not in secretbox.decrypt(stored.response_encrypted)
    assert json.loads(secretbox.decrypt(stored.response_encrypted))["secret"] is None
