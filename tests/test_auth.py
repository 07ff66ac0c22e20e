"""The whole request-signing matrix (README, "Signing requests") through signed HTTP requests:
missing or tampered parts, the timestamp window, replays, key modes and throttling."""

import time

import pytest

from merchants.auth import purge_nonces
from merchants.models import RequestNonce
from merchants.services import api_key_revoke

pytestmark = pytest.mark.django_db

ACCOUNT = "/api/v1/account"
PAYOUTS = "/api/v1/payout_addresses"
# A test-mode (testnet) Ethereum address: EVM addresses are the same form on every network.
ETH_ADDRESS = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def test_valid_signed_get_is_accepted(api, merchant_keys):
    response = api.get(ACCOUNT)

    assert response.status_code == 200
    assert response.body["merchant_id"] == merchant_keys.merchant.id
    assert response.body["mode"] == "test"
    assert response.body["key_id"] == api.key_id
    assert "secret" not in str(response.body)


def test_missing_all_headers(api):
    response = api.client.get(ACCOUNT)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_credentials"
    assert response.json()["error"]["param"] is None


@pytest.mark.parametrize("dropped", ["X-Api-Key", "X-Timestamp", "X-Signature"])
def test_missing_one_header(api, dropped):
    response = api.get(ACCOUNT, headers={dropped: None})

    assert response.status_code == 401
    assert response.error_code == "missing_credentials"
    assert dropped in response.body["error"]["message"]


def test_unknown_key(api):
    response = api.get(ACCOUNT, headers={"X-Api-Key": "fk_test_doesnotexist000000000"})

    assert response.status_code == 401
    assert response.error_code == "invalid_api_key"


def test_revoked_key(api):
    from merchants.models import ApiKey

    api_key_revoke(api_key=ApiKey.objects.get(key_id=api.key_id))

    response = api.get(ACCOUNT)

    assert response.status_code == 401
    assert response.error_code == "api_key_revoked"


def test_signature_with_the_wrong_secret(api):
    response = api.get(ACCOUNT, secret="not-the-secret")

    assert response.status_code == 401
    assert response.error_code == "invalid_signature"


def test_signature_in_upper_case_hex_is_refused(api):
    # The contract says lowercase hex; anything else is a different string.
    from fluxa_client import sign

    ts = str(int(time.time()))
    good = sign(secret=api.secret, timestamp=ts, method="GET", target=ACCOUNT)
    response = api.get(ACCOUNT, timestamp=int(ts), headers={"X-Signature": good.upper()})

    assert response.error_code == "invalid_signature"


def test_tampered_body(api):
    signed_for = b'{"network":"ethereum","address":"%s"}' % ETH_ADDRESS.encode()
    sent = b'{"network":"ethereum","address":"0x0000000000000000000000000000000000000001"}'

    response = api.post(PAYOUTS, sent, sign_body=signed_for)

    assert response.status_code == 401
    assert response.error_code == "invalid_signature"


def test_tampered_query_string(api):
    response = api.get(PAYOUTS, query="limit=200", sign_target=f"{PAYOUTS}?limit=20")

    assert response.status_code == 401
    assert response.error_code == "invalid_signature"


def test_query_string_is_signed_raw_as_sent(api):
    # Order and encoding of the query are part of the signed target, exactly as sent.
    assert api.get(PAYOUTS, query="b=2&a=%20x").status_code == 200
    swapped = api.get(PAYOUTS, query="a=%20x&b=2", sign_target=f"{PAYOUTS}?b=2&a=%20x")
    assert swapped.error_code == "invalid_signature"


