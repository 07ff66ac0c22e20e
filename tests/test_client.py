"""fluxa_client.py and the README's curl + openssl example, over real HTTP (live_server)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fluxa_client import FluxaClient, FluxaError, main, verify_webhook
from testing.client import make_merchant

ROOT = Path(__file__).resolve().parent.parent
ETH = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


@pytest.fixture
def keys(transactional_db):
    return make_merchant()


def test_client_module_signs_get_post_and_query(live_server, keys):
    client = FluxaClient(live_server.url, key_id=keys.test.key_id, secret=keys.test.secret)

    status, account = client.request("GET", "/api/v1/account")
    assert status == 200 and account["merchant_id"] == keys.merchant.id

    created = client.call("POST", "/api/v1/payout_addresses", json_body={"network": "ethereum", "address": ETH})
    assert created["address"] == ETH

    status, listed = client.request("GET", "/api/v1/payout_addresses", params={"b": "2", "a": "x y"})
    assert status == 200 and listed["data"][0]["network"] == "ethereum"

    with pytest.raises(FluxaError) as err:
        client.call("DELETE", "/api/v1/payout_addresses/solana")
    assert err.value.status == 404 and err.value.code == "not_found"


def test_client_command_line(live_server, keys, capsys, monkeypatch):
    monkeypatch.setenv("FLUXA_BASE_URL", live_server.url)
    monkeypatch.setenv("FLUXA_KEY_ID", keys.live.key_id)
    monkeypatch.setenv("FLUXA_SECRET", keys.live.secret)

    assert main(["GET", "/api/v1/account"]) == 0
    assert '"mode": "live"' in capsys.readouterr().out

    assert main(["POST", "/api/v1/payout_addresses", '{"network": "ethereum", "address": "0x12"}']) == 1
    assert '"invalid_address"' in capsys.readouterr().out


def test_client_runs_as_python_dash_m(live_server, keys):
    env = {**os.environ, "FLUXA_BASE_URL": live_server.url,
           "FLUXA_KEY_ID": keys.test.key_id, "FLUXA_SECRET": keys.test.secret}
    done = subprocess.run([sys.executable, "-m", "fluxa_client", "GET", "/api/v1/account?expand=none"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert keys.test.key_id in done.stdout


def test_readme_curl_openssl_example_is_accepted(live_server, keys):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```sh\n# signed-request example\n(.*?)```", readme, re.S).group(1)
    env = {**os.environ, "BASE": live_server.url, "KEY_ID": keys.test.key_id, "SECRET": keys.test.secret}

    done = subprocess.run(["bash", "-euo", "pipefail", "-c", snippet], env=env, capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert f'"key_id":"{keys.test.key_id}"' in done.stdout.replace(" ", "")
    assert f'"address":"{ETH}"' in done.stdout.replace(" ", "")
    assert "error" not in done.stdout


def test_verify_webhook_helper():
    body = b'{"id":"evt_1","type":"order.paid"}'
    import hashlib
    import hmac

    sig = hmac.new(b"whsec", b"1700000000." + body, hashlib.sha256).hexdigest()

    assert verify_webhook(secret="whsec", timestamp="1700000000", body=body, signature=sig, now=1700000010)
    assert verify_webhook(secret=["old", "whsec"], timestamp="1700000000", body=body, signature=sig,
                          now=1700000010)
    assert not verify_webhook(secret="whsec", timestamp="1700000000", body=body + b" ", signature=sig,
                              now=1700000010)
    assert not verify_webhook(secret="whsec", timestamp="1700000000", body=body, signature=sig,
                              now=1700000000 + 301)
