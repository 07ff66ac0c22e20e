"""The web process starts warm (gunicorn.conf.py, fluxa_site/wsgi.py): loading the application
imports what requests need and connects to nothing, so gunicorn can load it once in its master
and fork the workers; each worker's warm-up writes nothing. (How much faster the first request
is, is measured by bench/coldstart.py, not asserted here.)"""

from __future__ import annotations

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


@pytest.mark.django_db(transaction=True)
def test_the_warm_up_connects_and_writes_nothing(merchant_keys):
    from django.apps import apps
    from django.db import connection

    from fluxa_site.wsgi import warm_up

    def counts():
        return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed}

    before = counts()
    connection.close()
    warm_up()
    assert connection.connection is not None
    assert counts() == before
