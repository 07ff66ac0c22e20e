"""The WSGI application, loaded whole at start, not on each worker's first request.

gunicorn.conf.py (at the root of the repo) preloads this module in gunicorn's master
(`preload_app`), so every worker is forked with everything a request needs already imported:
the URLconf and through it every view, serializer and service, DRF, and the chain libraries
(eth-keys on coincurve, bitcoinlib, solders, xrpl-py) that deriving an address and building a
payment URI use. Without this, the first request of each worker imported about 800 modules and
took 1.5-2.5 s (docs/benchmarks.md, "First request of a fresh worker").

Nothing here opens a database, Redis or broker connection: each worker opens its own after the
fork, on first use.
"""

import gc
import io
import json
import os
import sys
import time

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")

application = get_wsgi_application()

# After django.setup() (get_wsgi_application ran it): the modules a charge needs, the whole
# URLconf with every view it includes, and the SQL machinery's per-model parts.
from django.apps import apps  # noqa: E402
from django.urls import get_resolver  # noqa: E402

import chains.addresses  # noqa: E402,F401
import chains.derivation  # noqa: E402,F401
import chains.uris  # noqa: E402,F401
from charges.services import catalogue  # noqa: E402
from core import fastsql  # noqa: E402
from merchants.auth import api_key_lookup  # noqa: E402

get_resolver().reverse_dict  # noqa: B018  (imports and resolves every included URLconf)
fastsql.prepare([model for model in apps.get_models() if model._meta.managed])
# What the master imported stays put: the collector no longer walks (and so writes to) these
# objects in the workers, which would copy their memory pages one by one after the fork.
gc.freeze()


def _environ(method: str, path: str, *, query: str = "", body: bytes = b"", headers: dict | None = None) -> dict:
    from django.conf import settings

    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h and h != "*"]
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": hosts[0] if hosts else "localhost", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    if body:
        environ.update({"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))})
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _get(path: str) -> None:
    """One GET through the application, in this thread, its answer dropped."""
    response = application(_environ("GET", path), lambda status, headers, exc_info=None: None)
    for _ in response:
        pass
    response.close()


class _RollBack(Exception):
    """Ends the warm-up's transaction: everything it wrote is rolled back."""


def _signed(method: str, path: str, *, key, body: bytes = b"", query: str = "") -> int:
    """One signed request through the middleware and the view, inside the caller's transaction;
    its status. `get_response`, not the WSGI call: the WSGI call sends request_started and
    request_finished, whose handler closes a connection that is inside a transaction (and so
    would end the warm-up's transaction halfway)."""
    from django.core.handlers.wsgi import WSGIRequest

    from merchants.auth import sign

    timestamp = str(int(time.time()))
    target = f"{path}?{query}" if query else path
    signature = sign(secret=key.secret, timestamp=timestamp, method=method, target=target, body=body)
    headers = {"X-Api-Key": key.api_key.key_id, "X-Timestamp": timestamp, "X-Signature": signature}
    response = application.get_response(WSGIRequest(_environ(method, path, query=query, body=body, headers=headers)))
    return response.status_code


def warm_charges() -> dict[str, int]:
    """The API's two hot paths once each through the application, in this thread, written
    nothing: a merchant made for the purpose (never a real one, so no real key's rate limit,
    replay store or Idempotency-Key is touched) creates one test charge per chain family of
    the enabled channels (priced in the channel's own asset: no rate source is asked) and lists
    its orders, all inside one transaction that is then rolled back. So the merchant, its keys,
    the replay row, the orders, payments, order and webhook events, the claimed (or derived)
    deposit address and the derivation counter are all as they were; on-commit work never
    runs. What stays: the ids the database sequences handed out, and a rate-limit count in the
    cache for the warm-up's own key (it expires with its window). Skipped (an empty result)
    without a wallet root or an enabled channel: the warm-up never creates a root.

    Returns what each request answered ("POST /api/v1/charges <channel>": 201, "GET
    /api/v1/orders": 200)."""
    from django.db import transaction

    from chains.networks import get_network
    from merchants.services import merchant_create
    from wallets.models import WalletRoot

    channels: dict[str, object] = {}
    for channel in catalogue.channels().values():
        if channel.enabled:
            channels.setdefault(get_network(channel.network).family, channel)
    if not channels or not WalletRoot.objects.exists():
        return {}
    answers: dict[str, int] = {}
    try:
        with transaction.atomic():
            _, keys = merchant_create(name="warm-up", email="warm-up@fluxa.invalid")
            for channel in channels.values():
                body = json.dumps({"amount": format(channel.min_amount.normalize(), "f"), "currency": channel.asset,
                                   "channel": channel.code}).encode()
                answers[f"POST /api/v1/charges {channel.code}"] = _signed("POST", "/api/v1/charges", key=keys["test"],
                                                                           body=body)
            answers["GET /api/v1/orders"] = _signed("GET", "/api/v1/orders", key=keys["test"])
            raise _RollBack
    except _RollBack:
        pass
    return answers


def warm_up() -> dict[str, int]:
    """Open this thread's PostgreSQL connection and the process's Redis pool, have the new
    PostgreSQL backend read the catalog entries of fluxa's tables and their indexes (which a
    backend otherwise does on the first statement touching each table), read what every charge
    reads first in a process (the channel catalogue, the key lookup's statement), send one
    GET /healthz through the application (middleware, URL resolving, the database and broker
    checks), then a charge and a list of orders in a transaction rolled back (`warm_charges`).
    gunicorn.conf.py runs it on each request thread of a new worker before the worker takes
    requests. It leaves no row behind; returns what warm_charges' requests answered."""
    from django.core.cache import cache
    from django.db import connection

    connection.ensure_connection()
    cache.get("fluxa:warm-up")
    tables = sorted({model._meta.db_table for model in apps.get_models() if model._meta.managed})
    if tables:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(f"SELECT 1 FROM {quote(table)} WHERE false" for table in tables))
    catalogue.channels()
    api_key_lookup("fk_test_warm_up")  # no such key: the statement runs and finds nothing
    _get("/healthz")
    return warm_charges()
