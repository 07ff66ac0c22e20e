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
import os
import sys

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


def _get(path: str) -> None:
    """One GET through the application, in this thread, its answer dropped."""
    from django.conf import settings

    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h and h != "*"]
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": hosts[0] if hosts else "localhost", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    response = application(environ, lambda status, headers, exc_info=None: None)
    for _ in response:
        pass
    response.close()


def warm_up() -> None:
    """Open this thread's PostgreSQL connection and the process's Redis pool, have the new
    PostgreSQL backend read the catalog entries of fluxa's tables and their indexes (which a
    backend otherwise does on the first statement touching each table), read what every charge
    reads first in a process (the channel catalogue, the key lookup's statement), and send one
    GET /healthz through the application (middleware, URL resolving, the database and broker
    checks). gunicorn.conf.py runs it on each request thread of a new worker before the worker
    takes requests. It writes nothing."""
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