def test_signing_the_method(api):
    # A signature made for GET does not authorize a DELETE of the same path.
    from fluxa_client import signed_headers

    headers = signed_headers(key_id=api.key_id, secret=api.secret, method="GET", target=f"{PAYOUTS}/ethereum")
    response = api.client.delete(f"{PAYOUTS}/ethereum", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"


# A timestamp ahead of the clock comes closer to the window while the request travels: +305
# stays outside it even on a loaded machine that takes seconds to answer (+301 did not).
@pytest.mark.parametrize("offset", [-301, 305, -3600, 3600])
def test_timestamp_outside_the_window(api, offset):
    response = api.get(ACCOUNT, timestamp=int(time.time()) + offset)

    assert response.status_code == 401
    assert response.error_code == "timestamp_out_of_window"


@pytest.mark.parametrize("offset", [-295, 295])
def test_timestamp_inside_the_window(api, offset):
    assert api.get(ACCOUNT, timestamp=int(time.time()) + offset).status_code == 200


@pytest.mark.parametrize("value", ["soon", "1.5e9", "-1", "17000000000000000000000"])
def test_timestamp_not_whole_seconds(api, value):
    response = api.get(ACCOUNT, headers={"X-Timestamp": value})

    assert response.status_code == 401
    assert response.error_code == "timestamp_out_of_window"


def test_replayed_post_is_refused(api):
    ts = int(time.time())
    body = {"network": "ethereum", "address": ETH_ADDRESS}

    first = api.post(PAYOUTS, body, timestamp=ts)
    replay = api.post(PAYOUTS, body, timestamp=ts)

    assert first.status_code == 201
    assert replay.status_code == 401
    assert replay.error_code == "replayed_request"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(__import__("django.db").db.connection.vendor != "postgresql", reason="PostgreSQL's async commit")
def test_in_autocommit_the_nonce_commits_asynchronously_and_the_setting_does_not_leak(api):
    """Outside a test transaction, as in a real request: the nonce row is written in its own
    asynchronously committed statement; replays are still refused, the row is there for every
    other connection, and the session keeps synchronous_commit on for the request's writes."""
    from django.db import connection

    ts = int(time.time())
    body = {"network": "ethereum", "address": ETH_ADDRESS}
    assert not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = on")  # the test server runs with it off
    try:
        first = api.post(PAYOUTS, body, timestamp=ts)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            (setting,) = cursor.fetchone()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    replay = api.post(PAYOUTS, body, timestamp=ts)

    assert first.status_code == 201 and replay.error_code == "replayed_request"
    assert setting == "on"
    assert RequestNonce.objects.count() == 1


def test_replayed_delete_is_refused(api):
    api.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS})
    ts = int(time.time())

    first = api.delete(f"{PAYOUTS}/ethereum", timestamp=ts)
    replay = api.delete(f"{PAYOUTS}/ethereum", timestamp=ts)

    assert first.status_code == 204
    assert replay.error_code == "replayed_request"


def test_replayed_get_is_allowed(api):
    ts = int(time.time())
    assert api.get(ACCOUNT, timestamp=ts).status_code == 200
    assert api.get(ACCOUNT, timestamp=ts).status_code == 200


def test_a_refused_signature_does_not_burn_the_nonce(api):
    ts = int(time.time())
    body = {"network": "ethereum", "address": ETH_ADDRESS}

    bad = api.post(PAYOUTS, body, timestamp=ts, headers={"X-Signature": "0" * 64})
    good = api.post(PAYOUTS, body, timestamp=ts)

    assert bad.error_code == "invalid_signature"
    assert good.status_code == 201


def test_the_replay_store_is_the_database_shared_by_every_process(api):
    ts = int(time.time())
    api.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS}, timestamp=ts)

    assert RequestNonce.objects.count() == 1
    # A second web process has its own memory but the same table: the replay is still caught.
    from django.test import Client

    api.client = Client()
    assert api.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS}, timestamp=ts).error_code == (
        "replayed_request"
    )


def test_purge_keeps_nonces_inside_twice_the_window(api):
    from datetime import timedelta

    from django.utils import timezone

    now = int(time.time())
    api.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS}, timestamp=now)
    api.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS}, timestamp=now - 1)
    assert RequestNonce.objects.count() == 2
    RequestNonce.objects.filter(pk=RequestNonce.objects.first().pk).update(
        created_at=timezone.now() - timedelta(seconds=601)
    )

    assert purge_nonces() == 1
    assert RequestNonce.objects.count() == 1


def test_test_and_live_keys_are_separate(merchant_keys):
    test, live = merchant_keys.test, merchant_keys.live

    assert test.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS}).status_code == 201

    assert live.get(ACCOUNT).body["mode"] == "live"
    assert live.get(PAYOUTS).body["data"] == []
    assert [row["network"] for row in test.get(PAYOUTS).body["data"]] == ["ethereum"]
    assert live.delete(f"{PAYOUTS}/ethereum").status_code == 404
    assert test.get(PAYOUTS).body["data"] != []


def test_one_merchant_never_sees_another(merchant_keys, other_merchant):
    merchant_keys.test.post(PAYOUTS, {"network": "ethereum", "address": ETH_ADDRESS})

    assert other_merchant.test.get(PAYOUTS).body["data"] == []
    response = other_merchant.test.delete(f"{PAYOUTS}/ethereum")
    assert response.status_code == 404
    assert response.error_code == "not_found"
    assert len(merchant_keys.test.get(PAYOUTS).body["data"]) == 1


def test_throttling_per_key_answers_429_in_the_envelope(api, other_merchant, settings):
    settings.FLUXA_API_RATE = "3/min"

    statuses = [api.get(ACCOUNT).status_code for _ in range(4)]
    throttled = api.get(ACCOUNT)

    assert statuses == [200, 200, 200, 429]
    assert throttled.error_code == "rate_limited"
    assert int(throttled.headers["Retry-After"]) >= 1
    # Another key has its own budget.
    assert other_merchant.test.get(ACCOUNT).status_code == 200
