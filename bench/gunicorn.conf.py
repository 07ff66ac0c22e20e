"""The one gunicorn configuration of the benchmark: fluxa's endpoints and the bare ones are
served by the same master and the same workers, so both sides get exactly this."""

import os

bind = os.environ.get("BENCH_BIND", "127.0.0.1:8000")
worker_class = os.environ.get("BENCH_WORKER_CLASS", "gthread")
workers = int(os.environ.get("BENCH_WORKERS", "2"))
threads = int(os.environ.get("BENCH_THREADS", "4"))
keepalive = 5
timeout = 60
backlog = 256
accesslog = None
errorlog = "-"
loglevel = "warning"
preload_app = False
wsgi_app = "fluxa_site.wsgi:application"
