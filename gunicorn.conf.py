"""gunicorn's configuration for fluxa's web processes; gunicorn reads ./gunicorn.conf.py by
itself, so from the root of the repo `.venv/bin/gunicorn` is the whole command (docs/deploy.md).

The application is loaded once in the master (`preload_app`) and every worker is forked from it
with everything imported (fluxa_site/wsgi.py): a new worker's first request costs what any
other does. Settings come from the environment:

| variable | default | meaning |
|---|---|---|
| `FLUXA_BIND` | `127.0.0.1:8000` | address:port to listen on (0.0.0.0:8000 behind a load balancer) |
| `WEB_CONCURRENCY` | 2 × cores + 1, at most 8 | worker processes |
| `FLUXA_WEB_THREADS` | 4 | threads per worker (gthread): requests wait on PostgreSQL and Redis |
| `FLUXA_WEB_TIMEOUT` | 30 | seconds a request may take before its worker is restarted |
"""

import multiprocessing
import os

wsgi_app = "fluxa_site.wsgi:application"
bind = os.environ.get("FLUXA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(8, 2 * multiprocessing.cpu_count() + 1)))
worker_class = "gthread"
threads = int(os.environ.get("FLUXA_WEB_THREADS", "4"))
preload_app = True
timeout = int(os.environ.get("FLUXA_WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after about this many requests (jittered so they do not all restart at
# once); a replacement is forked from the preloaded master, so it starts warm.
max_requests = 10000
max_requests_jitter = 1000
accesslog = None  # request lines may carry order ids in paths; the proxy in front logs requests
errorlog = "-"
loglevel = os.environ.get("FLUXA_WEB_LOG_LEVEL", "info")
# No control socket (~/.gunicorn/gunicorn.ctl, one per user: several masters on one machine
# would share it); signals control the master (docs/deploy.md).
control_socket_disable = True


def post_worker_init(worker):
    """Before a new worker takes requests, each of its request threads runs
    fluxa_site.wsgi.warm_up: it opens the thread's PostgreSQL connection (Django keeps one per
    thread, for DB_CONN_MAX_AGE) and the Redis pool, has PostgreSQL read the catalog of fluxa's
    tables, reads the channel catalogue, sends one GET /healthz through the application, then
    one test charge per chain family and one GET /api/v1/orders by a merchant made for it, in
    a transaction rolled back (`warm_charges`: no row, address claim or event stays, and no
    real merchant's key, rate limit or Idempotency-Key is used), so that no client pays for
    the first time of any of it. Each warm-up runs on its own thread of the worker's pool; a
    failure is logged and the worker serves anyway (its first request then connects as usual).
    A thread whose connection is older than DB_CONN_MAX_AGE when its first request comes
    connects again."""
    import threading
    from concurrent.futures import wait

    from fluxa_site.wsgi import warm_up

    pool = getattr(worker, "tpool", None)
    count = worker.cfg.threads if pool is not None else 1
    barrier = threading.Barrier(count, timeout=10)

    def warm() -> None:
        try:
            warm_up()
            if count > 1:
                barrier.wait()  # hold this thread until every thread has its own connection
        except Exception as exc:  # noqa: BLE001 (a warm-up never stops a worker)
            worker.log.warning("warm-up of a request thread failed: %s", exc)

    if pool is None:
        warm()
    else:
        wait([pool.submit(warm) for _ in range(count)], timeout=15)
