"""The web process starts warm (gunicorn.conf.py, fluxa_site/wsgi.py): loading the application
imports what requests need and connects to nothing, so gunicorn can load it once in its master
and fork the workers; each worker's warm-up writes nothing. (How much faster the first request
is, is measured by bench/coldstart.py, not asserted here.)"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys
import fluxa_site.wsgi
from django.db import connections
print(json.dumps({
    "modules": sorted(m for m in ("charges.api.views", "orders.api.views", "chains.derivation", "chains.uris",
                                  "eth_keys", "coincurve", "bitcoinlib.keys", "solders") if m in sys.modules),
    "db_connected": [alias for alias in connections if connections[alias].connection is not None],
}))
"""


def test_loading_the_application_imports_everything_and_connects_to_nothing():
    # The database and Redis named here do not exist: loading must not try to reach them.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", "CACHE_URL": "rediscache://127.0.0.1:9/0",
           "CELERY_BROKER_URL": "redis://127.0.0.1:9/0", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["modules"] == sorted(["charges.api.views", "orders.api.views", "chains.derivation", "chains.uris",
                                        "eth_keys", "coincurve", "bitcoinlib.keys", "solders"])
    assert result["db_connected"] == []


def test_the_gunicorn_config_preloads_the_application():
    from gunicorn.config import Config

    config = Config()
    namespace: dict = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    for name in ("wsgi_app", "preload_app", "worker_class", "post_worker_init"):
        config.set(name, namespace[name])
    assert config.preload_app is True
    assert config.wsgi_app == "fluxa_site.wsgi:application"
    assert config.worker_class_str == "gthread"
    assert callable(config.post_worker_init)


def _snapshot():
    from django.apps import apps

    from wallets.models import DepositAddress, DerivationCounter

    return {
        "rows": {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed},
        "addresses": sorted(DepositAddress.objects.values_list("network", "derivation_index", "state", "order_id")),
        "counters": sorted(DerivationCounter.objects.values_list("network", "mode", "next_index")),
    }


@pytest.mark.django_db(transaction=True)
def test_the_warm_up_connects_and_writes_nothing(merchant_keys):
    from django.db import connection

    from fluxa_site.wsgi import warm_up

    before = _snapshot()
    connection.close()
    assert warm_up() == {}  # no wallet root yet: no charge is tried, and no root is made
    assert connection.connection is not None
    assert _snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_the_warm_up_charges_and_lists_and_leaves_nothing_behind(merchant_keys, settings):
    """A charge per chain family and a list of orders run through the application, on a pool
    with free addresses (tron: the claim) and on empty pools (the others: derived under the
    counter), and nothing they wrote outlives the warm-up: no merchant, key, replay row,
    order, event, delivery, address claim or counter step; the real merchant's key is not
    used (its rate-limit count in the cache stays untouched)."""
    from django.core.cache import cache
    from django.db import connection

    from chains.networks import get_network
    from charges.models import Channel
    from fluxa_site.wsgi import warm_up
    from merchants.models import Merchant
    from wallets.services import deposit_address_pool_replenish, wallet_root_ensure

    settings.FLUXA_API_RATE = "1000/m"
    wallet_root_ensure()
    deposit_address_pool_replenish(network="tron", mode="test", size=3)
    real = merchant_keys.test
    assert real.get("/api/v1/orders").status_code == 200  # one counted hit on the real key
    redis = cache._cache.get_client()
    digest = hashlib.sha256(real.key_id.encode()).hexdigest()[:32]  # core.ratelimit's key names the key id so
    (real_counter,) = [key for key in redis.keys("*") if digest.encode() in key]
    counted = redis.get(real_counter)
    families = {get_network(c.network).family for c in Channel.objects.filter(enabled=True)}
    before = _snapshot()

    connection.close()
    answers = warm_up()

    assert answers.pop("GET /api/v1/orders") == 200
    assert len(answers) == len(families) >= 5 and set(answers.values()) == {201}, answers
    assert _snapshot() == before
    assert list(Merchant.objects.values_list("name", flat=True)) == [merchant_keys.merchant.name]
    assert redis.get(real_counter) == counted
