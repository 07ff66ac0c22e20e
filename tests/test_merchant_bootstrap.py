"""The createmerchant and rollkey commands (README, "Merchants and keys"), and where secrets
may (not) appear."""

import io
import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from merchants.models import ApiKey, Merchant, PayoutAddress
from testing.admin import admin_change_url
from testing.client import SignedClient

pytestmark = pytest.mark.django_db

# m/84'/2'/0'/0/0 of the BIP39 test mnemonic "abandon ... about" (Litecoin BIP84).
LTC_PAYOUT = "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"


def _createmerchant(*args: str) -> dict:
    out = io.StringIO()
    call_command("createmerchant", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, "stdout is exactly one JSON object"
    return json.loads(lines[0])


def test_createmerchant_prints_the_contract_json_and_the_keys_work():
    result = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")

    assert set(result) >= {"merchant_id", "test", "live"}  # CONTRACT.md; the portal adds "owner"
    assert result["test"]["key_id"].startswith("fk_test_")
    assert result["live"]["key_id"].startswith("fk_live_")
    assert result["test"]["secret"] != result["live"]["secret"]
    merchant = Merchant.objects.get(pk=result["merchant_id"])
    assert merchant.name == "Coffee Co"

    for mode in ("test", "live"):
        client = SignedClient(key_id=result[mode]["key_id"], secret=result[mode]["secret"],
                              merchant_id=merchant.id, mode=mode)
        response = client.get("/api/v1/account")
        assert response.status_code == 200
        assert response.body["mode"] == mode


def test_createmerchant_stores_secrets_only_encrypted():
    result = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM merchants_apikey")
        dump = repr(cursor.fetchall())
    for mode in ("test", "live"):
        assert result[mode]["secret"] not in dump
        key = ApiKey.objects.get(key_id=result[mode]["key_id"])
        assert key.reveal_secret() == result[mode]["secret"]
        assert result[mode]["secret"] not in repr(key) and result[mode]["secret"] not in str(key)


def test_createmerchant_with_payout_addresses():
    result = _createmerchant(
        "--name", "Coffee Co", "--email", "coffee@example.com",
        "--payout", "ethereum=0x9858effd232b4033e47d90003d41ec34ecaeda94",
        "--payout", "LITECOIN=" + LTC_PAYOUT,
    )

    payouts = {p.network: p.address for p in PayoutAddress.objects.filter(merchant_id=result["merchant_id"])}
    # Stored normalized: EIP-55 checksummed, network labels lowercase.
    assert payouts == {"ethereum": "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", "litecoin": LTC_PAYOUT}
    assert set(PayoutAddress.objects.values_list("mode", flat=True)) == {"live"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--email", "not-an-email"], "--email"),
        (["--email", "ok@example.com", "--payout", "ethereum"], "NETWORK=ADDRESS"),
        (["--email", "ok@example.com", "--payout", "ethereum=0x1234"], "(?i)ethereum address"),
        (["--email", "ok@example.com", "--payout", "dogecoin=Dabc"], "dogecoin"),
    ],
)
def test_createmerchant_refuses_bad_input_and_writes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        _createmerchant("--name", "Coffee Co", *args)

    assert Merchant.objects.count() == 0
    assert ApiKey.objects.count() == 0


def test_rollkey_revokes_and_replaces_the_key():
    first = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")
    out = io.StringIO()
    call_command("rollkey", first["merchant_id"], "--mode", "test", stdout=out)
    rolled = json.loads(out.getvalue())

    old = SignedClient(key_id=first["test"]["key_id"], secret=first["test"]["secret"],
                       merchant_id=first["merchant_id"], mode="test")
    new = SignedClient(key_id=rolled["test"]["key_id"], secret=rolled["test"]["secret"],
                       merchant_id=first["merchant_id"], mode="test")
    assert old.get("/api/v1/account").error_code == "api_key_revoked"
    assert new.get("/api/v1/account").status_code == 200


def test_no_secret_in_logs(caplog):
    with caplog.at_level(logging.DEBUG):
        result = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")
        client = SignedClient(key_id=result["test"]["key_id"], secret=result["test"]["secret"],
                              merchant_id=result["merchant_id"], mode="test")
        client.get("/api/v1/account")
        client.get("/api/v1/account", secret="wrong")
        client.post("/api/v1/payout_addresses", {"network": "ethereum", "address": "0x1"})

    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for mode in ("test", "live"):
        assert result[mode]["secret"] not in logged


def test_admin_never_shows_a_secret(admin_client):
    result = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")
    merchant = Merchant.objects.get(pk=result["merchant_id"])
    key = ApiKey.objects.get(key_id=result["test"]["key_id"])

    pages = {
        "/admin/merchants/merchant/": merchant.name,
        admin_change_url(Merchant, merchant.pk): key.key_id,
        "/admin/merchants/apikey/": key.key_id,
        admin_change_url(ApiKey, key.pk): key.key_id,
    }

    for url, shown in pages.items():
        page = admin_client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert shown in html  # the page really shows the merchant and its keys...
        for mode in ("test", "live"):
            assert result[mode]["secret"] not in html  # ...but never its secret
        assert key.secret_encrypted not in html
        assert "secret_encrypted" not in html
    assert admin_client.get("/admin/merchants/apikey/add/").status_code == 403


def test_admin_revoke_action(admin_client):
    result = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")
    key = ApiKey.objects.get(key_id=result["test"]["key_id"])

    admin_client.post("/admin/merchants/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.is_revoked


def test_rotate_encryption_moves_every_secret_to_the_new_key(settings):
    from cryptography.fernet import Fernet

    result = _createmerchant("--name", "Coffee Co", "--email", "coffee@example.com")
    old_key = settings.FLUXA_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FLUXA_ENCRYPTION_KEYS = [new_key, old_key]

    out = io.StringIO()
    call_command("rotate_encryption", stdout=out)
    settings.FLUXA_ENCRYPTION_KEYS = [new_key]  # the old key is gone

    assert out.getvalue().startswith("re-encrypted 2 rows")
    client = SignedClient(key_id=result["test"]["key_id"], secret=result["test"]["secret"],
                          merchant_id=result["merchant_id"], mode="test")
    assert client.get("/api/v1/account").status_code == 200
